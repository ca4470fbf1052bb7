// Lesson 08 — socket options: reading and changing how the kernel treats a socket.
//
// getsockopt/setsockopt take a level (SOL_SOCKET for every socket, IPPROTO_TCP for TCP)
// and an option. SO_REUSEADDR lets a server bind a port that still has connections in
// TIME_WAIT; TCP_NODELAY turns off Nagle's algorithm; SO_RCVBUF is doubled by Linux for
// its bookkeeping; SO_KEEPALIVE probes idle peers. Read: socket(7), tcp(7).
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstdio>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

static void flip(Socket& s, int level, int option) {
  const int before = s.getsockopt(level, option);
  s.setsockopt(level, option, 1);
  std::printf("%-13s %d -> %d\n", trace::option_name(level, option).c_str(), before,
              s.getsockopt(level, option));
}

// A server that closes a connection first leaves it in TIME_WAIT (about 60 s); then it
// stops, and is restarted at once on the same port. Both runs set SO_REUSEADDR, or not:
// Linux lets a bind reuse a TIME_WAIT port only if the old socket had it set too.
static void restart(bool reuse) {
  Address port;
  {
    Socket server(AF_INET, SOCK_STREAM);
    if (reuse) server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    server.bind(*Address::from_literal("127.0.0.1", 0));
    server.listen(1);
    port = server.getsockname();
    Socket client(AF_INET, SOCK_STREAM);
    client.connect(port);
    auto [conn, peer] = server.accept();
    conn.close();     // the server closes first: its side will wait in TIME_WAIT
    client.recv(16);  // the client sees the FIN (0 bytes) and closes too
  }                   // the server stops: every socket of the first run is closed
  Socket again(AF_INET, SOCK_STREAM);
  if (reuse) again.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  const char* how = reuse ? "with   " : "without";
  try {
    again.bind(port);
    std::printf("restart %s SO_REUSEADDR: bind ok\n", how);
  } catch (const SocketError& e) {
    std::printf("restart %s SO_REUSEADDR: bind failed, %s\n", how,
                errno_name(e.error_number()).c_str());
  }
}

int main() {
  Socket s(AF_INET, SOCK_STREAM);
  flip(s, SOL_SOCKET, SO_REUSEADDR);
  flip(s, SOL_SOCKET, SO_KEEPALIVE);
  flip(s, IPPROTO_TCP, TCP_NODELAY);
  s.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536);
  std::printf("SO_RCVBUF     set 65536, read back %d (Linux doubles it)\n",
              s.getsockopt(SOL_SOCKET, SO_RCVBUF));
  std::printf("SO_TYPE       is SOCK_STREAM: %s\n",
              s.getsockopt(SOL_SOCKET, SO_TYPE) == SOCK_STREAM ? "yes" : "no");

  restart(false);  // the tutorial's server
  restart(true);   // sockchat's servers
}
