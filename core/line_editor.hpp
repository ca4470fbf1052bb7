// line_editor.hpp — the keys a chat needs, one byte at a time. Pure code: bytes in, what to
// do out; the terminal itself is core/terminal.hpp.
//
// Text, Enter, Backspace (one UTF-8 character), Ctrl-U (the line), Ctrl-W (a word) and
// Ctrl-D (end of input, on an empty line only, as a shell does). Escape sequences (arrows,
// function keys) are swallowed; other control characters are ignored.
#pragma once

#include <string>

namespace sockchat {

class LineEditor {
 public:
  enum class Key { none, changed, submit, eof };

  Key feed(char c);
  const std::string& line() const { return line_; }
  std::string take();  // the typed line, leaving the editor empty

 private:
  Key skip_escape(char c);

  std::string line_;
  int escape_ = 0;  // 0 none, 1 after ESC, 2 inside a sequence
};

}  // namespace sockchat
