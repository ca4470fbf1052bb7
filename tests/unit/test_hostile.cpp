// Hostile peers, seen from core's pure rules: what QA found an attacker (or a busy server)
// can make the kernel answer, and the verdict each answer must get.
#include <cerrno>

#include <catch2/catch.hpp>

#include "core/chat_room.hpp"
#include "core/cidr.hpp"
#include "core/error.hpp"
#include "core/probe_rules.hpp"

using namespace sockchat;

// A server that accepts and at once closes with SO_LINGER 0 (or sheds load that way): our
// handshake completed, then its RST arrived before we read SO_ERROR, which now says
// ECONNRESET. Something listens there: the port is open, as nmap -sT says.
TEST_CASE("a connect reset right after the handshake is open and says so", "[connect][probe]") {
  CHECK(tcp_state(ECONNRESET) == PortState::open);
  CHECK(explain(PortState::open, ECONNRESET, false) ==
        "connected, then reset by the peer (ECONNRESET)");
  CHECK(explain(PortState::open, 0, false) == "connected: the handshake completed");
}

// Names are shown to everyone, so a name must look like what it is. Spaces other than
// U+0020 (NBSP, the ideographic space a Chinese keyboard types), zero-width characters and
// bidi overrides make names that look empty, look like someone else's, or turn the rest of
// the line around ("<x\u202Ey> hi" displays reversed).
TEST_CASE("valid_name refuses invisible characters and spaces beyond ASCII", "[room][nick]") {
  for (const char* bad : {
           "a\u00A0b",       // no-break space
           "a\u3000b",       // ideographic space
           "\u2003",         // em space
           "\u200B",         // zero-width space: a name that looks empty
           "al\u200Dice",    // zero-width joiner: "alice" twice
           "x\u202Ey",       // right-to-left override
           "x\u2066y",       // left-to-right isolate
           "a\u2028b",       // line separator
           "\uFEFFbom",      // byte order mark
           "\u3164",         // Hangul filler: blank on every terminal
           "a\u00ADb",       // soft hyphen: invisible
           "tag\U000E0041",  // tag character
       }) {
    INFO(bad);
    CHECK_FALSE(valid_name(bad));
  }
  for (const char* good : {"alice", "李雷", "café", "Ünïcödé", "日本語の名前", "bob_2"}) {
    INFO(good);
    CHECK(valid_name(good));
  }
}

// A link-local IPv6 peer's address comes with its interface ("fe80::1%eth0", which
// Address::host() shows): the scope names the link, not the host, so the rules judge the
// address without it. Before, inet_pton refused the "%eth0", the peer counted as a unix
// socket with no address, and `--allow 10.0.0.0/8` let every link-local neighbour in.
TEST_CASE("allow and deny judge a scoped link-local address", "[cidr]") {
  AccessList allow_ten;
  allow_ten.allow.push_back(Cidr::parse("10.0.0.0/8"));
  CHECK_FALSE(allow_ten.permits("fe80::1%eth0"));
  CHECK_FALSE(allow_ten.permits("fe80::fc:ff:fe00:1%2"));
  AccessList deny_link_local;
  deny_link_local.deny.push_back(Cidr::parse("fe80::/10"));
  CHECK_FALSE(deny_link_local.permits("fe80::1%eth0"));
  CHECK(deny_link_local.permits("2001:db8::1"));
  CHECK(Cidr::parse("fe80::/10").contains("fe80::1%lo"));
  CHECK_FALSE(allow_ten.permits("/tmp/chat.sock"));  // unreadable: refused (the server never asks)
}

// An IPv4-mapped IPv6 block is judged as the IPv4 block it maps (the server sees an IPv4
// client on a dual-stack socket as ::ffff:a.b.c.d), so its IPv6 prefix length counts from 96.
TEST_CASE("a mapped IPv6 block takes an IPv6 prefix length", "[cidr]") {
  CHECK(Cidr::parse("::ffff:0:0/96").contains("203.0.113.9"));
  CHECK(Cidr::parse("::ffff:10.0.0.0/104").contains("10.1.2.3"));
  CHECK_FALSE(Cidr::parse("::ffff:10.0.0.0/104").contains("11.1.2.3"));
  CHECK(Cidr::parse("::ffff:10.0.0.0/104").to_string() == "10.0.0.0/8");
  CHECK_THROWS_AS(Cidr::parse("::ffff:10.0.0.0/95"), UsageError);
  CHECK_THROWS_AS(Cidr::parse("::ffff:10.0.0.0/129"), UsageError);
  CHECK(Cidr::parse("10.0.0.0/8").contains("10.9.9.9"));  // plain IPv4 is unchanged
}
