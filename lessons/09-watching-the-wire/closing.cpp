// Lesson 09 — the end of a connection: FIN (an orderly close) and RST (an abort).
//
// close() or shutdown(SHUT_WR) sends FIN: the peer's recv() returns 0 bytes once it has
// read everything before it. A close with SO_LINGER {on, 0 s} sends RST instead: the
// peer's next call fails with ECONNRESET, and unread data is thrown away. tshark shows
// both on the wire (see the README). Read: tcp(7), shutdown(2), socket(7) on SO_LINGER.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/socket.hpp"
#include "core/wait.hpp"

using namespace sockchat;

struct Pair {
  Socket client, conn;
};

static Pair connected(Socket& server) {  // the three-way handshake: SYN, SYN-ACK, ACK
  Pair p{Socket(AF_INET, SOCK_STREAM), {}};
  p.client.connect(server.getsockname());
  p.conn = server.accept().first;
  return p;
}

int main() {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(5);

  // 1. Half-close: the client says "I am done sending" but can still receive.
  Pair a = connected(server);
  a.client.sendall("bye\n");
  a.client.shutdown(SHUT_WR);  // FIN
  const std::string data = a.conn.recv(64);
  std::printf("server read %s, then %zu bytes: FIN seen\n", trace::quote(data).c_str(),
              a.conn.recv(64).size());
  a.conn.sendall("still here\n");  // the other direction is still open
  std::printf("the half-closed client still receives: %s\n",
              a.client.recv(64) == "still here\n" ? "yes" : "no");

  // 2. Abort: SO_LINGER with a zero timeout makes close() send RST.
  Pair b = connected(server);
  linger abort{1, 0};
  b.client.setsockopt(SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  b.client.close();  // RST
  try {
    b.conn.recv(64);
  } catch (const SocketError& e) {
    std::printf("after RST, the server's recv: %s\n", errno_name(e.error_number()).c_str());
  }

  // 3. Writing to a peer that has gone: an error, not a SIGPIPE that kills the program.
  // The first call reports the reset itself; after that the connection is just closed.
  Pair c = connected(server);
  c.client.setsockopt(SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  c.client.close();
  // The RST is readable news on the other side: wait (bounded) until it has arrived.
  wait_ready(c.conn.fileno(), POLLIN, Deadline(std::chrono::seconds(5)));
  for (int i = 0; i < 2; ++i) {
    try {
      c.conn.send("anyone?\n");
      std::printf("send %d: passed\n", i + 1);
    } catch (const SocketError& e) {
      std::printf("send %d to a reset connection: %s\n", i + 1,
                  errno_name(e.error_number()).c_str());
    }
  }
}
