// Lesson 13 — the echo server and client of raw.cpp, on core/. Same behaviour, same
// output; what is missing is the point: no errno (a failed call throws SocketError naming
// the call, the address and errno), no EINTR (core asks again), no byte order (Address
// holds the sockaddr), no partial send (sendall loops), no SIGPIPE (MSG_NOSIGNAL inside).
// The getaddrinfo loop is still here: which address to try next is the program's choice.
// Read: core/socket.hpp, core/address.hpp.
#include <netinet/in.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

static std::string describe(const Address& a) {
  return a.host() + " port " + std::to_string(a.port());
}

// Address::resolve is getaddrinfo; connect_ex returns errno instead of throwing.
static Socket connect_to(const std::string& host, std::uint16_t port) {
  int err = 0;
  for (const Address& a : Address::resolve(host, port)) {
    Socket s(a.family(), SOCK_STREAM);
    err = s.connect_ex(a);
    std::printf("connect %s: %s\n", describe(a).c_str(),
                err == 0 ? "0" : ("-1 " + errno_name(err)).c_str());
    if (err == 0) return s;
  }
  throw SocketError("connect", host, err);  // the last address's reason
}

static void serve(const std::string& host, std::uint16_t port) {
  const Address where = Address::resolve(host, port).front();
  Socket server(where.family(), SOCK_STREAM);
  server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  server.bind(where);
  server.listen(5);
  std::printf("listening on %s\n", describe(where).c_str());
  for (;;) {
    auto [conn, peer] = server.accept();
    std::printf("%s connected\n", describe(peer).c_str());
    for (std::string data; !(data = conn.recv(1024)).empty();) {
      conn.sendall(data);
      std::printf("echoed %zu bytes\n", data.size());
    }
    std::printf("%s closed\n", describe(peer).c_str());
  }
}

static void chat(const std::string& host, std::uint16_t port) {
  Socket s = connect_to(host, port);
  char line[1024];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    const std::string sent = line;
    s.sendall(sent);
    std::string echo;
    while (echo.size() < sent.size()) {
      const std::string data = s.recv(1024);
      if (data.empty()) break;  // the server closed
      echo += data;
    }
    std::printf("echo: %s", echo.c_str());
  }
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line at once, in order with stderr
  const std::string mode = argc == 4 ? argv[1] : "";
  if (mode != "serve" && mode != "connect") {
    std::fprintf(stderr, "usage: %s serve|connect HOST PORT\n", argv[0]);
    return 2;
  }
  try {
    const std::uint16_t port = parse_port(argv[3]);
    if (mode == "serve") serve(argv[2], port);
    chat(argv[2], port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
