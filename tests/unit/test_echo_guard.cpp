// When udp-recv --echo must not answer (core/echo_guard): pure, no sockets, no clock.
#include <catch2/catch.hpp>

#include "core/echo_guard.hpp"

using namespace sockchat;

// One forged datagram "from" the echo's own address and port made it answer itself forever
// (368,221 datagrams in 3 s); "from" another echo service it starts an endless ping-pong.
TEST_CASE("an echo never answers its own port, nor a port that answers everything", "[udp][echo]") {
  TokenBucket bucket(echo_rate, echo_burst);
  CHECK(echo_verdict(9000, 9000, bucket, 0) == EchoVerdict::own_port);
  for (std::uint16_t port : {0, 7, 13, 19, 37}) {
    INFO(port);
    CHECK(echo_verdict(port, 9000, bucket, 0) == EchoVerdict::loop_port);
  }
  CHECK(echo_verdict(51234, 9000, bucket, 0) == EchoVerdict::answer);
  CHECK(echo_verdict(8, 9000, bucket, 0) == EchoVerdict::answer);
  CHECK(echo_refusal(EchoVerdict::own_port) == "it came from this socket's own port");
  CHECK(echo_refusal(EchoVerdict::too_fast) == "over 1000 echoes a second to this sender");
}

TEST_CASE("a refused datagram takes no token from its sender", "[udp][echo]") {
  TokenBucket bucket(1, 1);
  CHECK(echo_verdict(7, 9000, bucket, 0) == EchoVerdict::loop_port);
  CHECK(echo_verdict(5000, 9000, bucket, 0) == EchoVerdict::answer);
  CHECK(echo_verdict(5000, 9000, bucket, 0) == EchoVerdict::too_fast);
}

// A loop the guard cannot recognise (two echoes on different ports) runs at echo_rate,
// not as fast as the CPU can send.
TEST_CASE("a sender gets a burst, then echo_rate answers a second", "[udp][echo]") {
  TokenBucket bucket(echo_rate, echo_burst);
  int answered = 0;
  for (int i = 0; i < 1000; ++i) answered += bucket.take(10.0);  // all at one instant
  CHECK(answered == static_cast<int>(echo_burst));
  answered = 0;
  for (int ms = 1; ms <= 1000; ++ms) {  // one second, 10 datagrams each millisecond
    for (int k = 0; k < 10; ++k) answered += bucket.take(10.0 + ms / 1000.0);
  }
  CHECK(answered >= static_cast<int>(echo_rate) - 1);
  CHECK(answered <= static_cast<int>(echo_rate) + 1);
  CHECK_FALSE(bucket.take(9.0));  // a clock that goes back refills nothing
}

TEST_CASE("an idle sender's bucket fills up to the burst, not beyond", "[udp][echo]") {
  TokenBucket bucket(echo_rate, echo_burst);
  CHECK(bucket.take(0));
  int answered = 0;
  for (int i = 0; i < 1000; ++i) answered += bucket.take(3600.0);  // an hour later
  CHECK(answered == static_cast<int>(echo_burst));
}
