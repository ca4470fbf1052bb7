// Lesson 02 — a TCP server: socket → setsockopt(SO_REUSEADDR) → bind → listen → accept.
//
// listen() turns a socket into a passive one: the kernel completes handshakes by itself
// and queues the new connections (up to the backlog); accept() takes one from the queue
// and returns a NEW socket for that client. Here the client runs in the same thread: its
// connect() succeeds before accept() is called, because the kernel queued it.
// Read: bind(2), listen(2), accept(2), socket(7) on SO_REUSEADDR.
#include <netinet/in.h>

#include <cstdio>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

int main() {
  Socket server(AF_INET, SOCK_STREAM);
  server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);  // restart at once (lesson 08)
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(5);  // Python: server.listen(5)
  const Address where = server.getsockname();
  std::printf("listening on %s (the port the kernel chose)\n", where.host().c_str());

  // Two clients connect before anyone accepts: both wait in the backlog queue.
  Socket alice(AF_INET, SOCK_STREAM);
  alice.connect(where);
  Socket bob(AF_INET, SOCK_STREAM);
  bob.connect(where);
  std::printf("two clients connected before accept(): the kernel queued them\n");

  // accept() returns the connection's own socket and the client's address.
  auto [conn, peer] = server.accept();  // Python: conn, address = server.accept()
  std::printf("accepted the first in line: alice? %s\n",
              peer == alice.getsockname() ? "yes" : "no");
  std::printf("getpeername on the new socket gives the same address: %s\n",
              conn.getpeername() == peer ? "yes" : "no");
  std::printf("the listening socket and the connection differ: %s\n",
              conn.fileno() != server.fileno() ? "yes" : "no");

  alice.sendall("hello\n");
  std::printf("the server's recv(1024) -> %s\n", trace::quote(conn.recv(1024)).c_str());
  conn.sendall("hi alice\n");
  std::printf("alice's recv(1024) -> %s\n", trace::quote(alice.recv(1024)).c_str());

  // A second server on the same port: the address is taken.
  Socket second(AF_INET, SOCK_STREAM);
  try {
    second.bind(where);
  } catch (const SocketError& e) {
    std::printf("a second bind to the same port: %s\n", errno_name(e.error_number()).c_str());
  }
  alice.close();
  std::printf("after alice closed, recv returns %zu bytes: the end of the stream\n",
              conn.recv(1024).size());
}
