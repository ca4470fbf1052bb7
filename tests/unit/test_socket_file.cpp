// test_socket_file.cpp — makefile(): TCP delivers bytes, not lines, and SocketFile puts
// the lines back together. A tiny read chunk forces every line across many recv() calls.
#include <unistd.h>

#include <thread>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/socket.hpp"
#include "core/socket_file.hpp"
#include "loopback.hpp"

using namespace sockchat;
using namespace sockchat::test;
using Seconds = std::chrono::duration<double>;

TEST_CASE("makefile readline joins a line split over many recv calls", "[makefile]") {
  Connected c = connected_pair();
  c.client.sendall("hel");
  c.client.sendall("lo\nwor");
  c.client.sendall("ld\n你好\nlast");
  c.client.close();
  const std::size_t chunk = GENERATE(1, 2, 3, 64 * 1024);
  SocketFile f(c.server, chunk);
  CHECK(f.readline() == "hello\n");
  CHECK(f.readline() == "world\n");
  CHECK(f.readline() == "你好\n");  // a character cut by a 1-byte recv is whole again
  CHECK(f.readline() == "last");    // end of stream: what is left, without '\n'
  CHECK(f.readline().empty());      // then nothing, as Python's readline returns b''
}

TEST_CASE("makefile readline across writes made while it is blocked", "[makefile][recv]") {
  Connected c = connected_pair();
  SocketFile f = c.server.makefile();
  const pid_t reader = gettid();
  // Each piece is sent only once the reader is asleep in recv() again, so the line really
  // arrives in three recv() results.
  std::thread writer([&] {
    for (const char* piece : {"hel", "lo wor", "ld\nnext"}) {
      eventually([&] { return thread_state(reader) == 'S'; });
      c.client.sendall(piece);
    }
  });
  const std::string line = f.readline();
  writer.join();
  CHECK(line == "hello world\n");
  c.client.close();
  CHECK(f.readline() == "next");
}

TEST_CASE("makefile readline waits for the rest of a line sent later", "[makefile][settimeout]") {
  Connected c = connected_pair();
  SocketFile f = c.server.makefile();
  c.client.sendall("partial ");
  c.server.settimeout(Seconds(0.05));
  // No newline yet: the timeout fires, and what was read so far is kept, not lost.
  CHECK_THROWS_AS(f.readline(), TimeoutError);
  c.client.sendall("line\nnext\n");
  CHECK(f.readline() == "partial line\n");
  CHECK(f.readline() == "next\n");
}

TEST_CASE("makefile readline on a nonblocking socket: EAGAIN, then the line", "[makefile]") {
  Connected c = connected_pair();
  c.server.setblocking(false);
  SocketFile f(c.server, 4);
  c.client.sendall("abcdef");  // more than one chunk, still no newline
  REQUIRE(eventually([&] {
    try {
      f.readline();
      return false;
    } catch (const WouldBlockError& e) {
      return e.error_number() == EAGAIN;
    }
  }));
  c.client.sendall("g\n");
  REQUIRE(eventually([&] {
    try {
      CHECK(f.readline() == "abcdefg\n");
      return true;
    } catch (const WouldBlockError&) {
      return false;
    }
  }));
}

TEST_CASE("makefile readline(max) returns a long line in pieces", "[makefile]") {
  Connected c = connected_pair();
  c.client.sendall("abcdefgh\nxy\n");
  c.client.close();
  SocketFile f(c.server, 2);
  CHECK(f.readline(3) == "abc");
  CHECK(f.readline(3) == "def");
  CHECK(f.readline(3) == "gh\n");
  CHECK(f.readline(3) == "xy\n");
  CHECK(f.readline(3).empty());
}

TEST_CASE("makefile read(n) returns n bytes, fewer only at end of stream", "[makefile]") {
  Connected c = connected_pair();
  c.client.sendall("0123");
  c.client.sendall("456789");
  c.client.close();
  SocketFile f(c.server, 3);
  CHECK(f.read(5) == "01234");
  CHECK(f.readline() == "56789");
  CHECK(f.read(5).empty());
}

TEST_CASE("makefile write collects, flush sends", "[makefile][sendall]") {
  Connected c = connected_pair();
  SocketFile out = c.client.makefile();
  out.write("one ");
  out.write("line\n");
  c.server.setblocking(false);
  CHECK(errno_of([&] { c.server.recv(64); }) == EAGAIN);  // nothing sent before flush
  out.flush();
  c.server.setblocking(true);
  SocketFile in = c.server.makefile();
  CHECK(in.readline() == "one line\n");
}

TEST_CASE("makefile write flushes by itself once a chunk is full", "[makefile]") {
  Connected c = connected_pair();
  SocketFile out(c.client, 8);
  out.write("0123456789\n");  // over the 8-byte chunk: sent at once
  SocketFile in(c.server);
  CHECK(in.readline() == "0123456789\n");
}

TEST_CASE("makefile on a reset connection reports ECONNRESET", "[makefile]") {
  Connected c = connected_pair();
  const linger abort_on_close{1, 0};
  c.client.setsockopt(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  c.client.close();
  SocketFile f = c.server.makefile();
  CHECK(errno_of([&] { f.readline(); }) == ECONNRESET);
}
