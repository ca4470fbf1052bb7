// line_editor.cpp — the terminal line editor (core/line_editor.hpp): whatever is typed or
// pasted, escape sequences and control characters included.
//
// Input: the keystrokes, one byte each. Properties, checked after every key:
//   - the line never holds a control character but tab (no ESC, no DEL, no CR/LF);
//   - a key that is not swallowed does what it says: text appends itself, Backspace takes
//     one UTF-8 character (a valid line stays valid), Ctrl-W a word (what is left is empty
//     or ends with a space), Ctrl-U everything; Enter submits and take() empties the line;
//     Ctrl-D is end of input only on an empty line;
//   - a swallowed key (an escape sequence's, an ignored control) changes nothing.
#include <string>

#include "core/line_editor.hpp"
#include "core/text.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using sockchat::LineEditor;
using sockchat::fuzz::require;
using Key = LineEditor::Key;

bool has_control(const std::string& line) {
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void check_key(char c, Key key, const std::string& before, const std::string& after) {
  if (key == Key::none || key == Key::submit) {
    require(after == before, "a swallowed key or Enter changed the line", after);
  }
  require((key == Key::submit) == (key != Key::none && (c == '\r' || c == '\n')),
          "Enter and only Enter submits");
  require(key != Key::eof || (c == 0x04 && before.empty()), "end of input on a non-empty line");
  if (key != Key::changed) return;
  switch (c) {
    case 0x7f:
    case 0x08:
      require(before.starts_with(after), "Backspace did more than delete", after);
      if (sockchat::valid_utf8(before) && !before.empty()) {
        require(sockchat::valid_utf8(after) && code_points(after) + 1 == code_points(before),
                "Backspace did not take exactly one character", after);
      }
      break;
    case 0x17:
      require(before.starts_with(after) && (after.empty() || after.back() == ' '),
              "Ctrl-W did not take one word", after);
      break;
    case 0x15:
      require(after.empty(), "Ctrl-U left something", after);
      break;
    default:
      require(after == before + c, "a typed byte was not appended", after);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  LineEditor editor;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    const std::string before = editor.line();
    const Key key = editor.feed(c);
    check_key(c, key, before, editor.line());
    require(!has_control(editor.line()), "a control character in the line", editor.line());
    if (key == Key::submit) {
      const std::string typed = editor.take();
      require(typed == before && editor.line().empty(), "take() did not hand over the line");
    }
  }
  return 0;
}
