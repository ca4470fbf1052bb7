// Lesson 13 — SIGPIPE, for real: a send to a peer that has gone away kills the process.
//
// Raw calls on purpose (see raw.cpp). The peer closes; our first send still succeeds
// (the bytes are queued, and the peer's kernel answers them with RST); the second send
// finds the connection reset, and the kernel sends SIGPIPE, whose default action ends the
// process at once: no error message, no cleanup, exit status 128 + 13 = 141. With
// --nosignal the sends carry MSG_NOSIGNAL and the second returns -1 EPIPE instead.
// core/ always passes MSG_NOSIGNAL (and sockchat also ignores SIGPIPE, for its stdout).
// Read: send(2) (EPIPE, MSG_NOSIGNAL), signal(7), tcp(7).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

[[noreturn]] static void die(const char* call) {
  std::printf("%s: -1 %s\n", call, strerrorname_np(errno));
  std::exit(1);
}

// A connected pair on loopback: returns the client's end, `*server` gets the accepted one.
static int connected_pair(int* server) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_port = htons(0);  // 0: the kernel picks a free port
  where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof where;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&where), size) < 0 ||
      listen(listener, 1) < 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&where), &size) < 0) {
    die("listen");
  }
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0 || connect(client, reinterpret_cast<sockaddr*>(&where), size) < 0) {
    die("connect");
  }
  *server = accept(listener, nullptr, nullptr);
  if (*server < 0) die("accept");
  close(listener);
  return client;
}

// Waits (up to 5 s) until the socket reports `events`: the peer's FIN, or its RST.
static void wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  if (poll(&p, 1, 5000) != 1) die("poll");
}

int main(int argc, char** argv) {
  // A process killed by a signal flushes nothing: print each line as it is made.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const bool nosignal = argc == 2 && std::strcmp(argv[1], "--nosignal") == 0;
  const int flags = nosignal ? MSG_NOSIGNAL : 0;
  int server = -1;
  const int client = connected_pair(&server);
  close(server);
  wait_for(client, POLLIN);  // its FIN has arrived: recv would return 0
  std::printf("the server closed its socket\n");

  const ssize_t first = send(client, "hello\n", 6, flags);
  std::printf("first send: %zd (queued; the server's kernel answers with RST)\n", first);
  wait_for(client, POLLERR | POLLHUP);  // the RST has arrived
  std::printf("second send%s...\n", nosignal ? " with MSG_NOSIGNAL" : "");
  const ssize_t second = send(client, "again\n", 6, flags);
  const int err = errno;
  std::printf("second send: %zd %s (%s): the program goes on and can say what happened\n", second,
              strerrorname_np(err), std::strerror(err));
}
