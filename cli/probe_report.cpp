#include "cli/probe_report.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/error.hpp"

namespace sockchat::cli {

namespace {

constexpr PortState kStates[] = {PortState::open,          PortState::closed,
                                 PortState::filtered,      PortState::unreachable,
                                 PortState::open_filtered, PortState::error};

double round_us(double ms) {
  return std::round(ms * 1000.0) / 1000.0;
}

std::string rtt_text(const ProbeResult& r) {
  return r.rtt_ms ? fmt::format("{:.3f} ms", *r.rtt_ms) : "-";
}

std::string why(const ProbeResult& r, bool udp) {
  if (r.self_connect) {
    return "connected to itself (TCP simultaneous open): nothing listens, so closed";
  }
  return explain(r.state, r.err, udp);
}

const char* state_color(PortState state) {
  switch (state) {
    case PortState::open:
      return "32";  // green
    case PortState::closed:
      return "31";  // red
    default:
      return "33";  // yellow
  }
}

// Results grouped by address, in the order they were probed.
std::vector<std::vector<const ProbeResult*>> by_address(const std::vector<ProbeResult>& results) {
  std::vector<std::vector<const ProbeResult*>> groups;
  for (const ProbeResult& r : results) {
    if (groups.empty() || !same_host(groups.back().front()->target, r.target)) {
      groups.emplace_back();
    }
    groups.back().push_back(&r);
  }
  return groups;
}

void print_row(const ProbeResult& r, bool udp, std::optional<std::size_t> seq) {
  const bool color = use_color(1);
  std::string line =
      fmt::format("{:<10}{}{:<11}{}", port_proto(r, udp),
                  paint(color, state_color(r.state), fmt::format("{:<15}", state_name(r.state))),
                  rtt_text(r), why(r, udp));
  if (seq) line += fmt::format("  (seq {})", *seq);
  say_out(line);
}

void print_group(const std::string& name, const std::vector<const ProbeResult*>& group, bool udp,
                 std::optional<std::size_t> seq) {
  // With --count, the header comes once, then rows only, as ping prints its replies.
  const bool first = !seq || *seq == 1;
  const std::string host = group.front()->target.host();
  const bool is_name = name != host && "[" + host + "]" != name;
  if (first) {
    say_out(fmt::format("Probing {}{}: {} {} port{}", is_name ? name + " " : "",
                        is_name ? "(" + host + ")" : host, group.size(), udp ? "UDP" : "TCP",
                        group.size() == 1 ? "" : "s"));
  }
  std::map<PortState, std::size_t> counts;
  for (const ProbeResult* r : group) ++counts[r->state];
  bool header = !first;
  for (const ProbeResult* r : group) {
    if (!show_each(r->state, counts[r->state]) && !r->self_connect) continue;
    if (!header) say_out(fmt::format("{:<10}{:<15}{:<11}{}", "PORT", "STATE", "RTT", "WHY"));
    header = true;
    print_row(*r, udp, seq);
  }
  for (PortState state : kStates) {
    const std::size_t n = counts[state];
    if (n == 0 || show_each(state, n)) continue;
    // The reason is the same for the whole crowd: take it from one of them.
    const auto* sample = *std::find_if(group.begin(), group.end(),
                                       [&](const ProbeResult* r) { return r->state == state; });
    say_out(fmt::format("Not shown: {} {} ports ({})", n, state_name(state),
                        explain(state, sample->err, udp)));
  }
}

}  // namespace

void say_out(std::string_view line) {
  if (!global_options().json) emit(nlohmann::json::object(), line);
}

std::string port_proto(const ProbeResult& r, bool udp) {
  return fmt::format("{}/{}", r.target.port(), udp ? "udp" : "tcp");
}

nlohmann::json probe_event(const ProbeResult& r, bool udp, std::optional<std::size_t> seq) {
  nlohmann::json event{{"event", "probe"},
                       {"host", r.target.host()},
                       {"port", r.target.port()},
                       {"proto", udp ? "udp" : "tcp"},
                       {"state", state_name(r.state)},
                       {"rtt_ms", r.rtt_ms ? nlohmann::json(round_us(*r.rtt_ms)) : nullptr},
                       {"errno", r.err != 0 ? nlohmann::json(errno_name(r.err)) : nullptr}};
  if (r.self_connect) event["self_connect"] = true;
  if (seq) event["seq"] = *seq;
  return event;
}

void report_results(const std::string& name, const std::vector<ProbeResult>& results, bool udp,
                    std::optional<std::size_t> seq) {
  if (global_options().json) {
    for (const ProbeResult& r : results) emit(probe_event(r, udp, seq), {});
    return;
  }
  for (const auto& group : by_address(results)) print_group(name, group, udp, seq);
}

nlohmann::json count_states(const std::vector<ProbeResult>& results) {
  std::map<PortState, std::size_t> n;
  for (const ProbeResult& r : results) ++n[r.state];
  nlohmann::json counts = nlohmann::json::object();
  for (PortState state : kStates) counts[std::string(state_name(state))] = n[state];
  return counts;
}

std::string describe_counts(const nlohmann::json& counts) {
  std::string out;
  for (PortState state : kStates) {
    const int n = counts.value(std::string(state_name(state)), 0);
    if (n == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", n, state_name(state));
  }
  return out.empty() ? "nothing probed" : out;
}

bool is_up(PortState state, bool udp) {
  return state == PortState::open || (udp && state == PortState::open_filtered);
}

bool every_port_open(const std::vector<ProbeResult>& results, bool udp) {
  std::vector<bool> probed(65536, false);
  std::vector<bool> up(65536, false);
  for (const ProbeResult& r : results) {
    probed[r.target.port()] = true;
    if (is_up(r.state, udp)) up[r.target.port()] = true;
  }
  return !results.empty() && probed == up;
}

}  // namespace sockchat::cli
