// address.cpp — what a user types as an address (core/address.hpp): "host:port" split,
// literal addresses, unix paths and ports. No DNS: resolve() is not fuzzed.
//
// Input: byte 0 and 1 are a port, the rest is the text. Properties:
//   - split_host_port either splits or throws UsageError, and a bracketed host with a
//     port gives back exactly what was inside the brackets and after the colon;
//   - a literal that parses prints as an address that parses back to itself, both as its
//     host and through to_string() and split_host_port (the round trip a log reader does);
//   - parse_port returns 1-65535 or throws UsageError.
#include <string>

#include "core/address.hpp"
#include "core/error.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat;
using sockchat::fuzz::require;

void check_literal(std::string_view host, std::uint16_t port) {
  std::optional<Address> a;
  try {
    a = Address::from_literal(host, port);
  } catch (const UsageError&) {
    require(host.starts_with("unix:"), "from_literal threw for a non-unix host");
    return;
  }
  if (!a) return;
  require(a->port() == (a->is_unix() ? 0 : port), "from_literal lost the port");
  const auto again = Address::from_literal(a->is_unix() ? "unix:" + a->host() : a->host(), port);
  require(again && *again == *a, "host() does not parse back to the address", a->host());
  const std::string text = a->to_string();
  const auto [h, p] = split_host_port(text);
  require(p == (a->is_unix() ? "" : std::to_string(port)), "to_string() splits off another port",
          text);
  const auto split = Address::from_literal(h, port);
  require(split && *split == *a, "to_string() does not split back to the address", text);
  (void)a->to_python();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const auto port = static_cast<std::uint16_t>(in.byte() << 8 | in.byte());
  const std::string_view text = in.rest();
  try {
    const auto [host, port_text] = split_host_port(text);
    if (text.starts_with('[') && !port_text.empty()) {
      require("[" + host + "]:" + port_text == text, "a bracketed split loses bytes", text);
    }
    check_literal(host, port);
  } catch (const UsageError&) {
  }
  check_literal(text, port);
  try {
    const std::uint16_t p = parse_port(text);
    require(p >= 1, "parse_port returned port 0");
  } catch (const UsageError&) {
  }
  return 0;
}
