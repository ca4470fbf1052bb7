// test_trace.cpp — `--trace` is a contract (docs and lessons quote its lines), so each of
// the 20 calls of the table is checked for its exact line, and so are the results that
// tell the three modes apart: EAGAIN, EINPROGRESS and timeouts.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/socket.hpp"
#include "core/socket_file.hpp"
#include "core/trace.hpp"
#include "loopback.hpp"

using namespace sockchat;
using namespace sockchat::test;
using Seconds = std::chrono::duration<double>;

namespace {

// Collects trace lines while it lives (tracing on, lines to a sink instead of stderr).
class TraceCapture {
 public:
  TraceCapture() {
    trace::set_sink([this](std::string_view line) {
      const std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
    trace::enable(true);
  }
  ~TraceCapture() {
    trace::enable(false);
    trace::set_sink({});
  }
  TraceCapture(const TraceCapture&) = delete;
  TraceCapture& operator=(const TraceCapture&) = delete;

  // The lines so far, without the " <0.05s>" a slow call gets (it depends on the machine).
  std::vector<std::string> lines() const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (std::string line : lines_) out.push_back(strip_time(line));
    return out;
  }
  std::vector<std::string> raw_lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }
  bool has(const std::string& line) const {
    const auto all = lines();
    return std::find(all.begin(), all.end(), line) != all.end();
  }
  std::size_t count_starting(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& line : lines()) n += line.starts_with(prefix) ? 1 : 0;
    return n;
  }
  void clear() {
    const std::lock_guard lock(mutex_);
    lines_.clear();
  }

  static std::string strip_time(std::string line) {
    const auto open = line.rfind(" <");
    if (open != std::string::npos && line.ends_with("s>")) line.erase(open);
    return line;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// CHECKs that `line` was traced; on failure Catch prints every line that was.
#define CHECK_TRACED(capture, line)                                             \
  do {                                                                          \
    INFO("traced:\n" << fmt::format("{}", fmt::join((capture).lines(), "\n"))); \
    CHECK((capture).has(line));                                                 \
  } while (false)

}  // namespace

TEST_CASE("trace: socket, setsockopt, getsockopt, bind, getsockname, listen, fileno",
          "[trace][socket][setsockopt][getsockopt][bind][getsockname][listen][fileno]") {
  TraceCapture cap;
  Socket s(AF_INET, SOCK_STREAM);
  const int fd = s.fileno();
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.getsockopt(SOL_SOCKET, SO_REUSEADDR);
  s.bind(loopback4());
  const auto port = s.getsockname().port();
  s.listen(5);
  CHECK_TRACED(cap, fmt::format("socket(AF_INET, SOCK_STREAM, 0) = {}  # s = "
                                "socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
                                fd));
  CHECK_TRACED(cap, fmt::format("fileno({0}) = {0}  # s.fileno()", fd));
  CHECK_TRACED(cap, fmt::format("setsockopt({}, SOL_SOCKET, SO_REUSEADDR, 1) = 0  # "
                                "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
                                fd));
  CHECK_TRACED(cap, fmt::format("getsockopt({}, SOL_SOCKET, SO_REUSEADDR) = 1  # "
                                "s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)",
                                fd));
  CHECK_TRACED(cap, fmt::format("bind({}, 127.0.0.1:0) = 0  # s.bind(('127.0.0.1', 0))", fd));
  CHECK_TRACED(cap, fmt::format("getsockname({}) = 0 127.0.0.1:{}  # s.getsockname()", fd, port));
  CHECK_TRACED(cap, fmt::format("listen({}, 5) = 0  # s.listen(5)", fd));
}

TEST_CASE("trace: connect, accept, send, recv, sendall, getpeername, makefile, close",
          "[trace][connect][accept][send][recv][sendall][getpeername][makefile][close]") {
  Listener l = listen_on(loopback4());
  const int lfd = l.socket.fileno();
  const auto port = l.address.port();
  TraceCapture cap;
  Socket client(AF_INET, SOCK_STREAM);
  const int cfd = client.fileno();
  client.connect(l.address);
  const auto cport = client.getsockname().port();
  auto [conn, peer] = l.socket.accept();
  const int afd = conn.fileno();
  client.send("hello\n");
  conn.recv(1024);
  client.sendall("bye");
  client.getpeername();
  SocketFile f = conn.makefile();
  client.close();
  CHECK_TRACED(cap, fmt::format("connect({}, 127.0.0.1:{}) = 0  # s.connect(('127.0.0.1', {}))",
                                cfd, port, port));
  CHECK_TRACED(cap, fmt::format("accept({}) = {} from 127.0.0.1:{}  # conn, addr = s.accept()", lfd,
                                afd, cport));
  CHECK_TRACED(cap, fmt::format(R"(send({}, "hello\n") = 6  # s.send(b"hello\n"))", cfd));
  CHECK_TRACED(cap, fmt::format(R"(recv({}, 1024) = 6 "hello\n"  # s.recv(1024))", afd));
  CHECK_TRACED(cap, fmt::format(R"(send({}, "bye") = 3  # s.send(b"bye"))", cfd));
  CHECK_TRACED(cap, fmt::format("sendall({}, 3 bytes) = 0  # s.sendall(data)", cfd));
  CHECK_TRACED(cap, fmt::format("getpeername({}) = 0 127.0.0.1:{}  # s.getpeername()", cfd, port));
  CHECK_TRACED(cap, fmt::format("makefile({}) = <SocketFile>  # f = s.makefile('rwb')", afd));
  CHECK_TRACED(cap, fmt::format("close({}) = 0  # s.close()", cfd));
}

TEST_CASE("trace: splice shows the pipe it fills and Python's os.splice", "[trace][splice]") {
  Connected c = connected_pair();
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  c.client.sendall("spliced");
  TraceCapture cap;
  c.server.splice_to(fds[1], 4096);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK_TRACED(cap, fmt::format("splice({}, NULL, {}, NULL, 4096, SPLICE_F_MOVE) = 7  "
                                "# os.splice(s.fileno(), {}, 4096)",
                                c.server.fileno(), fds[1], fds[1]));
}

TEST_CASE("trace: settimeout, gettimeout, setblocking show the fcntl and the mode",
          "[trace][settimeout][gettimeout][setblocking]") {
  TraceCapture cap;
  Socket s(AF_INET, SOCK_STREAM);
  const int fd = s.fileno();
  s.settimeout(Seconds(2.5));
  s.gettimeout();
  s.setblocking(true);
  s.gettimeout();
  s.setblocking(false);
  s.gettimeout();
  CHECK_TRACED(cap, fmt::format("fcntl({}, F_SETFL, O_NONBLOCK) = 0  # s.settimeout(2.5)", fd));
  CHECK_TRACED(cap, fmt::format("gettimeout({}) = 2.5  # s.gettimeout()", fd));
  CHECK_TRACED(cap, fmt::format("fcntl({}, F_SETFL, ~O_NONBLOCK) = 0  # s.setblocking(True)", fd));
  CHECK_TRACED(cap, fmt::format("gettimeout({}) = None  # s.gettimeout()", fd));
  CHECK_TRACED(cap, fmt::format("fcntl({}, F_SETFL, O_NONBLOCK) = 0  # s.setblocking(False)", fd));
  CHECK_TRACED(cap, fmt::format("gettimeout({}) = 0  # s.gettimeout()", fd));
}

TEST_CASE("trace: sendto and recvfrom show the datagram and its sender",
          "[trace][sendto][recvfrom]") {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(loopback4());
  const auto rport = receiver.getsockname().port();
  Socket sender(AF_INET, SOCK_DGRAM);
  sender.bind(loopback4());
  const auto sport = sender.getsockname().port();
  TraceCapture cap;
  sender.sendto("ping", receiver.getsockname());
  char buffer[64];
  receiver.recvfrom(buffer, sizeof buffer);
  sender.sendto(std::string(10, 'x'), receiver.getsockname());
  receiver.recvfrom(buffer, 4);
  CHECK_TRACED(cap, fmt::format(R"(sendto({}, "ping", 127.0.0.1:{}) = 4  # )"
                                R"(s.sendto(data, ('127.0.0.1', {})))",
                                sender.fileno(), rport, rport));
  CHECK_TRACED(cap, fmt::format(R"(recvfrom({}, 64) = 4 "ping" from 127.0.0.1:{}  # )"
                                R"(data, addr = s.recvfrom(64))",
                                receiver.fileno(), sport));
  CHECK_TRACED(cap, fmt::format(R"(recvfrom({}, 4) = 10 "xxxx" from 127.0.0.1:{} (truncated))"
                                R"(  # data, addr = s.recvfrom(4))",
                                receiver.fileno(), sport));
}

TEST_CASE("trace: failures are -1 with errno's name, as strace prints them",
          "[trace][connect][connect_ex][bind][close]") {
  ClosedPort closed = closed_port();
  const auto port = closed.address.port();
  TraceCapture cap;
  Socket a(AF_INET, SOCK_STREAM);
  CHECK(errno_of([&] { a.connect(closed.address); }) == ECONNREFUSED);
  Socket b(AF_INET, SOCK_STREAM);
  CHECK(b.connect_ex(closed.address) == ECONNREFUSED);
  Socket c(AF_INET, SOCK_STREAM);
  CHECK(errno_of([&] { c.bind(closed.address); }) == EADDRINUSE);
  const int fd = ::dup(c.fileno());
  Socket d = Socket::adopt(fd, AF_INET, SOCK_STREAM);
  ::close(fd);
  d.close();
  CHECK_TRACED(cap, fmt::format("connect({}, 127.0.0.1:{}) = -1 ECONNREFUSED (Connection "
                                "refused)  # s.connect(('127.0.0.1', {}))",
                                a.fileno(), port, port));
  CHECK_TRACED(cap, fmt::format("connect({}, 127.0.0.1:{}) = -1 ECONNREFUSED (Connection "
                                "refused)  # s.connect_ex(('127.0.0.1', {}))",
                                b.fileno(), port, port));
  CHECK_TRACED(cap, fmt::format("bind({}, 127.0.0.1:{}) = -1 EADDRINUSE (Address already in "
                                "use)  # s.bind(('127.0.0.1', {}))",
                                c.fileno(), port, port));
  CHECK_TRACED(cap, fmt::format("close({}) = -1 EBADF (Bad file descriptor)  # s.close()", fd));
}

TEST_CASE("trace: the three modes side by side — blocks, EAGAIN, a timeout",
          "[trace][recv][settimeout][setblocking]") {
  Connected c = connected_pair();
  const int fd = c.server.fileno();
  TraceCapture cap;
  c.server.setblocking(false);
  CHECK_THROWS_AS(c.server.recv(16), WouldBlockError);
  c.server.settimeout(Seconds(0.05));
  CHECK_THROWS_AS(c.server.recv(16), TimeoutError);
  c.server.settimeout(std::nullopt);
  c.client.sendall("data");
  c.server.recv(16);
  CHECK_TRACED(cap, fmt::format("recv({}, 16) = -1 EAGAIN (Resource temporarily unavailable)  "
                                "# s.recv(16)",
                                fd));
  CHECK_TRACED(cap, fmt::format("recv({}, 16) = -1 ETIMEDOUT (timed out after 0.05 s)  # "
                                "s.recv(16)",
                                fd));
  CHECK_TRACED(cap, fmt::format(R"(recv({}, 16) = 4 "data"  # s.recv(16))", fd));
  // The timed-out call waited, and says how long, as strace -T does.
  bool waited_shown = false;
  for (const auto& line : cap.raw_lines()) {
    if (line.find("ETIMEDOUT") != std::string::npos) waited_shown = line.ends_with("s>");
  }
  CHECK(waited_shown);
}

TEST_CASE("trace: a nonblocking connect is EINPROGRESS; a timed one can time out",
          "[trace][connect][connect_ex][settimeout]") {
  Listener l = listen_on(loopback4(), 0);
  const auto port = l.address.port();
  TraceCapture cap;
  Socket nb(AF_INET, SOCK_STREAM);
  nb.setblocking(false);
  CHECK(nb.connect_ex(l.address) == EINPROGRESS);
  CHECK_TRACED(cap, fmt::format("connect({}, 127.0.0.1:{}) = -1 EINPROGRESS (Operation now in "
                                "progress)  # s.connect_ex(('127.0.0.1', {}))",
                                nb.fileno(), port, port));
  // listen(0) queues one connection; the accept queue fills and further SYNs are dropped.
  std::vector<Socket> sockets;
  for (int i = 0; i < 4; ++i) {
    Socket s(AF_INET, SOCK_STREAM);
    s.settimeout(Seconds(0.05));
    const int err = s.connect_ex(l.address);
    const int fd = s.fileno();
    sockets.push_back(std::move(s));
    if (err == ETIMEDOUT) {
      CHECK_TRACED(cap, fmt::format("connect({}, 127.0.0.1:{}) = -1 ETIMEDOUT (timed out after "
                                    "0.05 s)  # s.connect_ex(('127.0.0.1', {}))",
                                    fd, port, port));
      return;
    }
  }
  FAIL("no connect timed out against a full accept queue");
}

TEST_CASE("trace: sendall is a visible loop of send calls", "[trace][sendall][send]") {
  Connected c = small_buffer_pair();
  Socket& client = c.client;
  Socket& server = c.server;
  client.settimeout(Seconds(10));  // nonblocking inside: send() takes what fits
  const std::string data(1024 * 1024, 'x');
  std::size_t received = 0;
  TraceCapture cap;
  std::thread reader([&] {
    char buffer[64 * 1024];
    try {
      for (std::size_t n; (n = server.recv(buffer, sizeof buffer)) > 0;) received += n;
    } catch (const SocketError&) {
    }
  });
  try {
    client.sendall(data);
    client.shutdown(SHUT_WR);
  } catch (...) {
    client.close();
    reader.join();
    throw;
  }
  reader.join();
  CHECK(received == data.size());
  CHECK(cap.count_starting(fmt::format("send({}, ", client.fileno())) > 1);
  CHECK_TRACED(cap,
               fmt::format("sendall({}, 1048576 bytes) = 0  # s.sendall(data)", client.fileno()));
  CHECK_TRACED(
      cap, fmt::format("shutdown({}, SHUT_WR) = 0  # s.shutdown(socket.SHUT_WR)", client.fileno()));
}

TEST_CASE("trace: nothing is written while tracing is off", "[trace]") {
  std::vector<std::string> lines;
  trace::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  {
    Socket s(AF_INET, SOCK_STREAM);
    s.bind(loopback4());
  }
  trace::set_sink({});
  CHECK(lines.empty());
}

TEST_CASE("trace: without a sink, lines go to stderr, one write each", "[trace]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  trace::enable(true);
  trace::emit("first line");
  trace::emit("second");
  trace::enable(false);
  ::dup2(saved, STDERR_FILENO);  // stderr back before any CHECK can print
  ::close(saved);
  ::close(fds[1]);
  char buffer[256];
  std::string got;
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) got.append(buffer, n);
  ::close(fds[0]);
  CHECK(got == "first line\nsecond\n");
}

TEST_CASE("trace::quote shows bytes as a C string literal, cut after max", "[trace]") {
  CHECK(trace::quote("hello\n") == R"("hello\n")");
  CHECK(trace::quote("tab\there\r") == R"("tab\there\r")");
  CHECK(trace::quote("say \"hi\" \\o/") == R"("say \"hi\" \\o/")");
  CHECK(trace::quote(std::string("\0\x1b\xff", 3)) == R"("\x00\x1b\xff")");
  CHECK(trace::quote("你") == R"("\xe4\xbd\xa0")");
  CHECK(trace::quote("abcdef", 3) == R"("abc"...)");
  CHECK(trace::quote("") == R"("")");
}

TEST_CASE("trace names families, types, levels and options", "[trace]") {
  CHECK(trace::family_name(AF_INET6) == "AF_INET6");
  CHECK(trace::family_name(AF_UNIX) == "AF_UNIX");
  CHECK(trace::type_name(SOCK_DGRAM | SOCK_NONBLOCK) == "SOCK_DGRAM|SOCK_NONBLOCK");
  CHECK(trace::level_name(IPPROTO_TCP) == "IPPROTO_TCP");
  CHECK(trace::option_name(IPPROTO_TCP, TCP_NODELAY) == "TCP_NODELAY");
  CHECK(trace::option_name(SOL_SOCKET, SO_BROADCAST) == "SO_BROADCAST");
  CHECK(trace::option_name(SOL_SOCKET, 9999) == "9999");
}
