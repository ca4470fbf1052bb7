// probe_report.hpp — how `sockchat probe` shows its verdicts: a table as nmap prints it
// (open ports listed, a big crowd of closed ports summarised in one "Not shown" line), or
// with --json one "probe" event per port and a "summary".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/probe.hpp"

namespace sockchat::cli {

// A line of human output on stdout; nothing with --json (the events say it all there).
void say_out(std::string_view line);

// "8000/tcp".
std::string port_proto(const ProbeResult& r, bool udp);

// The "probe" event: host, port, proto, state, rtt_ms, errno (+ seq with --count).
nlohmann::json probe_event(const ProbeResult& r, bool udp, std::optional<std::size_t> seq = {});

// Every result: JSON events, or per address a header and a table of the ports worth showing.
// `name` is the HOST the user typed (shown next to the address when it is a name).
void report_results(const std::string& name, const std::vector<ProbeResult>& results, bool udp,
                    std::optional<std::size_t> seq = {});

// How many results are in each state, as JSON: {"open": 2, "closed": 99, ...}.
nlohmann::json count_states(const std::vector<ProbeResult>& results);

// "2 open, 99 closed" (the states that occur).
std::string describe_counts(const nlohmann::json& counts);

// True when every port is open on at least one of the host's addresses (the exit status).
// With --udp, open|filtered counts as open: silence is all most UDP services answer to an
// empty datagram, and nc -zu reports success for it too.
bool every_port_open(const std::vector<ProbeResult>& results, bool udp);

// A port's state counts as "up" for the exit status and --wait.
bool is_up(PortState state, bool udp);

}  // namespace sockchat::cli
