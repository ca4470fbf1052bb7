// cidr.hpp — address ranges for --allow and --deny: "10.0.0.0/8", "::1/128", "127.0.0.1".
//
// A CIDR block is an address and a prefix length: an address matches when its first
// `prefix` bits equal the block's. IPv4 and IPv6 are both handled, and an IPv4-mapped IPv6
// address (::ffff:10.1.2.3, what a dual-stack "::" listener reports for IPv4 clients)
// matches IPv4 blocks. Pure code: inet_pton(3) only, no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockchat {

class Cidr {
 public:
  // "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128 block). Throws UsageError.
  static Cidr parse(std::string_view text);
  // True if the address literal ("10.1.2.3", "::1", "::ffff:10.1.2.3") is in the block.
  bool contains(std::string_view address) const;
  std::string to_string() const;  // "10.0.0.0/8"

 private:
  bool v6_ = false;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4
  int prefix_ = 0;
};

// The --allow/--deny rule: with any --allow, an address must be in one of them; it must be
// in no --deny (deny wins). With any rule, an address that cannot be parsed is refused
// (fail closed); unix-socket peers have no address, and the caller does not ask.
struct AccessList {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;
  bool permits(std::string_view address) const;
};

}  // namespace sockchat
