// test_address.cpp — parsing and printing addresses, ports and "host:port" text. Pure
// code: no socket is opened here (resolve uses /etc/hosts for "localhost", never DNS).
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "core/address.hpp"
#include "core/error.hpp"
#include "loopback.hpp"

using namespace sockchat;

TEST_CASE("from_literal parses IPv4 and IPv6 literals and prints them back", "[address]") {
  struct Row {
    const char* text;
    int family;
    const char* printed;
  };
  const Row row = GENERATE(values<Row>({
      {"127.0.0.1", AF_INET, "127.0.0.1:8000"},
      {"0.0.0.0", AF_INET, "0.0.0.0:8000"},
      {"255.255.255.255", AF_INET, "255.255.255.255:8000"},
      {"::1", AF_INET6, "[::1]:8000"},
      {"[::1]", AF_INET6, "[::1]:8000"},
      {"::", AF_INET6, "[::]:8000"},
      {"2001:db8::1", AF_INET6, "[2001:db8::1]:8000"},
      {"2001:DB8:0:0:0:0:0:1", AF_INET6, "[2001:db8::1]:8000"},  // printed in canonical form
      {"::ffff:127.0.0.1", AF_INET6, "[::ffff:127.0.0.1]:8000"},
  }));
  CAPTURE(row.text);
  const auto a = Address::from_literal(row.text, 8000);
  REQUIRE(a.has_value());
  CHECK(a->family() == row.family);
  CHECK(a->port() == 8000);
  CHECK(a->to_string() == row.printed);
  CHECK(a->size() == (row.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)));
}

TEST_CASE("from_literal refuses names and malformed literals", "[address]") {
  const char* text =
      GENERATE("localhost", "", "1.2.3", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4:80", "[::1",
               "::1]", "[127.0.0.1]", ":::", "1::2::3", "fe80::1%lo", "[]", "example.com");
  CAPTURE(text);
  CHECK_FALSE(Address::from_literal(text, 80).has_value());
}

TEST_CASE("unix addresses: unix:/path, and a path too long for sockaddr_un", "[address][unix]") {
  const auto a = Address::from_literal("unix:/tmp/chat.sock", 8000);
  REQUIRE(a.has_value());
  CHECK(a->is_unix());
  CHECK(a->host() == "/tmp/chat.sock");
  CHECK(a->port() == 0);
  CHECK(a->to_string() == "unix:/tmp/chat.sock");
  CHECK(a->to_python() == "'/tmp/chat.sock'");
  constexpr std::size_t room = sizeof(sockaddr_un::sun_path);  // 108 on Linux, with the NUL
  CHECK_NOTHROW(Address::unix_path("/" + std::string(room - 2, 'x')));
  CHECK_THROWS_WITH(Address::unix_path("/" + std::string(room - 1, 'x')),
                    Catch::Matchers::StartsWith("unix socket path is too long (108 bytes, at "
                                                "most 107)"));
  CHECK_THROWS_AS(Address::unix_path(""), UsageError);
  CHECK_THROWS_AS(Address::from_literal("unix:", 0), UsageError);
  CHECK_THROWS_AS(Address::unix_path(std::string("a\0b", 3)), UsageError);
}

TEST_CASE("to_python spells the address as the tutorial's Python does", "[address]") {
  CHECK(Address::from_literal("127.0.0.1", 8000)->to_python() == "('127.0.0.1', 8000)");
  CHECK(Address::from_literal("::1", 80)->to_python() == "('::1', 80)");
  CHECK(Address().to_string() == "(none)");
}

TEST_CASE("from_sockaddr copies what the kernel wrote; == compares whole addresses", "[address]") {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(4242);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in);
  CHECK(a.to_string() == "127.0.0.1:4242");
  CHECK(a == *Address::from_literal("127.0.0.1", 4242));
  CHECK_FALSE(a == *Address::from_literal("127.0.0.1", 4243));
  CHECK_FALSE(a == *Address::from_literal("::1", 4242));
}

TEST_CASE("a link-local IPv6 address keeps its scope (interface)", "[address][ipv6]") {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(80);
  in6.sin6_addr.s6_addr[0] = 0xfe;
  in6.sin6_addr.s6_addr[1] = 0x80;
  in6.sin6_addr.s6_addr[15] = 1;
  in6.sin6_scope_id = 1;  // the loopback interface is index 1 on Linux
  const Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  CHECK(a.to_string() == "[fe80::1%lo]:80");
}

TEST_CASE("resolve: literals directly, names through getaddrinfo", "[address]") {
  CHECK(Address::resolve("127.0.0.1", 80).front().to_string() == "127.0.0.1:80");
  CHECK(Address::resolve("[::1]", 80).front().to_string() == "[::1]:80");
  CHECK(Address::resolve("unix:/tmp/x", 80).front().to_string() == "unix:/tmp/x");
  const auto local = Address::resolve("localhost", 8000);  // from /etc/hosts
  REQUIRE_FALSE(local.empty());
  bool has_v4 = false;
  for (const Address& a : local) {
    CHECK(a.port() == 8000);
    has_v4 = has_v4 || a.to_string() == "127.0.0.1:8000";
  }
  CHECK(has_v4);
  CHECK(Address::resolve("fe80::1%lo", 22).front().to_string() == "[fe80::1%lo]:22");
  CHECK(Address::resolve("[fe80::1%lo]", 22).front().to_string() == "[fe80::1%lo]:22");
  CHECK_THROWS_WITH(Address::resolve("", 80), "host is empty");
}

TEST_CASE("parse_port takes 1-65535 or a service name", "[address][port]") {
  struct Row {
    const char* text;
    int port;
  };
  const Row row = GENERATE(values<Row>({{"1", 1},
                                        {"80", 80},
                                        {"8000", 8000},
                                        {"65535", 65535},
                                        {"http", 80},
                                        {"ssh", 22},
                                        {"domain", 53}}));
  CAPTURE(row.text);
  CHECK(parse_port(row.text) == row.port);
}

TEST_CASE("parse_port rejects everything else with a one-line reason", "[address][port]") {
  struct Row {
    const char* text;
    const char* message;
  };
  const Row row = GENERATE(values<Row>({
      {"0", "port 0 is out of range (1-65535)"},
      {"65536", "port 65536 is out of range (1-65535)"},
      {"99999999999999999999", "port 99999999999999999999 is out of range (1-65535)"},
      {"", "port is empty"},
      {"-1", "bad port '-1': not a number 1-65535 or a service name"},
      {"80x", "bad port '80x': not a number 1-65535 or a service name"},
      {" 80", "bad port ' 80': not a number 1-65535 or a service name"},
      {"+80", "bad port '+80': not a number 1-65535 or a service name"},
      {"no-such-service", "bad port 'no-such-service': not a number 1-65535 or a service name"},
  }));
  CAPTURE(row.text);
  CHECK_THROWS_MATCHES(parse_port(row.text), UsageError, Catch::Matchers::Message(row.message));
}

TEST_CASE("split_host_port separates host and port text", "[address]") {
  struct Row {
    const char* text;
    const char* host;
    const char* port;
  };
  const Row row = GENERATE(values<Row>({
      {"127.0.0.1:8000", "127.0.0.1", "8000"},
      {"localhost:http", "localhost", "http"},
      {"[::1]:8000", "::1", "8000"},
      {"[::1]", "::1", ""},
      {"[fe80::1%eth0]:22", "fe80::1%eth0", "22"},
      {"::1", "::1", ""},  // a bare IPv6 literal: every colon belongs to it
      {"fe80::1%eth0", "fe80::1%eth0", ""},
      {"example.com", "example.com", ""},
      {"host:", "host", ""},
      {"unix:/tmp/chat.sock", "unix:/tmp/chat.sock", ""},
  }));
  CAPTURE(row.text);
  const auto [host, port] = split_host_port(row.text);
  CHECK(host == row.host);
  CHECK(port == row.port);
}

TEST_CASE("split_host_port rejects broken brackets", "[address]") {
  CHECK_THROWS_WITH(split_host_port("[::1"), "bad address '[::1': missing ']'");
  CHECK_THROWS_WITH(split_host_port("[::1]8000"),
                    "bad address '[::1]8000': expected ':PORT' after ']'");
}

TEST_CASE("an abstract unix address prints as unix:@name, as ss shows it", "[address][unix]") {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, "\0chat", 5);  // Linux's abstract namespace: a leading NUL
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 5);
  const Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), len);
  CHECK(a.to_string() == "unix:@chat");
  // An unnamed socket (a client that never bound) has no path at all.
  const Address unnamed =
      Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof(sa_family_t));
  CHECK(unnamed.to_string() == "unix:(unnamed)");
}
