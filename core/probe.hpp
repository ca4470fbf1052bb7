// probe.hpp — many ports at once: nonblocking connects and one poll loop (nmap -sT's way).
//
// Each TCP probe is the five-step nonblocking connect, every step a Socket method so that
// --trace shows it:
//   1. s = socket(AF_INET, SOCK_STREAM)        socket(2)
//   2. s.setblocking(False)                    fcntl(2) O_NONBLOCK
//   3. s.connect_ex(addr) → EINPROGRESS        connect(2): the SYN is on its way
//   4. poll(POLLOUT) on every pending socket   poll(2): one call waits for them all
//   5. s.getsockopt(SOL_SOCKET, SO_ERROR)      the handshake's result: 0 or ECONNREFUSED...
// A UDP probe is socket, setblocking(False), connect, send(b""), poll(POLLIN), recv.
// Up to `concurrency` probes are in flight; the kernel's answers come back in any order.
// Read: connect(2) (EINPROGRESS paragraph), poll(2), socket(7) SO_ERROR and SO_LINGER,
// getrlimit(2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/address.hpp"
#include "core/probe_rules.hpp"

namespace sockchat {

class Socket;

struct ProbeOptions {
  std::chrono::duration<double> timeout{2.0};  // no answer by then: filtered
  std::size_t concurrency = 0;                 // probes in flight at once; 0: default_concurrency()
  bool udp = false;
};

struct ProbeResult {
  Address target;  // address and port probed
  PortState state = PortState::error;
  int err = 0;                   // the errno that decided; 0 when connected or answered
  std::optional<double> rtt_ms;  // from connect to the kernel's answer; none if no answer
  bool self_connect = false;     // connected to itself (or to another probe): closed
  bool answered() const { return rtt_ms.has_value(); }
};

// `host` (IPv4 or IPv6) with another port: one target per port without re-parsing text.
Address with_port(const Address& host, std::uint16_t port);

// Whether two addresses name the same host, whatever their ports.
bool same_host(const Address& a, const Address& b);

// One probe per descriptor we may open, keeping a few for stdio and the like.
std::size_t default_concurrency();

// Probes every target; results come back in the targets' order. Throws SocketError only
// for a failure of our own (no descriptor at all, poll failing), never for a port's verdict.
std::vector<ProbeResult> probe(const std::vector<Address>& targets, const ProbeOptions& options);

// Step 5 for a TCP socket whose connect has finished (poll said so): SO_ERROR, and when it
// is 0 (connected) both ends' addresses, so the self-connect rule can be applied.
struct ConnectAnswer {
  int err = 0;    // SO_ERROR: 0 connected, else why not
  Address local;  // getsockname(), when connected
  Address peer;   // getpeername(), when connected
  bool self_connect() const { return err == 0 && is_self_connect(local, peer); }
};
ConnectAnswer connect_result(const Socket& socket);

}  // namespace sockchat
