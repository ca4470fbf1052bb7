// Lesson 07 — UDP: datagrams with boundaries, no connection, no delivery promise.
//
// sendto() sends one datagram to an address; recvfrom() returns one datagram and who sent
// it. Boundaries are kept (two sendto, two recvfrom), a datagram larger than the buffer is
// cut (the rest is lost), and nothing is acknowledged: a "connected" UDP socket learns of
// a closed port only through an ICMP error reported on its next call. Read: udp(7).
#include <netinet/in.h>

#include <cstdio>

#include "core/error.hpp"
#include "core/socket.hpp"

using namespace sockchat;

int main() {
  Socket receiver(AF_INET, SOCK_DGRAM);
  receiver.bind(*Address::from_literal("127.0.0.1", 0));  // no listen, no accept
  const Address to = receiver.getsockname();
  Socket sender(AF_INET, SOCK_DGRAM);

  sender.sendto("first", to);  // Python: sender.sendto(b'first', addr)
  sender.sendto("second", to);
  char buffer[64];
  Datagram d;
  for (int i = 0; i < 2; ++i) {
    d = receiver.recvfrom(buffer, sizeof buffer);  // Python: data, addr = s.recvfrom(64)
    // The sender never called bind(): its first sendto() bound it to a free port.
    std::printf("recvfrom: \"%.*s\" (%zu bytes), from the sender's port: %s\n",
                static_cast<int>(d.size), buffer, d.size,
                d.from.port() == sender.getsockname().port() ? "yes" : "no");
  }

  // A reply goes back to the address recvfrom reported: that is all an echo server does.
  receiver.sendto("pong", d.from);
  const Datagram reply = sender.recvfrom(buffer, sizeof buffer);
  std::printf("the sender got \"%.*s\" back\n", static_cast<int>(reply.size), buffer);

  // A datagram bigger than the buffer: the kernel keeps 10 bytes, drops the rest.
  sender.sendto(std::string(100, 'u'), to);
  const Datagram cut = receiver.recvfrom(buffer, 10);
  std::printf("100-byte datagram into a 10-byte buffer: kept %zu, truncated: %s\n", cut.size,
              cut.truncated() ? "yes" : "no");

  // Sending to a port nobody has bound succeeds: UDP does not know. A connected UDP socket
  // hears the ICMP "port unreachable" that came back, as ECONNREFUSED on its next call.
  Socket closed_port(AF_INET, SOCK_DGRAM);
  closed_port.bind(*Address::from_literal("127.0.0.1", 0));
  const Address nobody = closed_port.getsockname();
  closed_port.close();
  Socket probe(AF_INET, SOCK_DGRAM);
  probe.connect(nobody);  // no packet: it only fixes the peer address
  probe.send("anyone?");
  std::printf("send to a closed UDP port: accepted by the kernel\n");
  probe.settimeout(std::chrono::seconds(2));
  try {
    probe.recv(64);
  } catch (const SocketError& e) {
    std::printf("the next recv: %s\n", errno_name(e.error_number()).c_str());
  }
}
