// The event loop and its three backends (epoll, poll, select), each run through the same
// cases on socketpairs and pipes: readiness, modify, remove, stop, hang-up.
#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "core/error.hpp"
#include "core/event_loop.hpp"
#include "core/socket.hpp"

using namespace sockchat;
using namespace std::chrono_literals;

namespace {

struct Pair {
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    a = Socket::adopt(fds[0], AF_UNIX, SOCK_STREAM);
    b = Socket::adopt(fds[1], AF_UNIX, SOCK_STREAM);
    fa = fds[0];
    fb = fds[1];
  }
  Socket a, b;
  int fa = -1, fb = -1;
};

void stop_after(EventLoop& loop, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  loop.every(10ms, [&loop, end] {
    if (std::chrono::steady_clock::now() >= end) loop.stop();
  });
}

}  // namespace

TEST_CASE("each backend reports a socket readable when its peer writes", "[event_loop][recv]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  CHECK(loop.backend() == backend);
  Pair p;
  unsigned seen = 0;
  loop.add(p.fa, Readable, [&](unsigned events) {
    seen = events;
    loop.stop();
  });
  stop_after(loop, 2000ms);
  p.b.sendall("x");
  loop.run();
  CHECK(seen == Readable);
}

TEST_CASE("each backend reports a pipe readable, and not before", "[event_loop]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  int calls = 0;
  loop.add(fds[0], Readable, [&](unsigned) {
    ++calls;
    loop.stop();
  });
  stop_after(loop, 50ms);
  loop.run();  // nothing written: only the tick ends it
  CHECK(calls == 0);
  REQUIRE(::write(fds[1], "y", 1) == 1);
  stop_after(loop, 2000ms);
  loop.run();
  CHECK(calls == 1);
  loop.remove(fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("modify switches between readable and writable interest", "[event_loop]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  Pair p;
  int writable = 0;
  loop.add(p.fa, Writable, [&](unsigned events) {
    if (events & Writable) ++writable;
    loop.modify(p.fa, Readable);  // an empty socket: no longer ready at all
  });
  stop_after(loop, 60ms);
  loop.run();
  CHECK(writable == 1);  // level-triggered, yet only once: the interest changed
}

TEST_CASE("a removed descriptor is not reported", "[event_loop]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  Pair p;
  int calls = 0;
  loop.add(p.fa, Readable, [&](unsigned) { ++calls; });
  CHECK(loop.size() == 1);
  p.b.sendall("x");
  loop.remove(p.fa);
  CHECK(loop.size() == 0);
  stop_after(loop, 50ms);
  loop.run();
  CHECK(calls == 0);
}

TEST_CASE("a handler may remove another descriptor ready in the same round", "[event_loop]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  Pair one, two;
  int calls = 0;
  loop.add(one.fa, Readable, [&](unsigned) {
    ++calls;
    loop.remove(two.fa);
    loop.remove(one.fa);  // and itself: its handler must survive until it returns
    loop.stop();
  });
  loop.add(two.fa, Readable, [&](unsigned) {
    ++calls;
    loop.remove(one.fa);
    loop.remove(two.fa);
    loop.stop();
  });
  one.b.sendall("x");
  two.b.sendall("x");
  stop_after(loop, 2000ms);
  loop.run();
  CHECK(calls == 1);
}

TEST_CASE("a peer's close is reported as readable (recv then returns 0)", "[event_loop][close]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  Pair p;
  std::size_t got = 99;
  loop.add(p.fa, Readable, [&](unsigned) {
    char c;
    got = p.a.recv(&c, 1);
    loop.stop();
  });
  p.b.close();
  stop_after(loop, 2000ms);
  loop.run();
  CHECK(got == 0);
}

TEST_CASE("stop ends run after the round; after_each_round runs once per round", "[event_loop]") {
  const std::string backend = GENERATE("epoll", "poll", "select");
  EventLoop loop(make_poller(backend));
  Pair p;
  int rounds = 0;
  loop.after_each_round([&] { ++rounds; });
  loop.add(p.fa, Writable, [&](unsigned) { loop.stop(); });
  loop.run();
  CHECK(rounds == 1);
}

TEST_CASE("select refuses descriptors at or above FD_SETSIZE; epoll and poll do not",
          "[event_loop]") {
  EventLoop select_loop(make_poller("select"));
  CHECK_FALSE(select_loop.accepts(FD_SETSIZE));
  CHECK(select_loop.accepts(FD_SETSIZE - 1));
  CHECK_THROWS_AS(select_loop.add(FD_SETSIZE, Readable, [](unsigned) {}), SocketError);
  CHECK(EventLoop(make_poller("epoll")).accepts(FD_SETSIZE));
  CHECK(EventLoop(make_poller("poll")).accepts(FD_SETSIZE));
  CHECK_THROWS_AS(make_poller("kqueue"), UsageError);
}
