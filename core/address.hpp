// address.hpp — one value type for the three address families sockchat speaks:
// IPv4 (sockaddr_in), IPv6 (sockaddr_in6) and unix paths (sockaddr_un).
//
// Printing follows the usual conventions: 1.2.3.4:80, [::1]:80, unix:/path.
// Parsing literals is pure (inet_pton); names go through getaddrinfo (resolve).
// Read: ip(7), ipv6(7), unix(7), getaddrinfo(3), inet_pton(3).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockchat {

class Address {
 public:
  Address() = default;  // AF_UNSPEC: "no address"

  // Literals only, no DNS: "127.0.0.1", "::1", "[::1]" with `port`; "unix:/path" ignores it.
  // Returns nullopt for anything else (a host name, garbage, "[1.2.3.4]", "fe80::1%eth0":
  // a scope needs getaddrinfo). A bad unix path throws UsageError, as unix_path does.
  static std::optional<Address> from_literal(std::string_view host, std::uint16_t port);
  // Throws UsageError if the path does not fit in sockaddr_un (108 bytes with its NUL).
  static Address unix_path(std::string_view path);
  // Copies what the kernel wrote (accept, recvfrom, getsockname, getpeername).
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);

  // host may be a literal, a name (getaddrinfo), "[v6 literal]", "fe80::1%eth0", or
  // "unix:/path". Every address found, in getaddrinfo's order, without duplicates.
  // Throws UsageError naming the host when it is empty or cannot be resolved.
  static std::vector<Address> resolve(std::string_view host, std::uint16_t port,
                                      int socktype = SOCK_STREAM);

  int family() const { return storage_.ss_family; }
  bool is_unix() const { return family() == AF_UNIX; }
  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const { return size_; }

  std::string host() const;       // "127.0.0.1", "::1", "fe80::1%eth0", the unix path, "@abstract"
  std::uint16_t port() const;     // 0 for unix sockets
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80", "unix:/path"
  // The tutorial's Python spelling of the address: "('127.0.0.1', 8000)" or "'/path'".
  std::string to_python() const;

  friend bool operator==(const Address& a, const Address& b);

 private:
  std::string ipv6_host() const;
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// A port: a number 1–65535 or a service name from /etc/services ("http"). Throws UsageError.
std::uint16_t parse_port(std::string_view text);

// "[::1]:8000", "127.0.0.1:8000", "host:8000" split into host and port text; a bare host
// (including a bare IPv6 literal such as "::1", and "[::1]") yields an empty port, and so
// does "host:". Throws UsageError for a bracket that is not closed or is followed by
// anything but ":PORT". "unix:/path" is returned whole.
std::pair<std::string, std::string> split_host_port(std::string_view text);

}  // namespace sockchat
