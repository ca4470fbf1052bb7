// Lesson 10 — a server meets bad input: overlong lines, escape sequences, a client that
// never reads.
//
// Whatever arrives from the network is untrusted. A line framing needs a maximum, or one
// client without a newline eats all memory. Text for a terminal must not carry control
// characters (an escape sequence can clear the screen or retitle the window). And a
// nonblocking send() to a client that stops reading fills the kernel's buffers and then
// says EAGAIN: the server must queue, bound the queue, and drop that client, never wait.
// Read: socket(7) on SO_SNDBUF, tcp(7), console_codes(4).
#include <netinet/in.h>

#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/framing.hpp"
#include "core/socket.hpp"
#include "core/text.hpp"

using namespace sockchat;

int main() {
  // 1. An overlong line is dropped up to its newline and reported; the next line is fine.
  Decoder lines(Framing::line, 16);
  lines.feed(std::string(100, 'A'));  // 100 bytes, no newline yet: not kept in memory
  lines.feed("AAAA\nshort line\n");
  while (auto frame = lines.next()) {
    std::printf("frame: %s\n", frame->too_long ? "(too long, dropped)" : frame->data.c_str());
  }
  std::printf("bytes held after the flood: %zu\n", lines.pending());

  // 2. Control characters become visible; Chinese text passes unchanged.
  std::printf("shown: %s\n", visible("\x1b[2Jcleared? \a 你好 \xff").c_str());

  // 3. A client that never reads: a nonblocking sender fills the buffers, then EAGAIN.
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(1);
  Socket lazy(AF_INET, SOCK_STREAM);
  lazy.connect(server.getsockname());
  auto [conn, peer] = server.accept();
  conn.setblocking(false);
  const std::string chunk(64 * 1024, 'x');
  std::size_t queued = 0;
  try {
    for (int i = 0; i < 10000; ++i) queued += conn.send(chunk);  // bounded: 640 MB at most
    std::printf("the kernel took everything?\n");
  } catch (const WouldBlockError& e) {
    std::printf("after %s KiB the kernel said %s: the client is not reading\n",
                queued > 64 * 1024 ? "more than 64" : "less than 64",
                errno_name(e.error_number()).c_str());
  }
}
