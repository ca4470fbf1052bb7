// test_socket.cpp — every call of the tutorial's socket table on loopback, each with what
// succeeds and what fails, tagged by call so `unit_tests "[accept]"` runs one call's tests.
// Also: the three timeout modes, EINTR, SIGPIPE, RAII, unix sockets and IPv6.
// Read alongside core/socket.hpp and docs/api.md.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/socket.hpp"
#include "loopback.hpp"

using namespace sockchat;
using namespace sockchat::test;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

namespace {

// How long `body` took.
template <typename F>
Seconds timed(F body) {
  const auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::steady_clock::now() - start;
}

// A socket that sends slowly enough to fill its small buffers: nobody reads the other end.
std::size_t fill_send_buffer(Socket& s) {
  const std::string chunk(64 * 1024, 'x');
  std::size_t total = 0;
  for (int i = 0; i < 4096; ++i) total += s.send(chunk);  // bounded: 256 MiB at most
  return total;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// socket(2) and the RAII properties of Socket (fmt's file-descriptor rules).

TEST_CASE("socket() opens a descriptor with close-on-exec", "[socket]") {
  Socket s(AF_INET, SOCK_STREAM);
  REQUIRE(s);
  CHECK(fd_state(s.fileno()) == 0);
  CHECK((::fcntl(s.fileno(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(s.getsockopt(SOL_SOCKET, SO_TYPE) == SOCK_STREAM);
}

TEST_CASE("socket() with a bad family fails with EAFNOSUPPORT", "[socket]") {
  CHECK(errno_of([] { Socket s(12345, SOCK_STREAM); }) == EAFNOSUPPORT);
}

TEST_CASE("the destructor closes the descriptor", "[socket][close]") {
  int fd = -1;
  {
    Socket s(AF_INET, SOCK_STREAM);
    fd = s.fileno();
    REQUIRE(fd_state(fd) == 0);
  }
  CHECK(fd_state(fd) == EBADF);
}

TEST_CASE("moving a Socket leaves -1 behind and keeps the mode", "[socket][settimeout]") {
  Socket a(AF_INET, SOCK_STREAM);
  a.settimeout(Seconds(1.5));
  const int fd = a.fileno();
  Socket b(std::move(a));
  CHECK_FALSE(a);
  CHECK(a.fileno() == -1);  // NOLINT(bugprone-use-after-move): the point of the test
  CHECK(b.fileno() == fd);
  CHECK(b.gettimeout() == Timeout(Seconds(1.5)));
  CHECK(fd_state(fd) == 0);
}

TEST_CASE("move-assignment closes what the target held first", "[socket][close]") {
  Socket a(AF_INET, SOCK_STREAM);
  Socket b(AF_INET, SOCK_DGRAM);
  const int a_fd = a.fileno();
  const int b_fd = b.fileno();
  b = std::move(a);
  CHECK(fd_state(b_fd) == EBADF);  // b's old descriptor is gone...
  CHECK(b.fileno() == a_fd);       // ...and b now owns a's
  CHECK(b.type() == SOCK_STREAM);
  CHECK_FALSE(a);
}

TEST_CASE("release() hands the descriptor over; the Socket no longer closes it", "[socket]") {
  int fd = -1;
  {
    Socket s(AF_INET, SOCK_STREAM);
    fd = s.release();
    CHECK_FALSE(s);
  }
  CHECK(fd_state(fd) == 0);
  Socket again = Socket::adopt(fd, AF_INET, SOCK_STREAM);
  CHECK(again.fileno() == fd);
}

// ---------------------------------------------------------------------------------------
// bind

TEST_CASE("bind to port 0 lets the kernel pick a port", "[bind][getsockname]") {
  Socket s(AF_INET, SOCK_STREAM);
  s.bind(loopback4());
  const Address a = s.getsockname();
  CHECK(a.host() == "127.0.0.1");
  CHECK(a.port() != 0);
}

TEST_CASE("bind to a port in use is EADDRINUSE, naming the address", "[bind]") {
  Listener l = listen_on(loopback4());
  Socket s(AF_INET, SOCK_STREAM);
  try {
    s.bind(l.address);
    FAIL("bind succeeded");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == EADDRINUSE);
    CHECK(std::string(e.what()) ==
          "bind " + l.address.to_string() + ": EADDRINUSE (Address already in use)");
  }
}

TEST_CASE("SO_REUSEADDR lets a server bind again while its old connection is in TIME_WAIT",
          "[bind][setsockopt]") {
  Address port;
  {
    // The tutorial's server, as it should be written: SO_REUSEADDR before bind.
    Socket listener(AF_INET, SOCK_STREAM);
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    listener.bind(loopback4());
    listener.listen(1);
    port = listener.getsockname();
    Socket client(AF_INET, SOCK_STREAM);
    client.connect(port);
    Socket conn = listener.accept().first;
    conn.close();                      // the server closes first: its side gets TIME_WAIT
    REQUIRE(client.recv(16).empty());  // the FIN arrived
  }
  Socket plain(AF_INET, SOCK_STREAM);  // without the option: refused, as in the tutorial
  CHECK(errno_of([&] { plain.bind(port); }) == EADDRINUSE);
  Socket reuse(AF_INET, SOCK_STREAM);
  reuse.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  CHECK_NOTHROW(reuse.bind(port));
  CHECK_NOTHROW(reuse.listen(1));
}

TEST_CASE("bind to an address this host does not have is EADDRNOTAVAIL", "[bind]") {
  std::ifstream nonlocal("/proc/sys/net/ipv4/ip_nonlocal_bind");
  int allowed = 0;
  if (nonlocal >> allowed && allowed != 0) {
    WARN("skipped: net.ipv4.ip_nonlocal_bind is set, so any address can be bound");
    return;
  }
  Socket s(AF_INET, SOCK_STREAM);
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
  CHECK(errno_of([&] { s.bind(*Address::from_literal("192.0.2.1", 0)); }) == EADDRNOTAVAIL);
}

// ---------------------------------------------------------------------------------------
// listen

TEST_CASE("listen turns a socket into a listening one", "[listen][getsockopt]") {
  Socket s(AF_INET, SOCK_STREAM);
  s.bind(loopback4());
  CHECK(s.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 0);
  s.listen(5);
  CHECK(s.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 1);
}

TEST_CASE("listen on a UDP socket is EOPNOTSUPP", "[listen]") {
  Socket s(AF_INET, SOCK_DGRAM);
  CHECK(errno_of([&] { s.listen(5); }) == EOPNOTSUPP);
}

// ---------------------------------------------------------------------------------------
// accept

TEST_CASE("accept returns a new socket and the peer's address", "[accept]") {
  Listener l = listen_on(loopback4());
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(l.address);
  auto [conn, peer] = l.socket.accept();
  CHECK(peer == client.getsockname());
  CHECK(conn.getpeername() == client.getsockname());
  CHECK(conn.getsockname() == l.address);
  CHECK(conn.fileno() != l.socket.fileno());
}

TEST_CASE("accept from a nonblocking listener gives a blocking socket", "[accept][setblocking]") {
  Listener l = listen_on(loopback4());
  l.socket.setblocking(false);
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(l.address);
  REQUIRE(eventually([&] {
    try {
      Socket conn = l.socket.accept().first;
      CHECK_FALSE(nonblocking_flag(conn.fileno()));  // as Python: the default timeout, None
      CHECK_FALSE(conn.gettimeout().has_value());
      return true;
    } catch (const WouldBlockError&) {
      return false;
    }
  }));
}

TEST_CASE("accept with nothing pending: EAGAIN nonblocking, a timeout with settimeout",
          "[accept][settimeout][setblocking]") {
  Listener l = listen_on(loopback4());
  SECTION("nonblocking") {
    l.socket.setblocking(false);
    try {
      l.socket.accept();
      FAIL("accept returned");
    } catch (const WouldBlockError& e) {
      CHECK(e.error_number() == EAGAIN);
    }
  }
  SECTION("timeout") {
    l.socket.settimeout(Seconds(0.05));
    const Seconds took = timed([&] {
      REQUIRE_THROWS_MATCHES(l.socket.accept(), TimeoutError,
                             Catch::Matchers::Message("accept: timed out after 0.05 s"));
    });
    CHECK(took >= 50ms);
    CHECK(took < 2s);
  }
}

TEST_CASE("accept on a socket that is not listening is EINVAL", "[accept]") {
  Socket s(AF_INET, SOCK_STREAM);
  s.bind(loopback4());
  CHECK(errno_of([&] { s.accept(); }) == EINVAL);
}

// ---------------------------------------------------------------------------------------
// connect and connect_ex

TEST_CASE("connect reaches a listener in all three modes", "[connect][settimeout]") {
  Listener l = listen_on(loopback4());
  Socket blocking(AF_INET, SOCK_STREAM);
  blocking.connect(l.address);
  CHECK(blocking.getpeername() == l.address);
  Socket timed(AF_INET, SOCK_STREAM);
  timed.settimeout(Seconds(2));
  timed.connect(l.address);  // nonblocking connect, poll for POLLOUT, SO_ERROR = 0
  CHECK(timed.getpeername() == l.address);
  Socket nonblocking(AF_INET, SOCK_STREAM);
  nonblocking.setblocking(false);
  try {
    nonblocking.connect(l.address);
    FAIL("a nonblocking TCP connect finished at once");
  } catch (const WouldBlockError& e) {
    CHECK(e.error_number() == EINPROGRESS);
  }
}

TEST_CASE("connect to a closed port is ECONNREFUSED, named with its address", "[connect]") {
  ClosedPort closed = closed_port();
  Socket client(AF_INET, SOCK_STREAM);
  try {
    client.connect(closed.address);
    FAIL("connect succeeded");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == ECONNREFUSED);
    CHECK(e.call() == "connect");
    CHECK(e.address() == closed.address.to_string());
    CHECK(std::string(e.what()) ==
          "connect " + closed.address.to_string() + ": ECONNREFUSED (Connection refused)");
  }
}

TEST_CASE("a timed connect that is refused reports ECONNREFUSED, not a timeout",
          "[connect][settimeout]") {
  ClosedPort closed = closed_port();
  Socket client(AF_INET, SOCK_STREAM);
  client.settimeout(Seconds(2));
  CHECK(errno_of([&] { client.connect(closed.address); }) == ECONNREFUSED);
}

// A listener whose accept queue is full drops new SYNs: the client hears nothing, which is
// exactly what a firewall that drops packets looks like. listen(0) queues one connection.
TEST_CASE("connect with a timeout to a full accept queue times out",
          "[connect][connect_ex][settimeout]") {
  Listener l = listen_on(loopback4(), 0);
  std::vector<Socket> queued;
  bool timed_out = false;
  for (int i = 0; i < 4 && !timed_out; ++i) {  // the 2nd usually; a few more if ACKs lag
    Socket s(AF_INET, SOCK_STREAM);
    s.settimeout(Seconds(0.05));
    try {
      s.connect(l.address);
      queued.push_back(std::move(s));
    } catch (const TimeoutError& e) {
      timed_out = true;
      CHECK(e.error_number() == ETIMEDOUT);
      CHECK(std::string(e.what()) ==
            "connect " + l.address.to_string() + ": timed out after 0.05 s");
    }
  }
  REQUIRE(timed_out);
  Socket s(AF_INET, SOCK_STREAM);
  s.settimeout(Seconds(0.05));
  CHECK(s.connect_ex(l.address) == ETIMEDOUT);
}

TEST_CASE("connect_ex returns errno instead of throwing", "[connect_ex]") {
  Listener l = listen_on(loopback4());
  ClosedPort closed = closed_port();
  Socket ok(AF_INET, SOCK_STREAM);
  CHECK(ok.connect_ex(l.address) == 0);
  CHECK(ok.getpeername() == l.address);
  CHECK(ok.connect_ex(l.address) == EISCONN);
  Socket refused(AF_INET, SOCK_STREAM);
  CHECK(refused.connect_ex(closed.address) == ECONNREFUSED);
  Socket nonblocking(AF_INET, SOCK_STREAM);
  nonblocking.setblocking(false);
  CHECK(nonblocking.connect_ex(l.address) == EINPROGRESS);
  // The nonblocking way to finish: wait for writability, then ask SO_ERROR.
  REQUIRE(wait_ready(nonblocking.fileno(), POLLOUT, Deadline(Seconds(5))));
  CHECK(nonblocking.getsockopt(SOL_SOCKET, SO_ERROR) == 0);
}

// ---------------------------------------------------------------------------------------
// recv

TEST_CASE("recv returns what was sent, and 0 bytes once the peer closed", "[recv][send]") {
  Connected c = connected_pair();
  CHECK(c.client.send("hello\n") == 6);
  CHECK(c.server.recv(1024) == "hello\n");
  c.client.close();
  CHECK(c.server.recv(1024).empty());
  CHECK(c.server.recv(1024).empty());  // and again: end of stream is sticky
}

TEST_CASE("recv returns what is there, never waiting to fill the buffer", "[recv]") {
  Connected c = connected_pair();
  c.client.sendall("abc");
  char buffer[1024];
  CHECK(c.server.recv(buffer, sizeof buffer) == 3);
  CHECK(std::string(buffer, 3) == "abc");
}

TEST_CASE("recv with MSG_PEEK leaves the bytes queued", "[recv]") {
  Connected c = connected_pair();
  c.client.sendall("peek");
  CHECK(c.server.recv(4, MSG_PEEK) == "peek");
  CHECK(c.server.recv(4) == "peek");
}

TEST_CASE("recv with nothing to read: EAGAIN nonblocking, a timeout with settimeout",
          "[recv][settimeout][setblocking]") {
  Connected c = connected_pair();
  const std::string peer = c.client.getsockname().to_string();
  SECTION("nonblocking: WouldBlockError") {
    c.server.setblocking(false);
    REQUIRE_THROWS_MATCHES(
        c.server.recv(16), WouldBlockError,
        Catch::Matchers::Message("recv " + peer + ": EAGAIN (Resource temporarily unavailable)"));
  }
  SECTION("timeout: TimeoutError after the timeout") {
    c.server.settimeout(Seconds(0.05));
    const Seconds took = timed([&] {
      REQUIRE_THROWS_MATCHES(c.server.recv(16), TimeoutError,
                             Catch::Matchers::Message("recv " + peer + ": timed out after 0.05 s"));
    });
    CHECK(took >= 50ms);
    CHECK(took < 2s);
    // The socket is still usable: data that arrives later is read normally.
    c.client.sendall("late");
    CHECK(c.server.recv(16) == "late");
  }
}

TEST_CASE("recv after the peer reset the connection is ECONNRESET", "[recv][setsockopt]") {
  Connected c = connected_pair();
  const linger abort_on_close{1, 0};  // SO_LINGER 0: close sends RST instead of FIN
  c.client.setsockopt(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  c.client.close();
  CHECK(errno_of([&] { c.server.recv(16); }) == ECONNRESET);
}

TEST_CASE("recv on a connected UDP socket reports the ICMP port unreachable as ECONNREFUSED",
          "[recv][connect][send]") {
  Address nobody;
  {
    Socket picker(AF_INET, SOCK_DGRAM);  // a free UDP port, released again
    picker.bind(loopback4());
    nobody = picker.getsockname();
  }
  Socket s(AF_INET, SOCK_DGRAM);
  s.connect(nobody);
  s.send("anyone?");
  s.settimeout(Seconds(2));
  CHECK(errno_of([&] { s.recv(16); }) == ECONNREFUSED);
}

TEST_CASE("recv on an empty Socket is EBADF, not a crash", "[recv]") {
  Socket empty;
  CHECK(errno_of([&] { empty.recv(16); }) == EBADF);
}

// ---------------------------------------------------------------------------------------
// send and sendall

TEST_CASE("send fills the buffer: EAGAIN nonblocking, a timeout with settimeout",
          "[send][settimeout][setblocking]") {
  Connected c = connected_pair();
  c.client.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c.server.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096);
  SECTION("nonblocking") {
    c.client.setblocking(false);
    try {
      const std::size_t sent = fill_send_buffer(c.client);
      FAIL("sent " << sent << " bytes nobody reads");
    } catch (const WouldBlockError& e) {
      CHECK(e.error_number() == EAGAIN);
    }
  }
  SECTION("timeout") {
    c.client.settimeout(Seconds(0.05));
    REQUIRE_THROWS_AS(fill_send_buffer(c.client), TimeoutError);
  }
}

TEST_CASE("send after shutdown(SHUT_WR) is EPIPE, and no SIGPIPE is raised", "[send]") {
  Connected c = connected_pair();
  // Block SIGPIPE in this thread: if send() raised it, it would wait here, pending.
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &pipe_only, &old) == 0);
  c.client.shutdown(SHUT_WR);
  const int err = errno_of([&] { c.client.send("too late"); });
  sigset_t pending;
  sigpending(&pending);
  const bool raised = sigismember(&pending, SIGPIPE) == 1;
  if (raised) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_only, nullptr, &now);  // take it, so it cannot kill us later
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(err == EPIPE);
  CHECK_FALSE(raised);
}

TEST_CASE("sending to a peer that closed ends in EPIPE or ECONNRESET, never SIGPIPE",
          "[send][sendall]") {
  Connected c = connected_pair();
  c.server.close();
  // The first send may still succeed: the peer answers it with RST. Bounded attempts.
  int err = 0;
  for (int i = 0; i < 100 && err == 0; ++i) err = errno_of([&] { c.client.send("x"); });
  CHECK((err == EPIPE || err == ECONNRESET));
}

TEST_CASE("sendall delivers several MiB through a small send buffer", "[sendall][setsockopt]") {
  Connected c = small_buffer_pair();
  Socket& client = c.client;
  Socket& server = c.server;
  std::string data(6 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
  // A timeout makes the descriptor nonblocking, so send() takes what fits and sendall loops.
  const bool timed = GENERATE(false, true);
  if (timed) client.settimeout(Seconds(20));
  std::string received;
  std::thread reader([&] {
    char buffer[64 * 1024];
    try {
      for (std::size_t n; (n = server.recv(buffer, sizeof buffer)) > 0;) received.append(buffer, n);
    } catch (const SocketError&) {  // checked below: `received` comes up short
    }
  });
  try {
    client.sendall(data);
    client.shutdown(SHUT_WR);
  } catch (...) {
    client.close();  // ends the reader's recv, so the thread can be joined
    reader.join();
    throw;
  }
  reader.join();
  CHECK(received.size() == data.size());
  CHECK(received == data);
}

TEST_CASE("sendall's timeout covers the whole call, not each send", "[sendall][settimeout]") {
  Connected c = connected_pair();
  c.client.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c.client.settimeout(Seconds(0.1));
  const std::string big(16 * 1024 * 1024, 'x');  // far more than the buffers hold
  const Seconds took = timed([&] {
    REQUIRE_THROWS_MATCHES(c.client.sendall(big), TimeoutError,
                           Catch::Matchers::Message("send " + c.listener.address.to_string() +
                                                    ": timed out after 0.1 s"));
  });
  CHECK(took < 2s);
}

TEST_CASE("sendall on a nonblocking socket with a full buffer is EAGAIN",
          "[sendall][setblocking]") {
  Connected c = connected_pair();
  c.client.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c.client.setblocking(false);
  CHECK(errno_of([&] { c.client.sendall(std::string(16 * 1024 * 1024, 'x')); }) == EAGAIN);
}

// ---------------------------------------------------------------------------------------
// recvfrom and sendto (UDP)

TEST_CASE("sendto and recvfrom carry a datagram and its sender", "[sendto][recvfrom]") {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(loopback4());
  Socket sender(AF_INET, SOCK_DGRAM);
  CHECK(sender.sendto("ping", receiver.getsockname()) == 4);
  char buffer[64];
  const Datagram d = receiver.recvfrom(buffer, sizeof buffer);
  CHECK(std::string(buffer, d.size) == "ping");
  CHECK_FALSE(d.truncated());
  // sendto bound the sender to a port (on 0.0.0.0); the datagram came from 127.0.0.1.
  CHECK(d.from.port() == sender.getsockname().port());
  CHECK(d.from.host() == "127.0.0.1");
  // The reply goes back to that address, as udp-recv --echo does.
  receiver.sendto("pong", d.from);
  const Datagram back = sender.recvfrom(buffer, sizeof buffer);
  CHECK(std::string(buffer, back.size) == "pong");
  CHECK(back.from == receiver.getsockname());
}

TEST_CASE("recvfrom reports a datagram larger than the buffer as truncated", "[recvfrom]") {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(loopback4());
  Socket sender(AF_INET, SOCK_DGRAM);
  sender.sendto(std::string(100, 'z'), receiver.getsockname());
  sender.sendto("next", receiver.getsockname());
  char buffer[10];
  const Datagram d = receiver.recvfrom(buffer, sizeof buffer);
  CHECK(d.size == 10);
  CHECK(d.full_size == 100);
  CHECK(d.truncated());
  // The rest of that datagram is gone: the next recvfrom returns the next datagram.
  const Datagram next = receiver.recvfrom(buffer, sizeof buffer);
  CHECK(std::string(buffer, next.size) == "next");
  CHECK_FALSE(next.truncated());
}

TEST_CASE("recvfrom with nothing to read: EAGAIN nonblocking, a timeout with settimeout",
          "[recvfrom][settimeout][setblocking]") {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(loopback4());
  char buffer[16];
  SECTION("nonblocking") {
    receiver.setblocking(false);
    CHECK(errno_of([&] { receiver.recvfrom(buffer, sizeof buffer); }) == EAGAIN);
  }
  SECTION("timeout") {
    receiver.settimeout(Seconds(0.05));
    REQUIRE_THROWS_MATCHES(receiver.recvfrom(buffer, sizeof buffer), TimeoutError,
                           Catch::Matchers::Message("recvfrom: timed out after 0.05 s"));
  }
}

TEST_CASE("recvfrom on TCP reads the stream (MSG_TRUNC would discard it)", "[recvfrom]") {
  Connected c = connected_pair();
  c.client.sendall("stream bytes");
  char buffer[64];
  const Datagram d = c.server.recvfrom(buffer, sizeof buffer);
  CHECK(std::string(buffer, d.size) == "stream bytes");
  CHECK_FALSE(d.truncated());
}

TEST_CASE("sendto a datagram larger than UDP allows is EMSGSIZE", "[sendto]") {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(loopback4());
  Socket sender(AF_INET, SOCK_DGRAM);
  try {
    sender.sendto(std::string(70000, 'x'), receiver.getsockname());
    FAIL("sendto accepted 70000 bytes");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == EMSGSIZE);
    CHECK(e.address() == receiver.getsockname().to_string());
  }
}

TEST_CASE("sendto an address of the wrong family is an error, not a crash", "[sendto]") {
  Socket sender(AF_INET, SOCK_DGRAM);
  const int err = errno_of([&] { sender.sendto("x", *Address::from_literal("::1", 9)); });
  CHECK((err == EAFNOSUPPORT || err == EINVAL));
}

// ---------------------------------------------------------------------------------------
// close

TEST_CASE("close releases the descriptor and empties the Socket; twice is harmless",
          "[close][fileno]") {
  Socket s(AF_INET, SOCK_STREAM);
  const int fd = s.fileno();
  s.close();
  CHECK_FALSE(s);
  CHECK(s.fileno() == -1);
  CHECK(fd_state(fd) == EBADF);
  CHECK_NOTHROW(s.close());
}

TEST_CASE("close of a descriptor someone else already closed does not throw", "[close]") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  Socket s = Socket::adopt(fd, AF_INET, SOCK_STREAM);
  ::close(fd);  // behind the Socket's back: close(2) will now fail with EBADF
  CHECK_NOTHROW(s.close());
  CHECK_FALSE(s);
}

TEST_CASE("using a closed Socket is EBADF", "[close][send]") {
  Connected c = connected_pair();
  c.client.close();
  CHECK(errno_of([&] { c.client.send("x"); }) == EBADF);
}

// ---------------------------------------------------------------------------------------
// getpeername and getsockname

TEST_CASE("getpeername and getsockname mirror each other across a connection",
          "[getpeername][getsockname]") {
  Connected c = connected_pair();
  CHECK(c.client.getpeername() == c.server.getsockname());
  CHECK(c.server.getpeername() == c.client.getsockname());
  CHECK(c.client.getsockname().host() == "127.0.0.1");
}

TEST_CASE("getpeername of an unconnected socket is ENOTCONN", "[getpeername]") {
  Socket s(AF_INET, SOCK_STREAM);
  try {
    s.getpeername();
    FAIL("getpeername succeeded");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == ENOTCONN);
    CHECK(std::string(e.what()) == "getpeername: ENOTCONN (Transport endpoint is not connected)");
  }
}

TEST_CASE("getsockname of an unbound socket is 0.0.0.0:0; of an empty Socket EBADF",
          "[getsockname]") {
  Socket s(AF_INET, SOCK_STREAM);
  CHECK(s.getsockname().to_string() == "0.0.0.0:0");
  Socket empty;
  CHECK(errno_of([&] { empty.getsockname(); }) == EBADF);
}

// ---------------------------------------------------------------------------------------
// setsockopt and getsockopt

TEST_CASE("setsockopt values read back through getsockopt", "[setsockopt][getsockopt]") {
  Socket s(AF_INET, SOCK_STREAM);
  CHECK(s.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 0);
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  CHECK(s.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 1);
  s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  CHECK(s.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 1);
  s.setsockopt(SOL_SOCKET, SO_SNDBUF, 8192);
  CHECK(s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 2 * 8192);  // Linux doubles it: socket(7)
}

TEST_CASE("setsockopt and getsockopt with a struct (SO_LINGER)", "[setsockopt][getsockopt]") {
  Socket s(AF_INET, SOCK_STREAM);
  const linger on{1, 5};
  s.setsockopt(SOL_SOCKET, SO_LINGER, &on, sizeof on);
  linger back{};
  CHECK(s.getsockopt(SOL_SOCKET, SO_LINGER, &back, sizeof back) == sizeof back);
  CHECK(back.l_onoff == 1);
  CHECK(back.l_linger == 5);
}

TEST_CASE("an option the protocol does not have is ENOPROTOOPT, naming the option",
          "[setsockopt][getsockopt]") {
  Socket udp(AF_INET, SOCK_DGRAM);
  try {
    udp.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
    FAIL("TCP_NODELAY on UDP succeeded");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == ENOPROTOOPT);
    CHECK(std::string(e.what()) == "setsockopt TCP_NODELAY: ENOPROTOOPT (Protocol not available)");
  }
  CHECK(errno_of([&] { udp.getsockopt(SOL_SOCKET, 9999); }) == ENOPROTOOPT);
}

// ---------------------------------------------------------------------------------------
// settimeout, gettimeout, setblocking: Python's three modes

TEST_CASE("settimeout picks one of the three modes and sets O_NONBLOCK to match",
          "[settimeout][gettimeout]") {
  Socket s(AF_INET, SOCK_STREAM);
  CHECK_FALSE(s.gettimeout().has_value());  // a new socket blocks
  CHECK_FALSE(nonblocking_flag(s.fileno()));
  s.settimeout(Seconds(2.5));
  CHECK(s.gettimeout() == Timeout(Seconds(2.5)));
  CHECK(nonblocking_flag(s.fileno()));  // the waiting happens in poll(), not in the kernel call
  s.settimeout(Seconds(0));
  CHECK(s.gettimeout() == Timeout(Seconds(0)));
  CHECK(nonblocking_flag(s.fileno()));
  s.settimeout(std::nullopt);
  CHECK_FALSE(s.gettimeout().has_value());
  CHECK_FALSE(nonblocking_flag(s.fileno()));
}

TEST_CASE("settimeout refuses a negative or non-finite timeout and keeps the old mode",
          "[settimeout][gettimeout]") {
  Socket s(AF_INET, SOCK_STREAM);
  s.settimeout(Seconds(1));
  const double bad = GENERATE(-1.0, std::nan(""), std::numeric_limits<double>::infinity());
  CHECK_THROWS_AS(s.settimeout(Seconds(bad)), UsageError);
  CHECK(s.gettimeout() == Timeout(Seconds(1)));
}

TEST_CASE("setblocking(false) is settimeout(0); setblocking(true) is settimeout(None)",
          "[setblocking][gettimeout]") {
  Socket s(AF_INET, SOCK_STREAM);
  s.setblocking(false);
  CHECK(s.gettimeout() == Timeout(Seconds(0)));
  CHECK(nonblocking_flag(s.fileno()));
  s.setblocking(true);
  CHECK_FALSE(s.gettimeout().has_value());
  CHECK_FALSE(nonblocking_flag(s.fileno()));
}

TEST_CASE("setblocking keeps the descriptor's other flags", "[setblocking]") {
  Socket s(AF_INET, SOCK_STREAM);
  REQUIRE(::fcntl(s.fileno(), F_SETFL, O_ASYNC) == 0);  // some flag someone else set
  s.setblocking(false);
  CHECK((::fcntl(s.fileno(), F_GETFL) & O_ASYNC) != 0);
  s.setblocking(true);
  CHECK((::fcntl(s.fileno(), F_GETFL) & O_ASYNC) != 0);
}

TEST_CASE("setblocking on an empty Socket is EBADF", "[setblocking]") {
  Socket empty;
  CHECK(errno_of([&] { empty.setblocking(false); }) == EBADF);
}

TEST_CASE("fileno is the descriptor the kernel knows, -1 when empty", "[fileno]") {
  Socket s(AF_INET, SOCK_DGRAM);
  int type = 0;
  socklen_t len = sizeof type;
  REQUIRE(::getsockopt(s.fileno(), SOL_SOCKET, SO_TYPE, &type, &len) == 0);
  CHECK(type == SOCK_DGRAM);
  CHECK(Socket().fileno() == -1);
}

// ---------------------------------------------------------------------------------------
// EINTR: a signal during a wait is not an error. The handler is installed without
// SA_RESTART, so the kernel really returns EINTR and core/ must ask again.

namespace {

std::atomic<int> g_signals{0};
void count_signal(int) {
  g_signals.fetch_add(1);
}

// Interrupts `target` with SIGUSR1 once it is asleep, then sends "after signal".
void interrupt_then_send(pthread_t target, pid_t tid, Socket& sender) {
  eventually([&] { return thread_state(tid) == 'S'; });
  const int before = g_signals.load();
  pthread_kill(target, SIGUSR1);
  eventually([&] { return g_signals.load() > before; });
  eventually([&] { return thread_state(tid) == 'S'; });  // back to waiting, not failed
  sender.sendall("after signal");
}

}  // namespace

TEST_CASE("a signal during a blocking or timed recv is retried, not an error",
          "[recv][settimeout]") {
  struct sigaction action {};
  struct sigaction old {};
  action.sa_handler = count_signal;  // no SA_RESTART: recv/poll return EINTR
  sigemptyset(&action.sa_mask);
  REQUIRE(sigaction(SIGUSR1, &action, &old) == 0);
  Connected c = connected_pair();
  const bool timed = GENERATE(false, true);
  if (timed) c.server.settimeout(Seconds(10));  // then the wait is in poll(), same rule
  const int before = g_signals.load();
  std::thread helper(interrupt_then_send, pthread_self(), gettid(), std::ref(c.client));
  std::string got;
  CHECK_NOTHROW(got = c.server.recv(64));
  helper.join();
  sigaction(SIGUSR1, &old, nullptr);
  CHECK(got == "after signal");
  CHECK(g_signals.load() > before);
}

// ---------------------------------------------------------------------------------------
// unix sockets: the same calls, a path instead of host and port

TEST_CASE("a unix stream socket: bind, listen, connect, accept, send, recv", "[unix][bind]") {
  TempDir dir;
  const Address path = Address::unix_path(dir.path("chat.sock"));
  Connected c = connected_pair(path);
  CHECK(c.listener.address.to_string() == "unix:" + dir.path("chat.sock"));
  CHECK(c.client.getpeername() == path);
  CHECK(c.server.getpeername().to_string() == "unix:(unnamed)");  // the client has no name
  c.client.sendall("over a file\n");
  CHECK(c.server.recv(64) == "over a file\n");
}

TEST_CASE("unix socket failures: no such path, nobody listening, path in use", "[unix][connect]") {
  TempDir dir;
  const Address missing = Address::unix_path(dir.path("missing.sock"));
  Socket client(AF_UNIX, SOCK_STREAM);
  CHECK(client.connect_ex(missing) == ENOENT);
  const Address stale = Address::unix_path(dir.path("stale.sock"));
  {
    Socket gone(AF_UNIX, SOCK_STREAM);
    gone.bind(stale);  // leaves the file behind after close, as a crashed server does
  }
  CHECK(client.connect_ex(stale) == ECONNREFUSED);
  Socket again(AF_UNIX, SOCK_STREAM);
  CHECK(errno_of([&] { again.bind(stale); }) == EADDRINUSE);
}

TEST_CASE("unix datagrams carry their sender's path", "[unix][recvfrom][sendto]") {
  TempDir dir;
  Socket receiver(AF_UNIX, SOCK_DGRAM);
  receiver.bind(Address::unix_path(dir.path("rx.sock")));
  Socket sender(AF_UNIX, SOCK_DGRAM);
  sender.bind(Address::unix_path(dir.path("tx.sock")));
  sender.sendto("dgram", receiver.getsockname());
  char buffer[3];
  const Datagram d = receiver.recvfrom(buffer, sizeof buffer);
  CHECK(d.from.to_string() == "unix:" + dir.path("tx.sock"));
  CHECK(d.size == 3);
  CHECK(d.full_size == 5);  // truncation is reported for unix datagrams too
}

// ---------------------------------------------------------------------------------------
// IPv6 on ::1

TEST_CASE("IPv6 loopback: connect, accept, addresses printed in brackets", "[ipv6][accept]") {
  if (!ipv6_loopback_available()) {
    WARN("skipped: ::1 is not available on this machine");
    return;
  }
  Connected c = connected_pair(loopback6());
  const std::string port = std::to_string(c.listener.address.port());
  CHECK(c.listener.address.to_string() == "[::1]:" + port);
  CHECK(c.client.getpeername().to_string() == "[::1]:" + port);
  CHECK(c.server.getpeername() == c.client.getsockname());
  c.client.sendall("v6");
  CHECK(c.server.recv(8) == "v6");
}

TEST_CASE("IPv6 connect to a closed port is ECONNREFUSED", "[ipv6][connect_ex]") {
  if (!ipv6_loopback_available()) {
    WARN("skipped: ::1 is not available on this machine");
    return;
  }
  Socket holder(AF_INET6, SOCK_STREAM);
  holder.bind(loopback6());
  Socket client(AF_INET6, SOCK_STREAM);
  CHECK(client.connect_ex(holder.getsockname()) == ECONNREFUSED);
}

// ---------------------------------------------------------------------------------------
// The pieces under the modes: Deadline and wait_ready (core/wait.hpp), and the errors.

TEST_CASE("Deadline turns a timeout into poll()'s milliseconds", "[settimeout]") {
  CHECK(Deadline(std::nullopt).poll_ms() == -1);  // blocking: poll forever
  CHECK_FALSE(Deadline(std::nullopt).expired());
  CHECK(Deadline(Seconds(0)).poll_ms() == 0);  // nonblocking: never wait
  CHECK(Deadline(Seconds(0)).expired());
  const int ms = Deadline(Seconds(0.0015)).poll_ms();
  CHECK(ms >= 1);  // rounded up: a 1.5 ms timeout never polls for 0 ms
  CHECK(ms <= 2);
  // A timeout beyond what the clock can count is "never", not an overflow.
  CHECK(Deadline(Seconds(1e300)).poll_ms() == std::numeric_limits<int>::max());
  CHECK_FALSE(Deadline(Seconds(1e300)).expired());
}

TEST_CASE("wait_ready: true when ready, false when the deadline passes", "[settimeout][recv]") {
  Connected c = connected_pair();
  CHECK(wait_ready(c.client.fileno(), POLLOUT, Deadline(Seconds(1))));          // room to send
  CHECK_FALSE(wait_ready(c.server.fileno(), POLLIN, Deadline(Seconds(0.01))));  // nothing yet
  c.client.sendall("x");
  CHECK(wait_ready(c.server.fileno(), POLLIN, Deadline(Seconds(5))));
}

TEST_CASE("a huge timeout is accepted and behaves as a long wait", "[settimeout]") {
  Connected c = connected_pair();
  c.server.settimeout(Seconds(1e12));
  c.client.sendall("ok");
  CHECK(c.server.recv(8) == "ok");
}

TEST_CASE("errno names and the one checker", "[socket]") {
  CHECK(errno_name(ECONNREFUSED) == "ECONNREFUSED");
  CHECK(errno_name(EWOULDBLOCK) == "EAGAIN");  // the same number on Linux
  CHECK(errno_name(99999) == "E99999");
  CHECK(errno_name(ENOSPC) == "ENOSPC");  // stdout on a full disk, not only socket errors
  CHECK(errno_name(EXDEV) == "EXDEV");    // not in the table: glibc's strerrorname_np
  CHECK(errno_text(EPIPE) == "EPIPE (Broken pipe)");
  CHECK(check(5, "read") == 5);
  errno = EBADF;
  CHECK_THROWS_MATCHES(check(-1, "read", "here"), SocketError,
                       Catch::Matchers::Message("read here: EBADF (Bad file descriptor)"));
  errno = EAGAIN;
  CHECK_THROWS_AS(check(-1, "read"), WouldBlockError);
}

// ---------------------------------------------------------------------------------------
// splice(2): received bytes into a pipe without passing through our memory.

namespace {

// Both ends of a pipe, closed when it goes.
struct Pipe {
  Pipe() { REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  std::string read_all(std::size_t n) const {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fds[0], out.data() + got, n - got);
      REQUIRE(r > 0);
      got += static_cast<std::size_t>(r);
    }
    return out;
  }
  int fds[2] = {-1, -1};
};

}  // namespace

TEST_CASE("splice_to moves received bytes into a pipe, and 0 once the peer closed",
          "[splice][recv]") {
  Connected c = connected_pair();
  Pipe pipe;
  c.client.sendall("through the kernel");
  CHECK(c.server.splice_to(pipe.fds[1], 65536) == 18);
  CHECK(pipe.read_all(18) == "through the kernel");
  c.client.close();
  CHECK(c.server.splice_to(pipe.fds[1], 65536) == 0);
}

TEST_CASE("splice_to moves at most count bytes; the rest stays queued for recv", "[splice]") {
  Connected c = connected_pair();
  Pipe pipe;
  c.client.sendall("abcdef");
  // Loopback delivers the six bytes as one segment: splice takes 4 of them.
  CHECK(c.server.splice_to(pipe.fds[1], 4) == 4);
  CHECK(pipe.read_all(4) == "abcd");
  CHECK(c.server.recv(16) == "ef");
}

TEST_CASE("splice_to with nothing to read: EAGAIN nonblocking, a timeout with settimeout",
          "[splice][settimeout][setblocking]") {
  Connected c = connected_pair();
  Pipe pipe;
  const std::string peer = c.client.getsockname().to_string();
  SECTION("nonblocking: WouldBlockError") {
    c.server.setblocking(false);
    REQUIRE_THROWS_MATCHES(
        c.server.splice_to(pipe.fds[1], 1024), WouldBlockError,
        Catch::Matchers::Message("splice " + peer + ": EAGAIN (Resource temporarily unavailable)"));
  }
  SECTION("timeout: TimeoutError after the timeout") {
    c.server.settimeout(Seconds(0.05));
    REQUIRE_THROWS_MATCHES(c.server.splice_to(pipe.fds[1], 1024), TimeoutError,
                           Catch::Matchers::Message("splice " + peer + ": timed out after 0.05 s"));
    c.client.sendall("late");
    CHECK(c.server.splice_to(pipe.fds[1], 1024) == 4);
    CHECK(pipe.read_all(4) == "late");
  }
}

TEST_CASE("splice_to into something that is not a pipe is EINVAL", "[splice]") {
  Connected c = connected_pair();
  c.client.sendall("x");
  const int not_a_pipe = c.client.fileno();  // splice needs a pipe at one end
  CHECK_THROWS_MATCHES(
      c.server.splice_to(not_a_pipe, 16), SocketError,
      Catch::Matchers::Predicate<SocketError>(
          [](const SocketError& e) { return e.error_number() == EINVAL; }, "errno is EINVAL"));
  CHECK(c.server.recv(16) == "x");  // nothing was lost
}

TEST_CASE("sendmsg sends many pieces as one stream, at most IOV_MAX of them", "[sendmsg][send]") {
  Connected c = connected_pair();
  CHECK(c.client.sendmsg({"<a> hi\n", "", "<b> yo\n"}) == 14);
  CHECK(c.server.recv(64) == "<a> hi\n<b> yo\n");
  std::vector<std::string_view> many(IOV_MAX + 10, "x");
  CHECK(c.client.sendmsg(many) == IOV_MAX);  // the rest is the caller's next call
  std::string got;
  while (got.size() < IOV_MAX) got += c.server.recv(4096);
  CHECK(got == std::string(IOV_MAX, 'x'));
}

TEST_CASE("sendmsg to a closed peer is EPIPE, not SIGPIPE", "[sendmsg]") {
  Connected c = connected_pair();
  c.server.close();
  CHECK(eventually([&] {
    return errno_of([&] {
             for (int i = 0; i < 4; ++i) c.client.sendmsg({"a", "b"});
           }) == EPIPE;
  }));
}

TEST_CASE("sendfile sends a file from its offset, and 0 at its end", "[sendfile][send]") {
  Connected c = connected_pair();
  char path[] = "/tmp/sockchat-sendfile-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  REQUIRE(::write(fd, "0123456789", 10) == 10);
  REQUIRE(::lseek(fd, 2, SEEK_SET) == 2);
  CHECK(c.client.sendfile(fd, 5) == 5);  // bytes 2..6; the offset moves on
  CHECK(c.server.recv(16) == "23456");
  CHECK(c.client.sendfile(fd, 100) == 3);
  CHECK(c.server.recv(16) == "789");
  CHECK(c.client.sendfile(fd, 100) == 0);
  ::close(fd);
}
