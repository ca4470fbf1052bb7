// --allow / --deny: CIDR blocks for IPv4 and IPv6, parsed and matched without sockets.
#include <catch2/catch.hpp>

#include "core/cidr.hpp"
#include "core/error.hpp"

using namespace sockchat;

TEST_CASE("an IPv4 block matches its prefix", "[cidr]") {
  const Cidr c = Cidr::parse("10.1.0.0/16");
  CHECK(c.contains("10.1.2.3"));
  CHECK(c.contains("10.1.255.255"));
  CHECK_FALSE(c.contains("10.2.0.1"));
  CHECK_FALSE(c.contains("::1"));
  CHECK(c.to_string() == "10.1.0.0/16");
}

TEST_CASE("prefixes that do not end on a byte boundary", "[cidr]") {
  const Cidr c = Cidr::parse("192.168.1.128/25");
  CHECK(c.contains("192.168.1.200"));
  CHECK_FALSE(c.contains("192.168.1.127"));
  CHECK(Cidr::parse("0.0.0.0/0").contains("8.8.8.8"));
}

TEST_CASE("a bare address is a single-host block", "[cidr]") {
  CHECK(Cidr::parse("127.0.0.1").contains("127.0.0.1"));
  CHECK_FALSE(Cidr::parse("127.0.0.1").contains("127.0.0.2"));
  CHECK(Cidr::parse("::1").to_string() == "::1/128");
}

TEST_CASE("IPv6 blocks, and IPv4-mapped addresses match IPv4 blocks", "[cidr]") {
  const Cidr c = Cidr::parse("fe80::/10");
  CHECK(c.contains("fe80::1"));
  CHECK(c.contains("febf::1"));
  CHECK_FALSE(c.contains("fec0::1"));
  CHECK(Cidr::parse("127.0.0.0/8").contains("::ffff:127.0.0.1"));
}

TEST_CASE("bad blocks are usage errors", "[cidr]") {
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0/33"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("::/129"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0/"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0/8x"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("example.com"), UsageError);
  CHECK_THROWS_AS(Cidr::parse(""), UsageError);
}

TEST_CASE("access list: allow restricts, deny wins", "[cidr]") {
  AccessList open;
  CHECK(open.permits("203.0.113.9"));
  AccessList list;
  list.allow.push_back(Cidr::parse("127.0.0.0/8"));
  list.deny.push_back(Cidr::parse("127.0.0.2"));
  CHECK(list.permits("127.0.0.1"));
  CHECK_FALSE(list.permits("127.0.0.2"));
  CHECK_FALSE(list.permits("10.0.0.1"));
  CHECK(open.permits("/tmp/chat.sock"));  // no rules: nothing to judge
}

// A CIDR check on an address it could not parse used to let it through (fail open).
TEST_CASE("with any rule, an address that cannot be parsed is refused", "[cidr]") {
  AccessList deny_one;
  deny_one.deny.push_back(Cidr::parse("10.0.0.1"));
  for (const char* bad : {"", "not an address", "10.0.0.1x", "999.1.1.1", "::g", "1.2.3"}) {
    INFO(bad);
    CHECK_FALSE(deny_one.permits(bad));
  }
  CHECK(deny_one.permits("10.0.0.2"));
}

TEST_CASE("a scope on an IPv4 block is a usage error", "[cidr]") {
  CHECK_THROWS_AS(Cidr::parse("1.2.3.4%eth0/32"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0%1/8"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("::ffff:1.2.3.4%eth0"), UsageError);
  CHECK(Cidr::parse("fe80::1%eth0/64").contains("fe80::2"));  // IPv6 links have a scope
}
