#include "core/port_spec.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

namespace {

constexpr unsigned kMaxPort = 65535;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One end of a range, or a lone port: digits 1-65535, or a service name via `lookup`.
std::uint16_t parse_one(std::string_view text, std::string_view spec, const ServiceLookup& lookup) {
  if (all_digits(text)) {
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 1 || value > kMaxPort) {
      throw UsageError(fmt::format("port {} is out of range (1-65535)", text));
    }
    return static_cast<std::uint16_t>(value);
  }
  if (lookup && !text.empty()) {
    if (auto port = lookup(text)) return *port;
  }
  throw UsageError(fmt::format("bad port '{}' in '{}': not a number 1-65535{}", text, spec,
                               lookup ? " or a service name" : ""));
}

// A run of ports, first to last: "1-65535" is one, however many times it is written.
struct Interval {
  unsigned first, last;
};

// "8000-8100", "-1024", "60000-", "-": the missing end is 1 or 65535, as in nmap.
void add_range(std::string_view item, std::size_t dash, std::string_view spec,
               const ServiceLookup& lookup, std::vector<Interval>& out) {
  const std::string_view first_text = trim(item.substr(0, dash));
  const std::string_view last_text = trim(item.substr(dash + 1));
  const unsigned first = first_text.empty() ? 1 : parse_one(first_text, spec, lookup);
  const unsigned last = last_text.empty() ? kMaxPort : parse_one(last_text, spec, lookup);
  if (first > last) {
    throw UsageError(fmt::format("bad port range '{}': {} is greater than {}", item, first, last));
  }
  out.push_back({first, last});
}

// Sorted, overlapping and touching runs merged, then expanded: memory grows with the
// distinct ports, not with how often a spec repeats them (1,000 copies of "1-65535" once
// took 150 MB).
std::vector<std::uint16_t> expand(std::vector<Interval> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const Interval& a, const Interval& b) { return a.first < b.first; });
  std::vector<Interval> merged;
  for (const Interval& r : runs) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  std::vector<std::uint16_t> ports;
  for (const Interval& r : merged) {
    for (unsigned p = r.first; p <= r.last; ++p) ports.push_back(static_cast<std::uint16_t>(p));
  }
  return ports;
}

}  // namespace

std::vector<std::uint16_t> parse_port_spec(std::string_view spec, const ServiceLookup& lookup) {
  if (trim(spec).empty()) throw UsageError("port spec is empty");
  std::vector<Interval> runs;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = spec.find(',', start);
    const std::string_view item = trim(spec.substr(start, comma - start));
    if (item.empty()) throw UsageError(fmt::format("bad port spec '{}': an empty item", spec));
    // A service name may contain a dash ("ms-sql-s"): only digits or nothing around the
    // dash make a range.
    const std::size_t dash = item.find('-');
    const bool range = dash != std::string_view::npos &&
                       (dash == 0 || all_digits(trim(item.substr(0, dash)))) &&
                       (dash + 1 == item.size() || all_digits(trim(item.substr(dash + 1))));
    if (range) {
      add_range(item, dash, spec, lookup, runs);
    } else {
      const unsigned port = parse_one(item, spec, lookup);
      runs.push_back({port, port});
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return expand(std::move(runs));
}

std::string format_port_spec(const std::vector<std::uint16_t>& sorted_ports) {
  std::string out;
  for (std::size_t i = 0; i < sorted_ports.size();) {
    std::size_t j = i;
    while (j + 1 < sorted_ports.size() && sorted_ports[j + 1] == sorted_ports[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", sorted_ports[i])
                  : fmt::format("{}-{}", sorted_ports[i], sorted_ports[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace sockchat
