// port_spec.cpp — PORTS as probe reads them (core/port_spec.hpp): "22,80,8000-8100,http".
//
// Input: the spec text. Properties:
//   - parse either gives ports or throws UsageError;
//   - the ports are sorted, distinct and in 1-65535;
//   - format_port_spec prints them as a spec that parses back to the same ports.
#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "core/port_spec.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat;
using sockchat::fuzz::require;

// A fixed table instead of getservbyname(3), so a run never depends on /etc/services.
std::optional<std::uint16_t> services(std::string_view name) {
  if (name == "http") return 80;
  if (name == "ssh") return 22;
  if (name == "ms-sql-s") return 1433;
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view spec = sockchat::fuzz::as_text(data, size);
  std::vector<std::uint16_t> ports;
  try {
    ports = parse_port_spec(spec, services);
  } catch (const UsageError&) {
    return 0;  // shown to the user by the CLI, through visible()
  }
  require(!ports.empty(), "a spec that parses gives no port", spec);
  require(std::adjacent_find(ports.begin(), ports.end(), std::greater_equal<>()) == ports.end(),
          "ports are not sorted and distinct", spec);
  require(ports.front() >= 1, "port 0 in a parsed spec", spec);
  const std::string text = format_port_spec(ports);
  require(parse_port_spec(text) == ports, "format_port_spec does not parse back", text);
  return 0;
}
