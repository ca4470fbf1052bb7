// terminal.hpp — the terminal a chat runs on: keys one by one instead of whole lines, and
// its width. Read: termios(3), ioctl_tty(2) (TIOCGWINSZ), isatty(3).
#pragma once

#include <termios.h>

#include <cstddef>

namespace sockchat {

// Turns off canonical mode and echo on `fd` for as long as it lives (a no-op when `fd` is
// no terminal). ISIG stays on, so Ctrl-C is still SIGINT; output processing stays on, so
// "\n" still moves to column 0.
class RawTerminal {
 public:
  explicit RawTerminal(int fd = 0);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// The width of the terminal on `fd` now, asked every time: a window resized since
// (SIGWINCH) is then seen without a signal handler. `fallback` when it does not say (a
// bare pty answers 0, a pipe answers nothing).
std::size_t terminal_width(int fd, std::size_t fallback = 80);

}  // namespace sockchat
