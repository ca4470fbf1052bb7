// probe: the verdict rules (pure) and the scanning engine against loopback ports whose
// state the test controls: listeners, and ports bound without listen(), where the kernel
// answers every SYN with RST and nobody else can start listening meanwhile.
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/listener.hpp"
#include "core/probe.hpp"
#include "core/socket.hpp"

using namespace sockchat;

namespace {

Address lo4(std::uint16_t port = 0) {
  return *Address::from_literal("127.0.0.1", port);
}

// Blocks of ports live on a loopback address of their own, 127.X.Y.Z picked once per run:
// on 127.0.0.1 a busy suite leaves hundreds of TIME_WAIT connections whose ports cannot be
// bound, and 200 consecutive free ones become hard to find. Linux routes all of 127/8 to lo.
Address block_addr(std::uint16_t port) {
  static const std::string host = [] {
    std::random_device random;
    return fmt::format("127.{}.{}.{}", 1 + random() % 254, random() % 256, 1 + random() % 254);
  }();
  return *Address::from_literal(host, port);
}

// A socket bound to `where` (port 0: the kernel picks), listening or not.
Socket bound(const Address& where, bool listening, int type = SOCK_STREAM) {
  Socket s(where.family(), type);
  s.bind(where);
  if (listening) s.listen(16);
  return s;
}

// `n` consecutive ports on block_addr(), every one held by us: those in `open_offsets`
// listening, the others bound only (closed). A probe of the block then has one exact answer.
struct Block {
  std::uint16_t base = 0;
  std::vector<Socket> sockets;
};

Block hold_block(std::size_t n, const std::vector<std::size_t>& open_offsets) {
  // Many tries: on a busy machine (other suites, -j2) much of the ephemeral range is taken.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Block block;
    Socket first = bound(block_addr(0), false);
    block.base = first.getsockname().port();
    if (block.base + n > 65536) continue;
    block.sockets.push_back(std::move(first));
    try {
      for (std::size_t i = 1; i < n; ++i) {
        block.sockets.push_back(
            bound(block_addr(static_cast<std::uint16_t>(block.base + i)), false));
      }
    } catch (const SocketError&) {
      continue;  // someone holds a port in the block: try another base
    }
    for (std::size_t off : open_offsets) block.sockets[off].listen(16);
    return block;
  }
  FAIL("no free block of " << n << " ports found");
  return {};
}

std::vector<Address> targets(std::uint16_t first, std::size_t n) {
  std::vector<Address> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(block_addr(static_cast<std::uint16_t>(first + i)));
  }
  return out;
}

std::vector<std::uint16_t> ports_in(const std::vector<ProbeResult>& results, PortState state) {
  std::vector<std::uint16_t> out;
  for (const auto& r : results) {
    if (r.state == state) out.push_back(r.target.port());
  }
  return out;
}

ProbeOptions quick(std::size_t concurrency = 0) {
  ProbeOptions o;
  o.timeout = std::chrono::duration<double>(2.0);
  o.concurrency = concurrency;
  return o;
}

}  // namespace

// --- the rules, without sockets -------------------------------------------------------

TEST_CASE("TCP verdicts come from connect's errno", "[probe][rules]") {
  CHECK(tcp_state(0) == PortState::open);
  CHECK(tcp_state(ECONNREFUSED) == PortState::closed);
  CHECK(tcp_state(ETIMEDOUT) == PortState::filtered);
  CHECK(tcp_state(EHOSTUNREACH) == PortState::unreachable);
  CHECK(tcp_state(ENETUNREACH) == PortState::unreachable);
  CHECK(tcp_state(EACCES) == PortState::error);
  CHECK(state_name(PortState::open_filtered) == "open|filtered");
  CHECK(state_name(PortState::unreachable) == "unreachable");
}

TEST_CASE("UDP verdicts: a reply is open, ICMP unreachable closed, silence open|filtered",
          "[probe][rules]") {
  CHECK(udp_state(0, true) == PortState::open);
  CHECK(udp_state(ECONNREFUSED, false) == PortState::closed);
  CHECK(udp_state(ETIMEDOUT, false) == PortState::open_filtered);
  CHECK(udp_state(EHOSTUNREACH, false) == PortState::unreachable);
}

TEST_CASE("each verdict is explained from the kernel's answer", "[probe][rules]") {
  CHECK(explain(PortState::closed, ECONNREFUSED, false) ==
        "ECONNREFUSED: the peer answered SYN with RST");
  CHECK(explain(PortState::closed, ECONNREFUSED, true) ==
        "ECONNREFUSED: ICMP port unreachable came back");
  CHECK(explain(PortState::unreachable, ENETUNREACH, false) == "ENETUNREACH: no route to the host");
  CHECK(explain(PortState::error, EACCES, false) == "EACCES (Permission denied)");
}

TEST_CASE("self-connect rule: local address equal to the peer address", "[probe][rules]") {
  CHECK(is_self_connect(lo4(40000), lo4(40000)));
  CHECK_FALSE(is_self_connect(lo4(40000), lo4(40001)));
  CHECK_FALSE(is_self_connect(lo4(40000), *Address::from_literal("127.0.0.2", 40000)));
  CHECK_FALSE(is_self_connect(Address(), Address()));  // no address: not connected at all
}

TEST_CASE("cross-connect rule: two probes whose SYNs crossed", "[probe][rules]") {
  // Probe A: local 40000 → target 50000. Probe B: local 50000 → target 40000.
  CHECK(is_cross_connect(lo4(40000), lo4(50000), lo4(50000), lo4(40000)));
  // A connected to a real listener on 50000, and B (local 50001) probes 40000: no accident.
  CHECK_FALSE(is_cross_connect(lo4(40000), lo4(50000), lo4(50001), lo4(40000)));
}

TEST_CASE("open ports are always listed, a crowd of others is summarised", "[probe][rules]") {
  CHECK(show_each(PortState::open, 60000));
  CHECK(show_each(PortState::closed, kShowLimit));
  CHECK_FALSE(show_each(PortState::closed, kShowLimit + 1));
  CHECK_FALSE(show_each(PortState::filtered, 1000));
}

TEST_CASE("RTT statistics: min/avg/max over answers, loss over probes", "[probe][rules]") {
  RttStats s;
  CHECK(s.loss_percent() == 0.0);
  s.add(2.0);
  s.add(std::nullopt);
  s.add(1.0);
  s.add(6.0);
  CHECK(s.sent() == 4);
  CHECK(s.answered() == 3);
  CHECK(s.loss_percent() == Approx(25.0));
  CHECK(s.min_ms() == 1.0);
  CHECK(s.max_ms() == 6.0);
  CHECK(s.avg_ms() == Approx(3.0));
  RttStats lost;
  lost.add(std::nullopt);
  CHECK(lost.loss_percent() == 100.0);
  CHECK(lost.avg_ms() == 0.0);
}

// --- the engine, on loopback ----------------------------------------------------------

TEST_CASE("a range: exactly the listening ports are open, the rest closed",
          "[probe][connect][poll][getsockopt]") {
  const Block block = hold_block(200, {3, 77, 199});
  const auto results = probe(targets(block.base, 200), quick());
  REQUIRE(results.size() == 200);
  CHECK(ports_in(results, PortState::open) ==
        std::vector<std::uint16_t>{static_cast<std::uint16_t>(block.base + 3),
                                   static_cast<std::uint16_t>(block.base + 77),
                                   static_cast<std::uint16_t>(block.base + 199)});
  CHECK(ports_in(results, PortState::closed).size() == 197);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i].target == block_addr(static_cast<std::uint16_t>(block.base + i)));  // in order
    CHECK(results[i].answered());
    CHECK(*results[i].rtt_ms >= 0.0);
    CHECK(results[i].err == (results[i].state == PortState::open ? 0 : ECONNREFUSED));
    CHECK_FALSE(results[i].self_connect);
  }
}

TEST_CASE("one probe at a time gives the same verdicts as many at once", "[probe][connect]") {
  const Block block = hold_block(40, {0, 20});
  const auto many = probe(targets(block.base, 40), quick());
  const auto one = probe(targets(block.base, 40), quick(1));
  REQUIRE(many.size() == one.size());
  for (std::size_t i = 0; i < many.size(); ++i) CHECK(many[i].state == one[i].state);
  CHECK(ports_in(one, PortState::open).size() == 2);
}

TEST_CASE("the same ports probed again and again stay exact (recycled sockets)",
          "[probe][connect]") {
  const Block block = hold_block(30, {5});
  for (int round = 0; round < 5; ++round) {
    const auto results = probe(targets(block.base, 30), quick(4));
    CHECK(ports_in(results, PortState::open) ==
          std::vector<std::uint16_t>{static_cast<std::uint16_t>(block.base + 5)});
  }
}

TEST_CASE("a port listed twice, and an empty list", "[probe]") {
  Socket listener = bound(lo4(0), true);
  const Address at = listener.getsockname();
  const auto results = probe({at, at}, quick());
  REQUIRE(results.size() == 2);
  CHECK(results[0].state == PortState::open);
  CHECK(results[1].state == PortState::open);
  CHECK(probe({}, quick()).empty());
}

TEST_CASE("a socket connected to itself is seen as such", "[probe][connect][getsockname]") {
  // bind to a port, then connect to that very address: the SYN reaches the socket itself,
  // and TCP's simultaneous open connects it to itself. This is what happens by accident
  // when a nonblocking connect's ephemeral port equals the port it probes.
  Socket s(AF_INET, SOCK_STREAM);
  s.bind(lo4(0));
  const Address self = s.getsockname();
  s.settimeout(std::chrono::duration<double>(2.0));
  s.connect(self);
  const ConnectAnswer answer = connect_result(s);
  CHECK(answer.err == 0);
  CHECK(answer.local == self);
  CHECK(answer.peer == self);
  CHECK(answer.self_connect());
}

TEST_CASE("connect_result reads a refusal from SO_ERROR", "[probe][getsockopt]") {
  Socket closed = bound(lo4(0), false);
  Socket s(AF_INET, SOCK_STREAM);
  s.setblocking(false);
  const int err = s.connect_ex(closed.getsockname());
  REQUIRE((err == EINPROGRESS || err == ECONNREFUSED));
  if (err == EINPROGRESS) {
    REQUIRE(wait_ready(s.fileno(), POLLOUT, Deadline(std::chrono::duration<double>(2.0))));
    const ConnectAnswer answer = connect_result(s);
    CHECK(answer.err == ECONNREFUSED);
    CHECK_FALSE(answer.self_connect());
  }
}

TEST_CASE("a full accept queue drops the SYN: filtered after the timeout", "[probe][listen]") {
  Socket listener = bound(lo4(0), false);
  listener.listen(0);  // room for one connection that nobody accepts
  const Address at = listener.getsockname();
  Socket first(AF_INET, SOCK_STREAM);
  first.connect(at);  // fills the queue; the kernel now drops new SYNs (no RST)
  ProbeOptions o = quick();
  o.timeout = std::chrono::duration<double>(0.2);
  const auto start = std::chrono::steady_clock::now();
  const auto results = probe({at}, o);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  REQUIRE(results.size() == 1);
  CHECK(results[0].state == PortState::filtered);
  CHECK(results[0].err == ETIMEDOUT);
  CHECK_FALSE(results[0].answered());
  CHECK(took.count() >= 0.19);
  CHECK(took.count() < 1.5);
}

TEST_CASE("UDP: a reply is open, a silent socket open|filtered, no socket closed",
          "[probe][udp][recv]") {
  Socket echo = bound(lo4(0), false, SOCK_DGRAM);
  Socket silent = bound(lo4(0), false, SOCK_DGRAM);
  std::uint16_t gone_port = 0;
  {
    Socket gone = bound(lo4(0), false, SOCK_DGRAM);  // a port that was free a moment ago
    gone_port = gone.getsockname().port();
  }
  echo.settimeout(std::chrono::duration<double>(5.0));
  std::thread replier([&] {
    char buffer[64];
    try {
      const Datagram d = echo.recvfrom(buffer, sizeof buffer);
      echo.sendto({buffer, d.size}, d.from);
    } catch (const SocketError&) {
    }
  });
  ProbeOptions o = quick();
  o.udp = true;
  o.timeout = std::chrono::duration<double>(0.3);
  const auto results = probe({echo.getsockname(), silent.getsockname(), lo4(gone_port)}, o);
  replier.join();
  REQUIRE(results.size() == 3);
  CHECK(results[0].state == PortState::open);
  CHECK(results[1].state == PortState::open_filtered);
  CHECK_FALSE(results[1].answered());
  CHECK(results[2].state == PortState::closed);
  CHECK(results[2].err == ECONNREFUSED);
}

TEST_CASE("IPv6 loopback: open and closed", "[probe][ipv6]") {
  std::optional<Address> lo6 = Address::from_literal("::1", 0);
  Socket listener;
  try {
    listener = bound(*lo6, true);
  } catch (const SocketError&) {
    WARN("::1 is not available here: IPv6 not tested");
    return;
  }
  Socket closed = bound(*lo6, false);
  const auto results = probe({listener.getsockname(), closed.getsockname()}, quick());
  REQUIRE(results.size() == 2);
  CHECK(results[0].state == PortState::open);
  CHECK(results[1].state == PortState::closed);
  CHECK(results[0].target.family() == AF_INET6);
}

TEST_CASE("the soft descriptor limit is raised to the hard one", "[probe][setrlimit]") {
  const std::size_t soft = raise_descriptor_limit();
  rlimit now{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(now.rlim_cur == now.rlim_max);
  CHECK(soft == std::min<std::size_t>(now.rlim_cur, 1u << 20));
  CHECK(default_concurrency() >= 1);
  CHECK(default_concurrency() < soft);
}

TEST_CASE("a timeout of zero is a usage error", "[probe]") {
  ProbeOptions o;
  o.timeout = std::chrono::duration<double>(0);
  CHECK_THROWS_AS(probe({lo4(1)}, o), UsageError);
}
