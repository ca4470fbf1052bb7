// Lesson 03 — a TCP client: connect() and connect_ex(), and what refusal looks like.
//
// connect() starts the three-way handshake and waits for it. If nobody listens on the
// port, the peer's kernel answers with RST and connect fails with ECONNREFUSED. Python's
// connect() raises; connect_ex() returns the error number instead (0 on success), which
// suits a port scanner. Read: connect(2), tcp(7), errno(3).
#include <netinet/in.h>

#include <cstdio>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

int main() {
  // A port with nobody listening: bind it (so no one else takes it), never listen().
  Socket reserved(AF_INET, SOCK_STREAM);
  reserved.bind(*Address::from_literal("127.0.0.1", 0));
  const Address closed = reserved.getsockname();

  Socket a(AF_INET, SOCK_STREAM);
  try {
    a.connect(closed);  // Python: client.connect(('127.0.0.1', port)) raises
  } catch (const SocketError& e) {
    std::printf("connect raised: call=%s errno=%s\n", e.call().c_str(),
                errno_name(e.error_number()).c_str());
  }

  Socket b(AF_INET, SOCK_STREAM);
  const int err = b.connect_ex(closed);  // Python: client.connect_ex(...) returns the errno
  std::printf("connect_ex returned %s\n", errno_name(err).c_str());

  // Now a server that listens: the handshake completes.
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(5);
  Socket c(AF_INET, SOCK_STREAM);
  std::printf("connect_ex to a listening port returned %d\n", c.connect_ex(server.getsockname()));
  std::printf("getpeername is the server: %s\n",
              c.getpeername() == server.getsockname() ? "yes" : "no");
  // The client's own address was picked by the kernel: an ephemeral port on 127.0.0.1.
  const Address mine = c.getsockname();
  std::printf("getsockname: host %s, an ephemeral port: %s\n", mine.host().c_str(),
              mine.port() >= 1024 ? "yes" : "no");

  auto [conn, peer] = server.accept();
  c.send("n\n");  // the tutorial's client quits on the line "n"
  std::printf("server received \"%s\" from the client's address: %s\n",
              conn.recv(1024) == "n\n" ? "n\\n" : "?", peer == mine ? "yes" : "no");
}
