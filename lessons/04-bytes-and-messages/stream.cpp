// Lesson 04 — TCP is a byte stream: send() may send less, recv() may cut anywhere.
//
// send() returns how many bytes the kernel took. A blocking send() on Linux waits until
// all of them are queued (unless a signal interrupts it); in timeout mode (settimeout, as
// here) or nonblocking mode it takes what fits in the send buffer and returns, so
// sendall() loops. recv(n) returns whatever has arrived, up to n bytes: half
// a message, two messages, or half of a UTF-8 character. A framing (here: lines) puts
// the messages back together. Read: send(2), recv(2), utf-8(7).
#include <netinet/in.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/framing.hpp"
#include "core/socket.hpp"
#include "core/text.hpp"

using namespace sockchat;

int main() {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(1);
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(server.getsockname());
  Socket conn = server.accept().first;  // a plain variable: the reader thread captures it

  // 1. send() is allowed to take only part: nobody reads, so the buffers fill up. In
  // blocking mode it would wait for room instead; settimeout() makes it return with a part.
  const std::string big(8 << 20, 'x');  // 8 MiB, more than the kernel buffers
  client.settimeout(std::chrono::milliseconds(200));

  const std::size_t n = client.send(big);
  std::printf("send(8 MiB) took only part of it: %s\n", n < big.size() ? "yes" : "no");

  // 2. sendall() loops until everything is sent, while a thread reads the other end.
  std::size_t received = 0;
  std::thread reader([&] {
    while (received < big.size()) received += conn.recv(1 << 16).size();
  });
  client.settimeout(std::chrono::seconds(10));
  client.sendall(std::string_view(big).substr(n));
  reader.join();
  std::printf("sendall sent the rest; the reader got all of it: %s\n",
              received == big.size() ? "yes" : "no");

  // 3. One message cut in two: "你好\n" is 7 bytes; recv(4) returns 4 of them, which
  // end in the middle of 好. Decoding that alone fails, as Python's decode() raises.
  client.sendall("你好\n");
  const std::string first = conn.recv(4);
  std::printf("recv(4) got %zu bytes, valid UTF-8 on its own: %s, shown as %s\n", first.size(),
              valid_utf8(first) ? "yes" : "no", visible(first).c_str());
  Decoder lines(Framing::line);  // feed it whatever recv() returned, take whole lines out
  lines.feed(first);
  std::printf("a whole line yet? %s\n", lines.next() ? "yes" : "no");
  lines.feed(conn.recv(1024));
  std::printf("after the next recv: \"%s\"\n", lines.next()->data.c_str());

  // 4. Two messages sent separately can arrive in one recv().
  client.sendall("one\n");
  client.sendall("two\n");
  char peek[16];  // MSG_PEEK looks without taking: wait (bounded) until both have arrived
  for (int i = 0; i < 1000000 && conn.recv(peek, sizeof peek, MSG_PEEK) < 8; ++i) {
  }
  const std::string both = conn.recv(1024);
  std::printf("two sends, one recv: %s\n", trace::quote(both).c_str());
  lines.feed(both);
  while (auto frame = lines.next()) std::printf("  line: %s\n", frame->data.c_str());
}
