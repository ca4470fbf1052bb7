// Hostile peers, seen from core's pure rules: what QA found an attacker (or a busy server)
// can make the kernel answer, and the verdict each answer must get.
#include <cerrno>

#include <catch2/catch.hpp>

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

