// test_terminal.cpp — core/terminal: the chat's raw mode and the terminal's width, on a
// pseudo-terminal made for the test (openpty(3)), and on a pipe, which is no terminal.
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/terminal.hpp"

using namespace sockchat;

namespace {

// A pseudo-terminal pair, closed at the end of the test.
struct Pty {
  int master = -1;
  int slave = -1;
  Pty() { REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0); }
  ~Pty() {
    ::close(master);
    ::close(slave);
  }
  tcflag_t lflag() const {
    termios t{};
    REQUIRE(::tcgetattr(slave, &t) == 0);
    return t.c_lflag;
  }
};

}  // namespace

TEST_CASE("RawTerminal turns off canonical mode and echo, and keeps Ctrl-C a signal",
          "[terminal]") {
  Pty pty;
  const tcflag_t before = pty.lflag();
  REQUIRE((before & ICANON) != 0);
  REQUIRE((before & ECHO) != 0);
  {
    RawTerminal raw(pty.slave);
    CHECK(raw.active());
    const tcflag_t now = pty.lflag();
    CHECK((now & ICANON) == 0);
    CHECK((now & ECHO) == 0);
    CHECK((now & ISIG) != 0);  // Ctrl-C is still SIGINT, for core/signals to handle
  }
  CHECK(pty.lflag() == before);  // the terminal as it was, once RawTerminal ends
}

TEST_CASE("RawTerminal hands a key over as soon as it is typed", "[terminal]") {
  Pty pty;
  RawTerminal raw(pty.slave);
  REQUIRE(::write(pty.master, "a", 1) == 1);  // no Enter
  char key = 0;
  CHECK(::read(pty.slave, &key, 1) == 1);
  CHECK(key == 'a');
}

TEST_CASE("RawTerminal on a pipe does nothing", "[terminal]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    RawTerminal raw(fds[0]);
    CHECK_FALSE(raw.active());
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("terminal_width asks the terminal, with a fallback", "[terminal]") {
  Pty pty;
  winsize size{};
  size.ws_row = 24;
  size.ws_col = 132;
  REQUIRE(::ioctl(pty.slave, TIOCSWINSZ, &size) == 0);
  CHECK(terminal_width(pty.slave) == 132);
  size.ws_col = 0;  // a bare pty says 0 columns
  REQUIRE(::ioctl(pty.slave, TIOCSWINSZ, &size) == 0);
  CHECK(terminal_width(pty.slave, 80) == 80);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  CHECK(terminal_width(fds[1], 77) == 77);  // a pipe says nothing
  ::close(fds[0]);
  ::close(fds[1]);
}
