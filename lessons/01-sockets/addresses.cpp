// Lesson 01 — what a socket is: a descriptor with a family and a type, and an address.
//
// socket() asks the kernel for an endpoint and returns a small number (fileno). It has no
// address until bind() gives it one, or connect() lets the kernel pick one; getsockname()
// tells which. Read: socket(2), socket(7), ip(7), ipv6(7), unix(7), getsockname(2).
#include <netinet/in.h>

#include <cstdio>

#include "core/address.hpp"
#include "core/socket.hpp"

using namespace sockchat;

// Python: s = socket.socket(family, type); print(s.fileno())
static void make(int family, int type) {
  Socket s(family, type);
  std::printf("socket(%s, %s): fileno is a small number >= 3: %s\n",
              trace::family_name(family).c_str(), trace::type_name(type).c_str(),
              s.fileno() >= 3 ? "yes" : "no");
}  // the destructor closes it: close(2)

// The three spellings of one address: what C sees, what we print, what Python writes.
static void show(const char* host, std::uint16_t port) {
  const auto a = Address::from_literal(host, port);
  if (!a) {
    std::printf("%-22s not an address literal (a name needs getaddrinfo)\n", host);
    return;
  }
  std::printf("%-22s %-8s %-18s %s\n", host, trace::family_name(a->family()).c_str(),
              a->to_string().c_str(), a->to_python().c_str());
}

int main() {
  make(AF_INET, SOCK_STREAM);   // TCP over IPv4: the tutorial's socket
  make(AF_INET, SOCK_DGRAM);    // UDP over IPv4 (lesson 07)
  make(AF_INET6, SOCK_STREAM);  // TCP over IPv6
  make(AF_UNIX, SOCK_STREAM);   // a local socket, named by a path (lesson 11)

  show("127.0.0.1", 80);
  show("::1", 80);
  show("unix:/tmp/chat.sock", 0);
  show("localhost", 80);

  // A socket has no address until bind(); port 0 asks the kernel for any free port.
  Socket s(AF_INET, SOCK_STREAM);
  std::printf("before bind: getsockname = %s\n", s.getsockname().to_string().c_str());
  s.bind(*Address::from_literal("127.0.0.1", 0));
  const Address mine = s.getsockname();
  std::printf("after bind:  host %s, port chosen by the kernel: %s\n", mine.host().c_str(),
              mine.port() != 0 ? "yes" : "no");
  s.close();  // Python: s.close()
  std::printf("after close: the Socket is empty: %s\n", s ? "no" : "yes");
}
