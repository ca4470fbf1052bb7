// line_editor.cpp — see line_editor.hpp.
#include "core/line_editor.hpp"

#include <utility>

namespace sockchat {

namespace {

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

LineEditor::Key LineEditor::feed(char c) {
  if (escape_ != 0) return skip_escape(c);
  switch (c) {
    case '\r':
    case '\n':
      return Key::submit;
    case 0x7f:  // Backspace (DEL) and Ctrl-H remove one UTF-8 character
    case 0x08:
      while (!line_.empty() && is_continuation_byte(line_.back())) line_.pop_back();
      if (!line_.empty()) line_.pop_back();
      return Key::changed;
    case 0x15:  // Ctrl-U: the whole line
      line_.clear();
      return Key::changed;
    case 0x17:  // Ctrl-W: the last word
      while (!line_.empty() && line_.back() == ' ') line_.pop_back();
      while (!line_.empty() && line_.back() != ' ') line_.pop_back();
      return Key::changed;
    case 0x04:  // Ctrl-D ends the input only on an empty line, as a shell does
      return line_.empty() ? Key::eof : Key::none;
    case 0x1b:
      escape_ = 1;
      return Key::none;
    default:
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return Key::none;
      line_ += c;
      return Key::changed;
  }
}

std::string LineEditor::take() {
  return std::exchange(line_, {});
}

// ESC [ params final, or ESC O x, or ESC x.
LineEditor::Key LineEditor::skip_escape(char c) {
  if (escape_ == 1 && (c == '[' || c == 'O')) {
    escape_ = 2;
  } else if (escape_ == 1 || (c >= 0x40 && c <= 0x7e)) {
    escape_ = 0;
  }
  return Key::none;
}

}  // namespace sockchat
