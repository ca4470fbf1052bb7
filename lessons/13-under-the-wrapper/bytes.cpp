// Lesson 13 — what the raw calls make you see: byte order, lost message boundaries, EINTR.
//
// Raw calls on purpose (see raw.cpp).
//  - A port or an IPv4 address inside sockaddr_in is stored big-endian, "network byte
//    order"; x86-64 keeps numbers little-endian, so htons/htonl swap the bytes going in
//    and ntohs/ntohl swap them back. sin_family is NOT swapped: the kernel reads it.
//  - TCP keeps bytes, not sends: two sends can come out of one recv (and one send out of
//    several). Chinese textbooks call this 粘包, "stuck packets"; the cure is a framing.
//  - A signal that arrives while recv waits, with a handler installed without SA_RESTART,
//    makes recv return -1 with errno EINTR: nothing was read, ask again.
// Read: byteorder(3), ip(7), recv(2), signal(7) ("Interruption of system calls").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

static std::string hex(const void* data, size_t size) {
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    char byte[4];
    std::snprintf(byte, sizeof byte, "%s%02x", i ? " " : "",
                  static_cast<const unsigned char*>(data)[i]);
    out += byte;
  }
  return out;
}

static std::string quoted(const char* data, ssize_t size) {
  std::string out = "\"";
  for (ssize_t i = 0; i < size; ++i)
    out += data[i] == '\n' ? std::string("\\n") : std::string(1, data[i]);
  return out + "\"";
}

static void byte_order() {
  const uint16_t port = 8080;
  const uint16_t wire = htons(port);
  std::printf("port %u is 0x%04x\n", port, port);
  std::printf("  in memory, as this machine keeps it (little-endian): %s\n", hex(&port, 2).c_str());
  std::printf("  in memory after htons, network byte order (big-endian): %s\n",
              hex(&wire, 2).c_str());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  std::printf("sockaddr_in for 127.0.0.1 port %u, %zu bytes:\n", port, sizeof a);
  std::printf("  sin_family %s, sin_port %s, sin_addr %s, padding %s\n",
              hex(&a.sin_family, 2).c_str(), hex(&a.sin_port, 2).c_str(),
              hex(&a.sin_addr, 4).c_str(), hex(&a.sin_zero, 8).c_str());
  std::printf("sockaddr_in6 is %zu bytes: it does not fit in a sockaddr (%zu)\n",
              sizeof(sockaddr_in6), sizeof(sockaddr));
}

// A connected pair on loopback (error checks left out: lesson 13's raw.cpp has them).
static void connected_pair(int* client, int* server) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof where;
  bind(listener, reinterpret_cast<sockaddr*>(&where), size);
  listen(listener, 1);
  getsockname(listener, reinterpret_cast<sockaddr*>(&where), &size);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  connect(*client, reinterpret_cast<sockaddr*>(&where), size);
  *server = accept(listener, nullptr, nullptr);
  close(listener);
}

static void boundaries(int client, int server) {
  send(client, "hello\n", 6, 0);
  send(client, "again\n", 6, 0);
  char buffer[1024];
  // Wait, without reading, until both sends have arrived: a busy server reads this late.
  recv(server, buffer, 12, MSG_PEEK | MSG_WAITALL);
  const ssize_t n = recv(server, buffer, sizeof buffer, 0);
  std::printf("two sends of 6 bytes, then one recv(1024): %zd bytes %s\n", n,
              quoted(buffer, n).c_str());
}

static void on_alarm(int) {}  // its only job: to exist, so SIGALRM interrupts instead of killing

static void interrupted(int client, int server) {
  struct sigaction action {};
  action.sa_handler = on_alarm;
  action.sa_flags = 0;  // no SA_RESTART: a blocked recv returns EINTR
  sigaction(SIGALRM, &action, nullptr);
  itimerval in_100ms{};
  in_100ms.it_value.tv_usec = 100000;
  setitimer(ITIMER_REAL, &in_100ms, nullptr);
  char buffer[1024];
  ssize_t n = recv(server, buffer, sizeof buffer, 0);  // nobody sends: it waits for the alarm
  const int err = errno;
  std::printf("recv while a signal arrived: %zd %s (%s)\n", n, strerrorname_np(err),
              std::strerror(err));
  send(client, "late\n", 5, 0);
  if (n < 0 && err == EINTR) n = recv(server, buffer, sizeof buffer, 0);  // ask again
  std::printf("asked again: %zd bytes %s\n", n, quoted(buffer, n).c_str());
}

int main() {
  byte_order();
  int client = -1, server = -1;
  connected_pair(&client, &server);
  boundaries(client, server);
  interrupted(client, server);
}
