// Lesson 13 — under the wrapper: an echo server and client written with the raw calls.
//
// The course's one deliberate exception to "lessons use core/ only": this file shows what
// core/ hides, so it calls the C library itself. wrapped.cpp is the same program on core/.
// What the wrapper does for you, done here by hand:
//   - getaddrinfo returns a LIST of addresses: try each until one works, then free the list;
//   - a call fails by returning -1 and leaving the reason in errno (read it at once);
//   - a signal may interrupt a blocking call (-1, EINTR): ask again;
//   - send may take less than it was given: loop until all is sent;
//   - the port inside sockaddr_in is in network byte order: htons going in, ntohs coming out.
// Read: getaddrinfo(3), socket(2), bind(2), listen(2), accept(2), connect(2), recv(2),
// send(2), errno(3), ip(7), ipv6(7).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// "127.0.0.1 port 8000" for an IPv4 or IPv6 socket address.
static std::string describe(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);  // stored big-endian: network byte order
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  return std::string(host) + " port " + std::to_string(port);
}

[[noreturn]] static void die(const char* call, int err) {
  std::fprintf(stderr, "%s: -1 %s (%s)\n", call, strerrorname_np(err), std::strerror(err));
  std::exit(1);
}

// getaddrinfo reports its own error codes (EAI_*), not errno: gai_strerror reads them.
static addrinfo* lookup(const char* host, const char* port, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;      // IPv4 or IPv6, whatever the name has
  hints.ai_socktype = SOCK_STREAM;  // TCP
  hints.ai_flags = flags;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host, port, &hints, &list);
  if (rc != 0) {
    std::fprintf(stderr, "getaddrinfo %s: %s\n", host, gai_strerror(rc));
    std::exit(1);
  }
  return list;
}

// The getaddrinfo loop: socket + connect on each address in turn until one connects.
static int connect_to(const char* host, const char* port) {
  addrinfo* list = lookup(host, port, 0);
  int fd = -1;
  for (const addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;  // this family is not supported here: try the next address
    // Not retried on EINTR: an interrupted connect goes on in the background (connect(2)).
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      std::printf("connect %s: 0\n", describe(ai->ai_addr).c_str());
    } else {
      const int err = errno;  // before printf, which may change errno
      std::printf("connect %s: -1 %s\n", describe(ai->ai_addr).c_str(), strerrorname_np(err));
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(list);
  if (fd < 0) {
    std::fprintf(stderr, "no address of %s accepted the connection\n", host);
    std::exit(1);
  }
  return fd;
}

// The same loop for a server: socket + SO_REUSEADDR + bind on the first address that binds.
static int listen_on(const char* host, const char* port) {
  addrinfo* list = lookup(host, port, AI_PASSIVE);
  int fd = -1, err = 0;
  for (const addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      std::printf("listening on %s\n", describe(ai->ai_addr).c_str());
    } else {
      err = errno;  // close may change errno
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(list);
  if (fd < 0) die("bind", err);
  if (listen(fd, 5) < 0) die("listen", errno);
  return fd;
}

// send until every byte is queued. MSG_NOSIGNAL: a vanished peer is -1 EPIPE, not SIGPIPE.
static bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;  // interrupted before sending anything
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

static ssize_t recv_some(int fd, char* buffer, size_t size) {
  ssize_t n;
  do {
    n = recv(fd, buffer, size, 0);
  } while (n < 0 && errno == EINTR);
  return n;  // 0: the peer closed; -1: errno says why
}

static void serve(const char* host, const char* port) {
  const int server = listen_on(host, port);
  for (;;) {
    sockaddr_storage peer{};  // big enough for sockaddr_in and sockaddr_in6
    socklen_t size = sizeof peer;
    const int conn = accept(server, reinterpret_cast<sockaddr*>(&peer), &size);
    if (conn < 0 && errno == EINTR) continue;
    if (conn < 0) die("accept", errno);
    const std::string who = describe(reinterpret_cast<sockaddr*>(&peer));
    std::printf("%s connected\n", who.c_str());
    char buffer[1024];
    ssize_t n;
    while ((n = recv_some(conn, buffer, sizeof buffer)) > 0 && send_all(conn, buffer, n)) {
      std::printf("echoed %zd bytes\n", n);
    }
    std::printf("%s closed\n", who.c_str());
    close(conn);
  }
}

// Each line of stdin goes out, and the client reads until the same number of bytes has
// come back: one recv may return part of the echo, or (with more lines) several.
static void chat(const char* host, const char* port) {
  const int fd = connect_to(host, port);
  char line[1024];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    const size_t size = std::strlen(line);
    if (!send_all(fd, line, size)) die("send", errno);
    std::string echo;
    char buffer[1024];
    while (echo.size() < size) {
      const ssize_t n = recv_some(fd, buffer, sizeof buffer);
      if (n < 0) die("recv", errno);
      if (n == 0) break;  // the server closed
      echo.append(buffer, static_cast<size_t>(n));
    }
    std::printf("echo: %s", echo.c_str());
  }
  close(fd);
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line at once, in order with stderr
  const std::string mode = argc == 4 ? argv[1] : "";
  if (mode == "serve") serve(argv[2], argv[3]);
  if (mode == "connect") chat(argv[2], argv[3]);
  if (mode != "serve" && mode != "connect") {
    std::fprintf(stderr, "usage: %s serve|connect HOST PORT\n", argv[0]);
    return 2;
  }
}
