// probe — is anything listening there? An explaining port probe, like nmap -sT and nc -z.
//
//   sockchat probe HOST [PORTS=8000] [--timeout S] [--concurrency N] [--count N]
//                  [--interval S] [--show-options] [--wait S] [--udp]
//   (HOST may carry the ports, as connect's does: 127.0.0.1:8000, [::1]:22,80)
//
// Each port's verdict comes from the kernel's answer to a nonblocking connect (see
// core/probe.hpp for the five steps and core/probe_rules.hpp for the verdicts). Modes:
//   (default)       probe every port once, print the open ones and summarise the rest;
//   --count N       a TCP ping: N rounds, then min/avg/max RTT and loss per port;
//   --wait S        retry until every port is open or S seconds pass (scripts waiting for
//                   a server): exit 0 when it opened, 1 otherwise;
//   --show-options  also connect to each open port and show getsockopt's view of it.
// Exit status: 0 every port open, 1 otherwise, 2 a usage error (bad ports, bad host).
// Read: connect(2), poll(2), tcp(7), udp(7), socket(7), nmap(1), nc(1) -z.
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/probe_options.hpp"
#include "cli/probe_report.hpp"
#include "cli/probe_tls.hpp"
#include "cli/udp_common.hpp"  // seconds_check: bounded seconds, one-line errors
#include "core/error.hpp"
#include "core/port_spec.hpp"
#include "core/probe.hpp"
#include "core/signals.hpp"

namespace sockchat::cli {

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// --wait polls this often: quick enough that a script notices a server within a blink,
// slow enough that a closed port costs nothing (each attempt is a handful of syscalls).
constexpr std::chrono::milliseconds kWaitInterval{50};

struct ProbeCliOptions {
  std::string host;
  std::string ports = "8000";
  bool ports_given = false;  // PORTS was given (so a port attached to HOST is one too many)
  double timeout = 2.0;
  std::size_t concurrency = 0;
  std::size_t count = 0;  // 0: probe once, no statistics
  double interval = 1.0;
  bool show_options = false;
  bool ssl = false;  // --ssl: a TLS handshake on each open port, and what it shows
  std::string ssl_trustfile;
  std::optional<double> wait;
  bool udp = false;
};

double round_us(double ms) {
  return std::round(ms * 1000.0) / 1000.0;
}

double seconds_since(Clock::time_point start) {
  return Seconds(Clock::now() - start).count();
}

// Service names come from /etc/services through getservbyname(3), for this protocol.
ServiceLookup services(bool udp) {
  return [udp](std::string_view name) -> std::optional<std::uint16_t> {
    const std::string text(name);
    const servent* s = getservbyname(text.c_str(), udp ? "udp" : "tcp");
    if (s == nullptr) return std::nullopt;
    return ntohs(static_cast<std::uint16_t>(s->s_port));
  };
}

// Every address HOST resolves to, times every port.
std::vector<Address> targets_of(const ProbeCliOptions& o) {
  if (o.host.starts_with("unix:")) {
    throw UsageError("probe speaks TCP and UDP: a unix socket has no ports to probe");
  }
  if (o.host.empty()) throw UsageError("HOST is empty");
  const std::vector<std::uint16_t> ports = parse_port_spec(o.ports, services(o.udp));
  std::vector<Address> targets;
  for (const Address& a : Address::resolve(o.host, 0, o.udp ? SOCK_DGRAM : SOCK_STREAM)) {
    for (std::uint16_t port : ports) targets.push_back(with_port(a, port));
  }
  return targets;
}

ProbeOptions engine_options(const ProbeCliOptions& o) {
  ProbeOptions p;
  p.timeout = Seconds(o.timeout);
  p.concurrency = o.concurrency;
  p.udp = o.udp;
  return p;
}

void summary(const ProbeCliOptions& o, const std::vector<ProbeResult>& results, double elapsed,
             bool ok, nlohmann::json extra = nlohmann::json::object()) {
  const nlohmann::json counts = count_states(results);
  nlohmann::json event{{"event", "summary"},
                       {"host", o.host},
                       {"proto", o.udp ? "udp" : "tcp"},
                       {"probed", results.size()},
                       {"states", counts},
                       {"elapsed_s", elapsed},
                       {"ok", ok}};
  event.update(extra);
  emit(event, fmt::format("Done: {} in {:.2f} s", describe_counts(counts), elapsed));
}

int run_once(const ProbeCliOptions& o, const std::vector<Address>& targets) {
  const auto start = Clock::now();
  const auto results = probe(targets, engine_options(o));
  const double elapsed = seconds_since(start);
  report_results(o.host, results, o.udp);
  if (o.show_options) {
    for (const ProbeResult& r : results) {
      if (r.state == PortState::open) show_socket_options(r.target, Seconds(o.timeout), o.udp);
    }
  }
  if (o.ssl) {
    for (const ProbeResult& r : results) {
      if (r.state == PortState::open)
        report_tls(r.target, o.host, o.ssl_trustfile, Seconds(o.timeout));
    }
  }
  const bool ok = every_port_open(results, o.udp);
  summary(o, results, elapsed, ok);
  return ok ? 0 : 1;
}

// --count: like ping, a line per answer, then statistics per port.
void report_stats(const ProbeCliOptions& o, const std::vector<ProbeResult>& last,
                  const std::vector<RttStats>& stats, const std::vector<std::size_t>& opens) {
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const ProbeResult& r = last[i];
    const RttStats& s = stats[i];
    nlohmann::json event{{"event", "stats"},
                         {"host", r.target.host()},
                         {"port", r.target.port()},
                         {"proto", o.udp ? "udp" : "tcp"},
                         {"sent", s.sent()},
                         {"answered", s.answered()},
                         {"open", opens[i]},
                         {"loss_pct", s.loss_percent()},
                         {"rtt_min_ms", round_us(s.min_ms())},
                         {"rtt_avg_ms", round_us(s.avg_ms())},
                         {"rtt_max_ms", round_us(s.max_ms())}};
    if (s.answered() == 0) {
      for (const char* k : {"rtt_min_ms", "rtt_avg_ms", "rtt_max_ms"}) event[k] = nullptr;
    }
    const bool show = opens[i] > 0 || stats.size() <= kShowLimit;
    emit(event,
         !show ? std::string{}
               : fmt::format("--- {} {}: {} probes, {} answered ({:.0f}% loss), {} open; "
                             "rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms",
                             r.target.to_string(), o.udp ? "udp" : "tcp", s.sent(), s.answered(),
                             s.loss_percent(), opens[i], s.min_ms(), s.avg_ms(), s.max_ms()));
  }
}

// Ctrl-C (or SIGTERM) during --count ends it as it ends ping: with the statistics of the
// rounds done. The first signal lets the round in flight finish (within --timeout) and
// cuts the pause between rounds short; a second exits at once (core/signals.hpp).
int run_count(const ProbeCliOptions& o, const std::vector<Address>& targets) {
  const auto start = Clock::now();
  std::vector<RttStats> stats(targets.size());
  std::vector<std::size_t> opens(targets.size(), 0);
  std::vector<ProbeResult> last;
  std::vector<ProbeResult> ever_open;  // for the exit status: open in at least one round
  StopSignals stop;
  for (std::size_t seq = 1; seq <= o.count && !stop.requested(); ++seq) {
    if (seq > 1 && stop.sleep(o.interval)) break;  // ping's pause, or Ctrl-C
    last = probe(targets, engine_options(o));
    report_results(o.host, last, o.udp, seq);
    for (std::size_t i = 0; i < last.size(); ++i) {
      stats[i].add(last[i].rtt_ms);
      if (is_up(last[i].state, o.udp)) ++opens[i];
    }
  }
  report_stats(o, last, stats, opens);
  for (std::size_t i = 0; i < last.size(); ++i) {
    if (opens[i] > 0) last[i].state = PortState::open;
  }
  const bool ok = every_port_open(last, o.udp);
  summary(o, last, seconds_since(start), ok, {{"count", o.count}});
  return ok ? 0 : 1;
}

// The targets whose port is not up on any of the host's addresses yet.
std::vector<std::size_t> still_down(const std::vector<ProbeResult>& latest, bool udp) {
  std::set<std::uint16_t> up;
  for (const ProbeResult& r : latest) {
    if (is_up(r.state, udp)) up.insert(r.target.port());
  }
  std::vector<std::size_t> down;
  for (std::size_t i = 0; i < latest.size(); ++i) {
    if (up.count(latest[i].target.port()) == 0) down.push_back(i);
  }
  return down;
}

int report_wait(const ProbeCliOptions& o, const std::vector<ProbeResult>& latest,
                std::size_t attempts, double elapsed) {
  for (const ProbeResult& r : latest) {
    const bool up = is_up(r.state, o.udp);
    emit(probe_event(r, o.udp),
         fmt::format("{} {}{} after {:.2f} s ({} attempt{}): {}", r.target.to_string(),
                     up ? "" : "still ", state_name(r.state), elapsed, attempts,
                     attempts == 1 ? "" : "s", explain(r.state, r.err, o.udp)));
  }
  const bool ok = every_port_open(latest, o.udp);
  summary(o, latest, elapsed, ok, {{"attempts", attempts}, {"wait_s", *o.wait}});
  return ok ? 0 : 1;
}

// --wait: probe the ports not yet open until all are, or until the deadline.
int run_wait(const ProbeCliOptions& o, const std::vector<Address>& targets) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(Seconds(*o.wait));
  std::vector<ProbeResult> latest(targets.size());
  std::vector<std::size_t> pending(targets.size());
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  std::size_t attempts = 0;
  for (;;) {
    const auto attempt_start = Clock::now();
    ProbeOptions p = engine_options(o);
    p.timeout = std::max(Seconds(0.001), std::min(p.timeout, Seconds(deadline - attempt_start)));
    std::vector<Address> now;
    for (std::size_t i : pending) now.push_back(targets[i]);
    const auto results = probe(now, p);
    ++attempts;
    for (std::size_t k = 0; k < results.size(); ++k) latest[pending[k]] = results[k];
    pending = still_down(latest, o.udp);
    if (pending.empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_until(std::min(attempt_start + kWaitInterval, deadline));
  }
  return report_wait(o, latest, attempts, seconds_since(start));
}

// HOST:PORTS in one word, as connect takes it ("127.0.0.1:8000", "[::1]:22,80"): split in
// two. A bare IPv6 literal (::1) has no port; "[::1]" loses its brackets only.
ProbeCliOptions with_attached_port(ProbeCliOptions o) {
  if (o.host.starts_with("unix:")) return o;
  auto [host, attached] = split_host_port(o.host);
  if (!attached.empty() && o.ports_given) {
    throw UsageError(fmt::format("port given twice: in '{}' and as '{}'", o.host, o.ports));
  }
  if (!attached.empty()) o.ports = attached;
  o.host = host;
  return o;
}

int run_probe(const ProbeCliOptions& given) {
  const ProbeCliOptions o = with_attached_port(given);
  if (o.wait && o.count > 0) {
    throw UsageError("--wait and --count do not mix: one retries until open, one repeats N times");
  }
  if (o.show_options && (o.wait || o.count > 0)) {
    throw UsageError("--show-options goes with a single probe, not with --wait or --count");
  }
  if (o.ssl && (o.wait || o.count > 0 || o.udp)) {
    throw UsageError("--ssl goes with a single TCP probe, not with --wait, --count or --udp");
  }
  const std::vector<Address> targets = targets_of(o);
  if (o.wait) return run_wait(o, targets);
  if (o.count > 0) return run_count(o, targets);
  return run_once(o, targets);
}

}  // namespace

void setup_probe(CLI::App& app) {
  auto* sub =
      app.add_subcommand("probe", "probe TCP/UDP ports and explain each verdict (nmap -sT, nc -z)");
  auto o = std::make_shared<ProbeCliOptions>();
  sub->add_option("HOST", o->host,
                  "host name, IPv4 or IPv6 address (every address is probed), or HOST:PORTS")
      ->required();
  sub->add_option("PORTS", o->ports, "ports: 22,80,8000-8100 (default 8000)")
      ->each([o](const std::string&) { o->ports_given = true; });
  sub->add_option("--timeout", o->timeout, "seconds to wait for an answer (default 2)")
      ->check(seconds_check(true));
  sub->add_option("--concurrency", o->concurrency,
                  "probes in flight at once (default: as many as descriptors allow)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  sub->add_option("--count", o->count, "repeat N times: min/avg/max RTT and loss, a TCP ping")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  sub->add_option("--interval", o->interval, "seconds between --count rounds (default 1)")
      ->check(seconds_check(false));
  sub->add_flag("--show-options", o->show_options,
                "connect to each open port and show its getsockopt values, before and after");
  sub->add_option("--wait", o->wait, "retry until open or S seconds pass (exit 0 if it opened)")
      ->check(seconds_check(true));
  sub->add_flag("--udp", o->udp, "UDP: ICMP port unreachable is closed, silence open|filtered");
  auto* ssl = sub->add_flag(
      "--ssl", o->ssl, "TLS handshake on each open port: version, cipher, certificate, verdict");
  sub->add_option("--ssl-trustfile", o->ssl_trustfile,
                  "PEM CA certificates to judge by instead of the system's")
      ->needs(ssl);
  sub->callback([o] { exit_code() = guarded([o] { return run_probe(*o); }); });
}

}  // namespace sockchat::cli
