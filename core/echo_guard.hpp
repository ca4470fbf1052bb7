// echo_guard.hpp — when a UDP echo must not answer. Pure code: no sockets, no clock.
//
// An echo answers whatever arrives, to whatever source the datagram claims, and nobody
// checks a UDP source. One datagram forged "from" the echo's own address and port makes
// it answer itself forever; one forged "from" another service that answers everything
// (echo 7, chargen 19...) starts a ping-pong between the two that never ends (CERT
// advisory CA-1996-01, "UDP Port Denial-of-Service Attack"). So udp-recv --echo never
// answers its own port, nor those services, and answers one sender at most `echo_rate`
// times a second: a loop it cannot recognise is slowed to that rate, not to CPU speed.
// Read: udp(7), RFC 862 (echo), RFC 864 (chargen).
#pragma once

#include <cstdint>
#include <string>

namespace sockchat {

inline constexpr double echo_rate = 1000;  // answers per second to one sender...
inline constexpr double echo_burst = 100;  // ...after a burst of this many

// Tokens refilled at `rate` per second up to `burst`; each answer takes one.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  bool take(double now_s);  // now_s: a monotonic clock, in seconds

 private:
  double rate_, burst_, tokens_;
  double last_s_ = -1;  // no refill before the first call
};

enum class EchoVerdict {
  answer,
  own_port,   // from our own port: ourselves, or another echo on the same service port
  loop_port,  // from a port that answers everything (or port 0, which nobody sends from)
  too_fast,   // this sender had its echo_rate
};

// Port 0 and the services that answer anything: echo 7, daytime 13, chargen 19, time 37.
bool loop_port(std::uint16_t port);

// The verdict for a datagram from `from_port` to an echo bound to `own_port`; takes a
// token from `sender` (that sender's bucket) only when everything else allows an answer.
EchoVerdict echo_verdict(std::uint16_t from_port, std::uint16_t own_port, TokenBucket& sender,
                         double now_s);

// "it came from this socket's own port", ... — why an echo was not sent.
std::string echo_refusal(EchoVerdict verdict);

}  // namespace sockchat
