// Lesson 05 — the three modes of a socket: blocking, timeout, nonblocking.
//
// As in Python: settimeout(None) blocks for as long as it takes; settimeout(0) (or
// setblocking(False)) never waits and fails with EAGAIN (BlockingIOError) instead; and
// settimeout(S) waits at most S seconds in poll(), then fails (socket.timeout).
// Read: fcntl(2) on O_NONBLOCK, poll(2), socket(7) on EAGAIN.
#include <netinet/in.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;
using namespace std::chrono_literals;

static std::string show(Timeout t) {  // what Python's gettimeout() prints
  return t ? std::to_string(t->count()).substr(0, 3) : "None";
}

// One recv() on a socket nobody writes to, and what it does in the current mode.
static void try_recv(Socket& s) {
  const auto start = std::chrono::steady_clock::now();
  try {
    s.recv(1024);
    std::printf("  recv returned data\n");
  } catch (const TimeoutError&) {
    const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start;
    std::printf("  recv: timed out (socket.timeout), after waiting at least 0.2 s: %s\n",
                waited.count() >= 0.2 ? "yes" : "no");
  } catch (const WouldBlockError& e) {
    std::printf("  recv: %s at once (BlockingIOError)\n", errno_name(e.error_number()).c_str());
  }
}

int main() {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind(*Address::from_literal("127.0.0.1", 0));
  server.listen(1);
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(server.getsockname());
  auto [conn, peer] = server.accept();

  std::printf("a new socket: gettimeout() = %s (blocking)\n", show(client.gettimeout()).c_str());

  client.settimeout(0.2s);  // Python: client.settimeout(0.2)
  std::printf("settimeout(0.2): gettimeout() = %s\n", show(client.gettimeout()).c_str());
  try_recv(client);

  client.setblocking(false);  // Python: client.setblocking(False), same as settimeout(0)
  std::printf("setblocking(False): gettimeout() = %s\n", show(client.gettimeout()).c_str());
  try_recv(client);

  client.setblocking(true);  // back to blocking: gettimeout() is None again
  std::printf("setblocking(True): gettimeout() = %s\n", show(client.gettimeout()).c_str());
  conn.sendall("ready\n");  // data is waiting, so even a blocking recv returns at once
  try_recv(client);

  // The same timeout bounds connect(): a nonblocking connect, then poll for POLLOUT.
  Socket quick(AF_INET, SOCK_STREAM);
  quick.settimeout(1s);
  quick.connect(server.getsockname());  // the backlog takes it at once
  std::printf("connect with a timeout to a listening port: connected\n");
}
