// Lesson 06 — one thread, many clients: an event loop instead of two threads per client.
//
// The tutorial's group server starts two threads per client and shares one string under a
// Condition. Here one thread asks the kernel which sockets are readable (select, poll or
// epoll, behind one EventLoop) and relays each whole line to the other clients: a recv()
// returns bytes, not lines, so each connection has a line Decoder. The same run with each
// backend gives the same result. Read: select(2), poll(2), epoll(7).
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/event_loop.hpp"
#include "core/framing.hpp"
#include "core/socket.hpp"

using namespace sockchat;

static void run(const char* backend) {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(5);
  std::vector<Socket> clients, conns;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(AF_INET, SOCK_STREAM);
    clients.back().connect(server.getsockname());
    conns.push_back(server.accept().first);
    conns.back().setblocking(false);  // a loop must never block on one client
  }
  // Two lines from each client, in two sends: one recv() may return both, or one and a
  // half (lesson 04). The stream is cut into lines by a Decoder per connection.
  for (int i = 0; i < 3; ++i) {
    clients[i].sendall("hello\n");
    clients[i].sendall("bye\n");
  }

  EventLoop loop(make_poller(backend));
  std::vector<Decoder> decoders(conns.size(), Decoder(Framing::line));
  int relayed = 0;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    loop.add(conns[i].fileno(), Readable, [&, i](unsigned) {
      // Readable: one recv() will not block. It returns what has arrived — part of a line,
      // a line, several — and the decoder keeps a partial line until the rest comes.
      decoders[i].feed(conns[i].recv(1024));
      while (auto line = decoders[i].next()) {
        for (std::size_t j = 0; j < conns.size(); ++j) {
          if (j != i) conns[j].sendall("<client" + std::to_string(i) + "> " + line->data + "\n");
        }
        ++relayed;
      }
      if (relayed == 6) loop.stop();  // two lines from each: done
    });
  }
  loop.run();

  std::printf("%s: %d lines relayed by one thread\n", backend, relayed);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    Decoder decoder(Framing::line);
    std::vector<std::string> got;
    while (got.size() < 4) {  // each client hears the two others, two lines each
      decoder.feed(clients[i].recv(1024));
      while (auto frame = decoder.next()) got.push_back(frame->data);
    }
    // The order between senders is the kernel's; each sender's own order is kept.
    std::stable_sort(got.begin(), got.end(),
                     [](const std::string& a, const std::string& b) { return a[7] < b[7]; });
    std::printf("  client%zu heard: %s, %s, %s, %s\n", i, got[0].c_str(), got[1].c_str(),
                got[2].c_str(), got[3].c_str());
  }
}

int main() {
  for (const char* backend : {"select", "poll", "epoll"}) run(backend);
}
