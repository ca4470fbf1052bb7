// Lesson 11 — unix sockets and makefile(): the same calls, a path instead of a port, and
// a file-like reader over a socket.
//
// An AF_UNIX socket is named by a path in the file system; it never leaves the machine,
// so nothing can reach it from the network, and file permissions decide who may connect.
// makefile() wraps a socket in a buffered reader and writer: readline() collects recv()
// results until a '\n', and write() + flush() send with one sendall().
// Read: unix(7), socket(2); Python's socket.makefile.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/socket.hpp"
#include "core/socket_file.hpp"

using namespace sockchat;

int main() {
  char dir[] = "/tmp/lesson11-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return 1;
  const std::string path = std::string(dir) + "/chat.sock";

  Socket server(AF_UNIX, SOCK_STREAM);
  server.bind(Address::unix_path(path));  // creates the file: ls -l shows an 's'
  server.listen(5);
  std::printf("server bound to %s\n",
              server.getsockname().to_string() == "unix:" + path ? "unix:<dir>/chat.sock" : "?");

  Socket client(AF_UNIX, SOCK_STREAM);
  client.connect(Address::unix_path(path));
  auto [conn, peer] = server.accept();
  // A unix client that did not bind has no name: its address is empty.
  std::printf("the client's address, as the server sees it: \"%s\"\n", peer.host().c_str());

  SocketFile out = client.makefile();  // Python: f = client.makefile('rwb')
  out.write("first line\n");
  out.write("second ");
  out.write("line\nno newline at the end");
  out.flush();  // one sendall() for all three writes
  client.shutdown(SHUT_WR);

  SocketFile in = conn.makefile();
  for (std::string line; !(line = in.readline()).empty();) {
    std::printf("readline -> \"%s\"%s\n", line.substr(0, line.find('\n')).c_str(),
                line.back() == '\n' ? " + \\n" : " (end of stream)");
  }
  server.close();
  ::unlink(path.c_str());  // a unix socket's file outlives the socket: remove it
  ::rmdir(dir);
}
