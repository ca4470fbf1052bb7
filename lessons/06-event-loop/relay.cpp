// Lesson 06 — one thread, many clients: an event loop instead of two threads per client.
//
// The tutorial's group server starts two threads per client and shares one string under a
// Condition. Here one thread asks the kernel which sockets are readable (select, poll or
// epoll, behind one EventLoop) and relays each line to the other clients. The same run
// with each backend gives the same result. Read: select(2), poll(2), epoll(7).
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
  for (int i = 0; i < 3; ++i) clients[i].sendall("hello from client" + std::to_string(i) + "\n");

  EventLoop loop(make_poller(backend));
  int relayed = 0;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    loop.add(conns[i].fileno(), Readable, [&, i](unsigned) {
      const std::string line = conns[i].recv(1024);  // readable: this will not block
      for (std::size_t j = 0; j < conns.size(); ++j) {
        if (j != i) conns[j].sendall("<client" + std::to_string(i) + "> " + line);
      }
      if (++relayed == 3) loop.stop();  // one line from each: done
    });
  }
  loop.run();

  std::printf("%s: %d lines relayed by one thread\n", backend, relayed);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    Decoder decoder(Framing::line);
    std::vector<std::string> got;
    while (got.size() < 2) {  // each client hears the two others
      decoder.feed(clients[i].recv(1024));
      while (auto frame = decoder.next()) got.push_back(frame->data);
    }
    std::sort(got.begin(), got.end());  // the order between clients is the kernel's
    std::printf("  client%zu heard: %s | %s\n", i, got[0].c_str(), got[1].c_str());
  }
}

int main() {
  for (const char* backend : {"select", "poll", "epoll"}) run(backend);
}
