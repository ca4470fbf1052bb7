// test_signals.cpp — core/signals: the rules (first signal asks to stop, a later one exits
// at once with status 0, before arm() any signal exits with 0) and both ways to wait (poll()
// with ppoll's signal mask, fd() with the self-pipe). The rules that end the process are
// checked in a forked child.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/signals.hpp"
#include "core/trace.hpp"

using namespace sockchat;

namespace {

// Runs `body` in a child; its exit status (or 128 + the signal that killed it).
template <typename Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(42);  // body returned: the signal did not end the process
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// The lowest free descriptor number now: what the next socket() would get.
int next_descriptor() {
  const int fd = ::fcntl(0, F_DUPFD, 0);
  ::close(fd);
  return fd;
}

bool stops_blocked() {
  sigset_t now;
  ::sigprocmask(SIG_SETMASK, nullptr, &now);
  return sigismember(&now, SIGINT) == 1 || sigismember(&now, SIGTERM) == 1;
}

Deadline after_ms(int ms) {
  return Deadline(Timeout(std::chrono::milliseconds(ms)));
}

// The trace lines emitted while `body` runs.
template <typename Body>
std::vector<std::string> traced(Body body) {
  std::vector<std::string> lines;
  trace::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  trace::enable(true);
  body();
  trace::enable(false);
  trace::set_sink({});
  return lines;
}

}  // namespace

TEST_CASE("poll() returns ready descriptors, 0 at the deadline, -1 after a signal", "[signals]") {
  StopSignals signals;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pollfd p{fds[0], POLLIN, 0};
  CHECK(signals.poll(&p, 1, after_ms(10)) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  CHECK(signals.poll(&p, 1, Deadline(Timeout())) == 1);
  CHECK((p.revents & POLLIN) != 0);
  ::raise(SIGINT);
  CHECK(signals.requested());
  CHECK(signals.poll(&p, 1, Deadline(Timeout())) == -1);
  CHECK(signals.sleep(5));  // returns at once: a stop was requested
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("poll() takes no descriptor: the next socket's number does not move", "[signals]") {
  const int before = next_descriptor();
  StopSignals signals;
  CHECK(signals.poll(nullptr, 0, after_ms(1)) == 0);
  CHECK(signals.sleep(0.001) == false);
  CHECK(next_descriptor() == before);
  CHECK(traced([&] { signals.poll(nullptr, 0, after_ms(1)); }).empty());
}

TEST_CASE("poll() lets in a signal that waited, blocked, before it", "[signals]") {
  // The race a flag check followed by poll() would lose: the signal comes after the check.
  // Blocked, it stays pending; ppoll() unblocks it as it starts to wait, and returns.
  StopSignals signals;
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  REQUIRE(::sigprocmask(SIG_BLOCK, &stops, &before) == 0);
  ::raise(SIGTERM);
  CHECK_FALSE(signals.requested());  // pending, not delivered
  CHECK(signals.poll(nullptr, 0, Deadline(Timeout(std::chrono::seconds(10)))) == -1);
  CHECK(signals.requested());
  ::sigprocmask(SIG_SETMASK, &before, nullptr);
}

TEST_CASE("poll() leaves the signal mask as it found it", "[signals]") {
  StopSignals signals;
  REQUIRE_FALSE(stops_blocked());
  CHECK(signals.poll(nullptr, 0, after_ms(1)) == 0);
  CHECK_FALSE(stops_blocked());
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[1]);
  pollfd bad{fds[0], POLLIN, 0};
  CHECK(signals.poll(&bad, 1, after_ms(1)) == 1);  // POLLHUP: ready, not an error
  ::close(fds[0]);
  CHECK_FALSE(stops_blocked());
}

TEST_CASE("a signal sent while poll() waits ends the wait", "[signals]") {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    StopSignals signals;
    REQUIRE(::write(ready[1], "r", 1) == 1);
    const int n = signals.poll(nullptr, 0, Deadline(Timeout(std::chrono::seconds(10))));
    ::_exit(n == -1 ? 5 : 6);
  }
  char byte;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("fd(): the first call makes the self-pipe, traced", "[signals]") {
  const int before = next_descriptor();
  StopSignals signals;
  CHECK(next_descriptor() == before);  // no pipe yet
  const auto lines = traced([&] { CHECK(signals.fd() == before); });
  REQUIRE(lines.size() == 1);
  CHECK(
      lines[0].starts_with("pipe2(O_NONBLOCK | O_CLOEXEC) = 0 [" + std::to_string(before) + ", "));
  CHECK(lines[0].find("signal.set_wakeup_fd(w)") != std::string::npos);
  CHECK(signals.fd() == before);  // the same pipe afterwards
}

TEST_CASE("the first stop signal makes fd() readable and sets requested()", "[signals]") {
  StopSignals signals;
  CHECK_FALSE(signals.requested());
  CHECK_FALSE(readable(signals.fd()));
  ::raise(SIGTERM);
  CHECK(signals.requested());
  CHECK(readable(signals.fd()));
  CHECK(signals.drain());
  CHECK_FALSE(readable(signals.fd()));
}

TEST_CASE("a signal that came before the first fd() is in the pipe too", "[signals]") {
  StopSignals signals;
  ::raise(SIGINT);
  CHECK(readable(signals.fd()));
  CHECK(signals.drain());
}

TEST_CASE("wake() makes fd() readable without a signal", "[signals]") {
  StopSignals signals;
  signals.wake();
  CHECK(readable(signals.fd()));
  CHECK_FALSE(signals.drain());
  CHECK_FALSE(signals.requested());
  CHECK(signals.poll(nullptr, 0, after_ms(10)) == 0);  // a wake is not a stop
}

TEST_CASE("a second stop signal exits at once with status 0", "[signals]") {
  CHECK(in_child([] {
          StopSignals signals;
          ::raise(SIGINT);
          if (!signals.requested()) ::_exit(3);
          ::raise(SIGTERM);  // the second: never returns
        }) == 0);
}

TEST_CASE("before arm() a stop signal exits at once with status 0", "[signals]") {
  CHECK(in_child([] {
          StopSignals signals(false);
          ::raise(SIGINT);
        }) == 0);
  CHECK(in_child([] {
          StopSignals signals(false);
          signals.arm();
          ::raise(SIGINT);
          ::_exit(signals.requested() ? 7 : 8);
        }) == 7);
}

TEST_CASE("the previous handlers come back when StopSignals ends", "[signals]") {
  CHECK(in_child([] {
          ::signal(SIGTERM, SIG_DFL);  // whatever an earlier test in this process left
          { StopSignals signals; }
          ::raise(SIGTERM);  // the default action again: terminated
        }) == 128 + SIGTERM);
}

TEST_CASE("after a stop was requested, a signal once StopSignals ended still exits with 0",
          "[signals]") {
  // serve-group drains its console, then tears down: a second Ctrl-C then must not kill it.
  CHECK(in_child([] {
          {
            StopSignals signals;
            ::raise(SIGTERM);
          }
          ::raise(SIGTERM);
        }) == 0);
}
