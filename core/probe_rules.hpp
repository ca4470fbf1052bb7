// probe_rules.hpp — how `sockchat probe` turns the kernel's answer into a verdict. Pure
// logic: no socket is opened here, so every rule is unit-tested directly.
//
// A TCP connect(2) ends in one of a few ways, and each one tells something different:
//   0             the three-way handshake completed: something listens      → open
//   ECONNRESET    it completed, then the server reset before we looked       → open
//   ECONNREFUSED  the peer's kernel answered our SYN with RST: nothing listens → closed
//   (no answer)   neither SYN/ACK nor RST before our timeout: a firewall
//                 dropped the SYN, or the host is down                       → filtered
//   EHOSTUNREACH, ENETUNREACH  a router (ICMP) or our own routing table
//                 says the host cannot be reached                            → unreachable
// A connected UDP socket (udp(7)) gets ECONNREFUSED when an ICMP port-unreachable comes
// back (closed); a reply proves open; silence proves nothing (open|filtered).
// Read: connect(2) ERRORS, tcp(7), udp(7), icmp(7), nmap(1) "PORT SCANNING BASICS".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.hpp"

namespace sockchat {

enum class PortState { open, closed, filtered, unreachable, open_filtered, error };

// "open", "closed", "filtered", "unreachable", "open|filtered" (nmap's names), "error".
std::string_view state_name(PortState state);

// The verdict for a TCP connect that ended with errno `err` (0: connected). ETIMEDOUT is
// the kernel giving up on its SYN retransmissions: no answer, so filtered.
PortState tcp_state(int err);

// The verdict for a UDP probe: `replied` when a datagram came back, else errno `err` from
// recv (ECONNREFUSED: ICMP port unreachable), or ETIMEDOUT for silence.
PortState udp_state(int err, bool replied);

// One line saying why, for a person: "connected", "ECONNREFUSED: the peer sent RST"...
std::string explain(PortState state, int err, bool udp);

// A nonblocking connect to a closed port in the ephemeral range can pick that very port as
// its own source port. Its SYN then arrives at itself, and TCP's simultaneous open (RFC 793
// §3.4, a SYN crossing a SYN) connects the socket to itself. `nc -z` reports such a port
// as open; it is closed: nothing listens (a listening port is never picked as an ephemeral
// port). The sign: the local and the peer address are equal.
bool is_self_connect(const Address& local, const Address& peer);

// The same accident between two of our own probes: probe A (local port X) targets port Y
// while probe B (local port Y) targets port X, and the two SYNs cross. A's peer is then
// B's local address and A's local address is B's target. Both ports are closed.
bool is_cross_connect(const Address& a_local, const Address& a_peer, const Address& b_local,
                      const Address& b_target);

// Whether a human listing shows each port of this state one by one, or one "Not shown: N
// closed ports" line as nmap does: open ports always show; another state shows when at
// most kShowLimit ports have it.
inline constexpr std::size_t kShowLimit = 25;
bool show_each(PortState state, std::size_t ports_in_state);

// Round-trip statistics for --count, like ping's summary line. A probe that got an answer
// (open or closed) adds its RTT; a probe with no answer is lost.
class RttStats {
 public:
  void add(std::optional<double> rtt_ms);  // nullopt: no answer
  std::size_t sent() const { return sent_; }
  std::size_t answered() const { return answered_; }
  double loss_percent() const;
  double min_ms() const { return min_; }
  double max_ms() const { return max_; }
  double avg_ms() const;

 private:
  std::size_t sent_ = 0;
  std::size_t answered_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
};

}  // namespace sockchat
