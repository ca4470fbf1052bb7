// port_spec.hpp — PORTS as nmap's -p and nc's port ranges spell them: "22,80,8000-8100".
//
// Pure parsing, no sockets: a list of items separated by commas, each a port ("80"), a
// range ("8000-8100"), an open range ("-1024" is 1-1024, "60000-" is 60000-65535, "-" is
// every port), or, when a lookup is given, a service name ("http"). The result is sorted
// and has no duplicates, so "80,79-81" probes three ports. Port 0 is not a port a client
// can connect to (connect(2) to port 0 is refused), so it is an error here, as in nmap.
// Read: services(5), nmap(1) "-p port ranges".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockchat {

// Turns a service name into a port, or nullopt when it is unknown (getservbyname(3) in the
// CLI; tests pass a table).
using ServiceLookup = std::function<std::optional<std::uint16_t>(std::string_view name)>;

// Throws UsageError with a one-line reason: "port spec is empty", "port 0 is out of range
// (1-65535)", "bad port range '5-3': 5 is greater than 3", "bad port 'x' in 'x'".
std::vector<std::uint16_t> parse_port_spec(std::string_view spec, const ServiceLookup& lookup = {});

// The inverse, for messages: {22, 80, 81, 82} → "22,80-82".
std::string format_port_spec(const std::vector<std::uint16_t>& sorted_ports);

}  // namespace sockchat
