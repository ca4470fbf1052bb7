// loopback.hpp — small helpers the socket tests share: loopback addresses, a connected
// TCP pair, a port where nobody listens, and probes of a raw descriptor's state.
// Everything stays on 127.0.0.1, ::1 or unix sockets; ports come from the kernel (port 0).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/socket.hpp"

namespace sockchat::test {

inline Address loopback4(std::uint16_t port = 0) {
  return *Address::from_literal("127.0.0.1", port);
}

inline Address loopback6(std::uint16_t port = 0) {
  return *Address::from_literal("::1", port);
}

// A listening socket on `where` (port 0: the kernel picks one) and the address it got.
struct Listener {
  Socket socket;
  Address address;
};

inline Listener listen_on(const Address& where, int backlog = 8, int type = SOCK_STREAM) {
  Socket s(where.family(), type);
  s.bind(where);
  s.listen(backlog);
  Address bound = s.getsockname();
  return {std::move(s), std::move(bound)};
}

// A connected TCP (or unix stream) pair: client → server, with the listener kept alive.
struct Connected {
  Listener listener;
  Socket client;
  Socket server;
};

inline Connected connected_pair(const Address& where = loopback4()) {
  Connected c{listen_on(where), Socket(where.family(), SOCK_STREAM), Socket()};
  c.client.connect(c.listener.address);  // queued by the kernel before accept
  c.server = c.listener.socket.accept().first;
  return c;
}

// A connected pair with 4 KiB buffers at both ends, so that send() takes less than it is
// given and sendall() must loop. (With a send buffer below one loopback segment, 64 KiB,
// and a big receive window, Linux waits for delayed ACKs, ~40 ms each. The receive buffer
// is set before listen: the window scale is agreed in the handshake.)
inline Connected small_buffer_pair() {
  Socket listener(AF_INET, SOCK_STREAM);
  listener.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096);
  listener.bind(loopback4());
  listener.listen(1);
  Address bound = listener.getsockname();
  Socket client(AF_INET, SOCK_STREAM);
  client.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  client.connect(bound);
  Socket server = listener.accept().first;
  return {{std::move(listener), std::move(bound)}, std::move(client), std::move(server)};
}

// An address where nobody listens: a socket bound but not listening holds the port, so no
// other test can take it while `holder` lives, and a SYN to it gets RST (ECONNREFUSED).
struct ClosedPort {
  Socket holder;
  Address address;
};

inline ClosedPort closed_port() {
  Socket s(AF_INET, SOCK_STREAM);
  s.bind(loopback4());
  Address a = s.getsockname();
  return {std::move(s), std::move(a)};
}

// 0 if fd is an open descriptor, else errno (EBADF once it has been closed).
inline int fd_state(int fd) {
  return ::fcntl(fd, F_GETFD) == -1 ? errno : 0;
}

inline bool nonblocking_flag(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

// Runs `body` and returns the errno of the SocketError it throws (0 if none).
inline int errno_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const SocketError& e) {
    return e.error_number();
  }
  return 0;
}

// Polls `condition` until it holds or `limit` passes: tests never sleep for a guess.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the polling interval
  }
  return condition();
}

// The scheduler state of thread `tid` from /proc ('S': asleep, e.g. blocked in recv), so a
// test can wait until another thread is really blocked instead of sleeping for a guess.
inline char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '?';
}

// A fresh directory for unix socket paths, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sockchat-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Can this machine use ::1? (Containers sometimes run with IPv6 disabled.)
inline bool ipv6_loopback_available() {
  try {
    Socket s(AF_INET6, SOCK_STREAM);
    s.bind(loopback6());
    return true;
  } catch (const SocketError&) {
    return false;
  }
}

}  // namespace sockchat::test

// Failed checks print addresses as "127.0.0.1:8000" rather than "{?}".
template <>
struct Catch::StringMaker<sockchat::Address> {
  static std::string convert(const sockchat::Address& a) { return a.to_string(); }
};
