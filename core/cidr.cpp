#include "core/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

namespace {

struct Parsed {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

// inet_pton for either family; an IPv4-mapped IPv6 address becomes plain IPv4. A scope
// ("fe80::1%eth0", RFC 4007) names the link, not the host: it is dropped before judging,
// or inet_pton would refuse it and a link-local peer would escape every rule.
std::optional<Parsed> parse_address(std::string_view text) {
  const std::string s(text.substr(0, text.find('%')));
  Parsed p;
  if (inet_pton(AF_INET, s.c_str(), p.bytes.data()) == 1) return p;
  if (inet_pton(AF_INET6, s.c_str(), p.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(mapped, mapped + 12, p.bytes.begin())) {
    std::copy(p.bytes.begin() + 12, p.bytes.end(), p.bytes.begin());
    std::fill(p.bytes.begin() + 4, p.bytes.end(), 0);
    return p;
  }
  p.v6 = true;
  return p;
}

bool prefix_equal(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                  int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

}  // namespace

Cidr Cidr::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  const auto address = parse_address(host);
  if (!address) throw UsageError(fmt::format("not an IP address or CIDR block: '{}'", text));
  // A scope names an IPv6 link (fe80::1%eth0); IPv4 has none, so one here is a mistake
  // that would otherwise be dropped in silence.
  if (!address->v6 && host.find('%') != std::string_view::npos) {
    throw UsageError(
        fmt::format("'{}': a scope (%...) belongs to IPv6 link-local addresses, "
                    "not to an IPv4 block",
                    text));
  }
  Cidr c;
  c.v6_ = address->v6;
  c.bytes_ = address->bytes;
  // "::ffff:10.0.0.0/104" was written in IPv6: its prefix counts the 96 mapping bits too.
  const bool mapped = !c.v6_ && host.find(':') != std::string_view::npos;
  const int min = mapped ? 96 : 0;
  const int max = c.v6_ || mapped ? 128 : 32;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), c.prefix_);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || c.prefix_ < min ||
        c.prefix_ > max) {
      throw UsageError(fmt::format("bad prefix length in '{}' ({}-{})", text, min, max));
    }
  }
  if (mapped) c.prefix_ -= 96;
  return c;
}

bool Cidr::contains(std::string_view address) const {
  const auto a = parse_address(address);
  return a && a->v6 == v6_ && prefix_equal(a->bytes, bytes_, prefix_);
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), text, sizeof text);
  return fmt::format("{}/{}", text, prefix_);
}

bool AccessList::permits(std::string_view address) const {
  if (allow.empty() && deny.empty()) return true;  // no rules: nothing to judge
  // Fail closed: an address the rules cannot read is not let through them. (A unix
  // socket's peer has no address; the server does not ask about it.)
  if (!parse_address(address)) return false;
  auto in = [&](const std::vector<Cidr>& list) {
    for (const Cidr& c : list) {
      if (c.contains(address)) return true;
    }
    return false;
  };
  if (in(deny)) return false;
  return allow.empty() || in(allow);
}

}  // namespace sockchat
