// A first loopback round trip through core/: the whole table is covered in test_socket.cpp.
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

TEST_CASE("a loopback round trip: socket, bind, listen, connect, accept, send, recv",
          "[socket][bind][listen][connect][accept][send][recv]") {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(5);
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(server.getsockname());  // the kernel queues it before accept
  auto [conn, peer] = server.accept();
  CHECK(peer == client.getsockname());
  client.sendall("hello\n");
  CHECK(conn.recv(1024) == "hello\n");
  client.close();
  CHECK(conn.recv(1024).empty());  // the peer closed: recv returns 0 bytes
}

TEST_CASE("connect to a closed port is ECONNREFUSED, named with its address", "[connect]") {
  Socket probe(AF_INET, SOCK_STREAM);
  probe.bind(*Address::from_literal("127.0.0.1", 0));
  const Address closed = probe.getsockname();  // bound but not listening: nobody answers
  Socket client(AF_INET, SOCK_STREAM);
  try {
    client.connect(closed);
    FAIL("connect succeeded");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == ECONNREFUSED);
    CHECK(std::string(e.what()) ==
          "connect " + closed.to_string() + ": ECONNREFUSED (Connection refused)");
  }
}
