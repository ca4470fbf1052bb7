#include "loadgen_ledger.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace sockchat::bench {

Nanos now_ns() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t).count();
}

std::string format_line(const Payload& p) {
  return fmt::format("@L {} {} {}\n", p.sender, p.seq, p.sent);
}

namespace {

// Reads one decimal number from the front of `text` and drops it (and one space after it).
template <typename T>
bool take_number(std::string_view& text, T& out) {
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (err != std::errc() || out < 0) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return true;
}

}  // namespace

Parsed parse_line(std::string_view line, Payload& out) {
  const auto at = line.find("@L ");
  if (at == std::string_view::npos) return Parsed::none;
  std::string_view rest = line.substr(at + 3);
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);  // a \r\n server
  const bool ok =
      take_number(rest, out.sender) && take_number(rest, out.seq) && take_number(rest, out.sent);
  return ok && rest.empty() ? Parsed::ok : Parsed::garbled;
}

Ledger::Ledger(int clients, int senders, int lines)
    : senders_(senders),
      lines_(lines),
      seen_(static_cast<std::size_t>(clients) * senders * lines, 0),
      highest_(static_cast<std::size_t>(clients) * senders, -1) {
  s_.expected = static_cast<std::int64_t>(clients - 1) * senders * lines;
  latencies_.reserve(static_cast<std::size_t>(s_.expected));
}

void Ledger::record(int receiver, const Payload& p, Nanos now) {
  if (p.sender >= senders_ || p.seq >= lines_) {
    ++s_.garbled;  // numbers we never sent: the line was damaged on the way
    return;
  }
  if (p.sender == receiver) {
    ++s_.echoes;
    return;
  }
  const std::size_t pair = static_cast<std::size_t>(receiver) * senders_ + p.sender;
  std::uint8_t& count = seen_[pair * lines_ + p.seq];
  if (count < 255) ++count;
  if (count > 1) {
    ++s_.duplicates;
    return;
  }
  ++s_.delivered;
  latencies_.push_back(now - p.sent);
  s_.last_delivery = now;
  if (p.seq < highest_[pair]) ++s_.reordered;  // a later line of this sender came first
  highest_[pair] = std::max(highest_[pair], p.seq);
}

Nanos percentile(const std::vector<Nanos>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least q of all values at or below it.
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

Summary Ledger::summarize() const {
  Summary s = s_;
  std::vector<Nanos> sorted = latencies_;
  std::sort(sorted.begin(), sorted.end());
  s.p50 = percentile(sorted, 0.50);
  s.p99 = percentile(sorted, 0.99);
  s.max = sorted.empty() ? 0 : sorted.back();
  return s;
}

std::optional<long long> parse_stat_ticks(std::string_view stat) {
  const auto paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  // After ") " come field 3 (state), 4, ...: utime is field 14, stime field 15.
  std::istringstream fields{std::string(stat.substr(paren + 1))};
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return utime + stime;
}

std::optional<long long> parse_status_kib(std::string_view status, std::string_view key) {
  std::istringstream lines{std::string(status)};
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::stoll(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// All the process's threads' CPU time, exited ones included, in nanoseconds: its CPU-time
// clock (clock_getcpuclockid(3)). /proc's utime and stime count 10 ms ticks, and a burst's
// whole server time is 30-100 ms: a tick more or less moved a ratio by a third.
std::optional<double> cpu_clock_seconds(pid_t pid) {
  clockid_t clock{};
  timespec t{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &t) != 0) {
    return std::nullopt;
  }
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

}  // namespace

std::optional<ProcSample> sample_process(pid_t pid) {
  const auto stat = slurp(fmt::format("/proc/{}/stat", pid));
  const auto status = slurp(fmt::format("/proc/{}/status", pid));
  if (!stat || !status) return std::nullopt;
  const auto ticks = parse_stat_ticks(*stat);
  const auto rss = parse_status_kib(*status, "VmRSS");
  const auto hwm = parse_status_kib(*status, "VmHWM");
  if (!ticks || !rss || !hwm) return std::nullopt;
  ProcSample s;
  s.cpu_s = cpu_clock_seconds(pid).value_or(static_cast<double>(*ticks) /
                                            static_cast<double>(::sysconf(_SC_CLK_TCK)));
  s.rss_mib = static_cast<double>(*rss) / 1024.0;
  s.hwm_mib = static_cast<double>(*hwm) / 1024.0;
  return s;
}

double ksoftirqd_cpu_seconds() {
  long long ticks = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;  // not a PID
    const auto comm = slurp(entry.path().string() + "/comm");
    if (!comm || comm->rfind("ksoftirqd/", 0) != 0) continue;
    if (const auto stat = slurp(entry.path().string() + "/stat"))
      ticks += parse_stat_ticks(*stat).value_or(0);
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long long parse_softnet_drops(std::string_view softnet_stat) {
  std::istringstream lines{std::string(softnet_stat)};
  long long drops = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string processed, dropped;
    if (fields >> processed >> dropped) drops += std::stoll(dropped, nullptr, 16);
  }
  return drops;
}

std::optional<long long> parse_tcp_retransmits(std::string_view snmp) {
  // Two lines start with "Tcp:": the names, then the values in the same order.
  std::istringstream lines{std::string(snmp)};
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Tcp:", 0) != 0) continue;
    std::istringstream fields(line.substr(4));
    if (names.empty()) {
      for (std::string name; fields >> name;) names.push_back(name);
      continue;
    }
    for (const std::string& name : names) {
      long long value = 0;
      if (!(fields >> value)) return std::nullopt;
      if (name == "RetransSegs") return value;
    }
  }
  return std::nullopt;
}

KernelLoss sample_kernel_loss() {
  KernelLoss k;
  if (const auto softnet = slurp("/proc/net/softnet_stat")) {
    k.backlog_drops = parse_softnet_drops(*softnet);
  }
  if (const auto snmp = slurp("/proc/net/snmp")) {
    k.retransmits = parse_tcp_retransmits(*snmp).value_or(0);
  }
  return k;
}

}  // namespace sockchat::bench
