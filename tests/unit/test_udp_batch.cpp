// sendmmsg/recvmmsg (core/batch) and the multicast helpers (core/multicast), on loopback.
#include <netinet/in.h>

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "core/batch.hpp"
#include "core/error.hpp"
#include "core/multicast.hpp"
#include "core/socket.hpp"

using namespace sockchat;
using namespace std::chrono_literals;

namespace {

Socket bound_udp() {
  Socket s(AF_INET, SOCK_DGRAM);
  s.bind(*Address::from_literal("127.0.0.1", 0));
  return s;
}

}  // namespace

TEST_CASE("sendmmsg sends every datagram added, recvmmsg takes them whole and in order",
          "[sendmmsg][recvmmsg]") {
  Socket receiver = bound_udp();
  Socket sender = bound_udp();
  SendBatch out(sender, receiver.getsockname(), 8);
  for (int i = 0; i < 8; ++i) out.add(std::string(static_cast<std::size_t>(i), 'a' + i));
  CHECK(out.full());
  CHECK(out.sendmmsg() == 8);
  CHECK(out.empty());

  RecvBatch in(receiver, 16, 1024);
  std::size_t got = 0;
  while (got < 8) {  // on loopback all 8 are queued already; the loop is bounded by 8
    const std::size_t n = in.recvmmsg();
    REQUIRE(n >= 1);
    for (std::size_t k = 0; k < n; ++k, ++got) {
      CHECK(in.data(k) == std::string(got, static_cast<char>('a' + got)));  // 0 bytes is a datagram
      CHECK(in.datagram(k).from == sender.getsockname());
      CHECK_FALSE(in.datagram(k).truncated());
    }
  }
  CHECK(got == 8);
}

TEST_CASE("recvmmsg reports a datagram larger than its buffer as truncated", "[recvmmsg]") {
  Socket receiver = bound_udp();
  Socket sender = bound_udp();
  sender.sendto(std::string(300, 'x'), receiver.getsockname());
  RecvBatch in(receiver, 4, 100);
  REQUIRE(in.recvmmsg() == 1);
  CHECK(in.datagram(0).truncated());
  CHECK(in.datagram(0).full_size == 300);
  CHECK(in.data(0).size() == 100);
}

TEST_CASE("recvmmsg takes no more than asked", "[recvmmsg]") {
  Socket receiver = bound_udp();
  Socket sender = bound_udp();
  for (int i = 0; i < 3; ++i) sender.sendto("d", receiver.getsockname());
  RecvBatch in(receiver, 8, 64);
  CHECK(in.recvmmsg(2) == 2);
  CHECK(in.recvmmsg(2) == 1);
}

TEST_CASE("recvmmsg follows the socket's mode: timeout and nonblocking", "[recvmmsg][settimeout]") {
  Socket receiver = bound_udp();
  SECTION("settimeout(S): TimeoutError after S") {
    receiver.settimeout(0.05s);
    RecvBatch in(receiver, 4, 64);
    CHECK_THROWS_AS(in.recvmmsg(), TimeoutError);
  }
  SECTION("settimeout(0): WouldBlockError at once") {
    receiver.settimeout(0s);
    RecvBatch in(receiver, 4, 64);
    CHECK_THROWS_AS(in.recvmmsg(), WouldBlockError);
  }
}

TEST_CASE("sendmmsg to a broadcast address without SO_BROADCAST is EACCES", "[sendmmsg]") {
  Socket sender = bound_udp();
  SendBatch out(sender, *Address::from_literal("127.255.255.255", 9), 2);
  out.add("x");
  try {
    out.sendmmsg();
    FAIL("the kernel let a broadcast through without SO_BROADCAST");
  } catch (const SocketError& e) {
    CHECK(e.error_number() == EACCES);
    CHECK(std::string(e.what()) == "sendmmsg 127.255.255.255:9: EACCES (Permission denied)");
  }
}

TEST_CASE("is_multicast knows 224.0.0.0/4 and ff00::/8", "[multicast]") {
  CHECK(is_multicast(*Address::from_literal("224.0.0.1", 0)));
  CHECK(is_multicast(*Address::from_literal("239.255.255.255", 0)));
  CHECK_FALSE(is_multicast(*Address::from_literal("240.0.0.1", 0)));
  CHECK_FALSE(is_multicast(*Address::from_literal("127.0.0.1", 0)));
  CHECK(is_multicast(*Address::from_literal("ff02::1", 0)));
  CHECK_FALSE(is_multicast(*Address::from_literal("::1", 0)));
}

TEST_CASE("join_group refuses what is not a group, and joins one on the loopback",
          "[multicast][setsockopt]") {
  Socket s(AF_INET, SOCK_DGRAM);
  const Address lo = *Address::from_literal("127.0.0.1", 0);
  CHECK_THROWS_AS(join_group(s, lo, lo), UsageError);
  CHECK_THROWS_AS(join_group(s, *Address::from_literal("ff02::1", 0), lo), UsageError);
  CHECK_NOTHROW(join_group(s, *Address::from_literal("239.255.42.42", 0), lo));
  CHECK(interface_index(lo) > 0);
  CHECK(interface_index(*Address::from_literal("0.0.0.0", 0)) == 0);
}

TEST_CASE("set_ttl sets the unicast and the multicast hop limits", "[setsockopt]") {
  Socket s(AF_INET, SOCK_DGRAM);
  set_ttl(s, AF_INET, 7);
  CHECK(s.getsockopt(IPPROTO_IP, IP_TTL) == 7);
  CHECK(s.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL) == 7);
  CHECK_THROWS_AS(set_ttl(s, AF_INET, 256), UsageError);
}
