// test_signals.cpp — core/signals: the self-pipe and its rules (first signal asks to stop,
// a later one exits at once with status 0, before arm() any signal exits with 0). The rules
// that end the process are checked in a forked child.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/signals.hpp"

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

}  // namespace

TEST_CASE("the first stop signal makes the pipe readable and sets requested()", "[signals]") {
  StopSignals signals;
  CHECK_FALSE(signals.requested());
  CHECK_FALSE(readable(signals.fd()));
  ::raise(SIGTERM);
  CHECK(signals.requested());
  CHECK(readable(signals.fd()));
  CHECK(signals.drain());
  CHECK_FALSE(readable(signals.fd()));
}

TEST_CASE("wake() makes the pipe readable without a signal", "[signals]") {
  StopSignals signals;
  signals.wake();
  CHECK(readable(signals.fd()));
  CHECK_FALSE(signals.drain());
  CHECK_FALSE(signals.requested());
}

TEST_CASE("poll() returns ready descriptors, 0 at the deadline, -1 after a signal", "[signals]") {
  StopSignals signals;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pollfd p{fds[0], POLLIN, 0};
  CHECK(signals.poll(&p, 1, Deadline(Timeout(std::chrono::milliseconds(10)))) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  CHECK(signals.poll(&p, 1, Deadline(Timeout())) == 1);
  CHECK((p.revents & POLLIN) != 0);
  signals.wake();  // a wake alone is not a stop: poll goes on to the deadline
  char byte;
  REQUIRE(::read(fds[0], &byte, 1) == 1);
  CHECK(signals.poll(&p, 1, Deadline(Timeout(std::chrono::milliseconds(10)))) == 0);
  ::raise(SIGINT);
  CHECK(signals.poll(&p, 1, Deadline(Timeout())) == -1);
  CHECK(signals.sleep(5));  // returns at once: a stop was requested
  ::close(fds[0]);
  ::close(fds[1]);
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
