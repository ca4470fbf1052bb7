// terminal_chat.hpp — the chat face of connect and serve-1to1, when stdout is a terminal:
// the peer's lines appear while you type, and your half-typed line stays intact below them.
//
// With stdin on the terminal too, it is put in raw mode (keys one by one, no echo:
// core/terminal.hpp) and keys go through a line editor (core/line_editor.hpp), so the
// program draws the input area itself: the prompt and the line being typed. When a peer's
// line arrives, every row of that area is erased (a long line wraps: core/screen.hpp), the
// peer's line printed, and the area drawn again below it. Control characters from the peer
// are made visible: an ESC from the network must not drive our terminal. The poll loop in
// chat_loop.cpp calls it. Read: termios(3), console_codes(4).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/line_editor.hpp"
#include "core/terminal.hpp"

namespace sockchat::cli {

class TerminalChat {
 public:
  // keys: stdin is a terminal too, so you type through the line editor. Without it (stdin
  // a pipe) the screen only shows the peer's lines.
  explicit TerminalChat(bool keys);
  bool keys() const { return keys_; }

  void start();  // the first prompt
  // Reads the keys stdin has; each line submitted with Enter goes to `send`. False at
  // end of input (Ctrl-D on an empty line).
  bool read_keys(const std::function<void(std::string)>& send);
  void show(std::string_view line);  // a line from the peer, above the input area
  // Our own message (an error on stderr), the input area drawn again below it.
  void interject(const std::function<void()>& print);
  void leave();  // erases the input area: no prompt left behind

 private:
  std::string erase_input() const;
  void redraw();

  bool keys_;
  std::optional<RawTerminal> terminal_;
  LineEditor editor_;
  std::string shown_;  // the input area on screen now (prompt and typed line), as printed
};

}  // namespace sockchat::cli
