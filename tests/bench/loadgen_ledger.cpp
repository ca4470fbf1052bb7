#include "loadgen_ledger.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include <fmt/format.h>

namespace sockchat::bench {

Nanos now_ns() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t).count();
}

void append_line(std::string& out, const Payload& p, std::size_t line_bytes) {
  const std::size_t start = out.size();
  fmt::format_to(std::back_inserter(out), "@L {} {} {} {}", p.run, p.sender, p.seq, p.sent);
  const std::size_t with_newline = out.size() - start + 1;
  if (line_bytes >= with_newline + 2) {  // room for a space and at least one x
    out += ' ';
    out.append(line_bytes - with_newline - 1, 'x');
  }
  out += '\n';
}

std::string format_line(const Payload& p, std::size_t line_bytes) {
  std::string line;
  append_line(line, p, line_bytes);
  return line;
}

namespace {

// Reads one decimal number from the front of `text` and drops it.
// At most digits10 digits (18 for 64 bits: 31 years of nanoseconds), so that it cannot
// overflow; a longer number is not one we sent. By hand, not std::from_chars: this runs
// four times for each of millions of deliveries, and the load generator must cost less
// than the servers it measures.
template <typename T>
bool take_number(std::string_view& text, T& out) {
  const std::size_t max_digits =
      std::min<std::size_t>(text.size(), std::numeric_limits<T>::digits10);
  std::size_t digits = 0;
  T value = 0;
  for (; digits < max_digits && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    value = static_cast<T>(value * 10 + (text[digits] - '0'));
  }
  if (digits == 0 || (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')) {
    return false;  // none, or more than T holds
  }
  out = value;
  text.remove_prefix(digits);
  return true;
}

bool take_space(std::string_view& text) {
  if (text.empty() || text.front() != ' ') return false;
  text.remove_prefix(1);
  return true;
}

// Only x's. Compared 64 at a time with memcmp: a loop byte by byte was half of parse_line.
bool is_padding(std::string_view text) {
  static constexpr std::string_view kXs =
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  for (; text.size() > kXs.size(); text.remove_prefix(kXs.size())) {
    if (text.substr(0, kXs.size()) != kXs) return false;
  }
  return text == kXs.substr(0, text.size());
}

}  // namespace

Parsed parse_line(std::string_view line, Payload& out) {
  const auto at = line.find("@L ");
  if (at == std::string_view::npos) return Parsed::none;
  std::string_view rest = line.substr(at + 3);
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);  // a \r\n server
  const bool ok = take_number(rest, out.run) && take_space(rest) && take_number(rest, out.sender) &&
                  take_space(rest) && take_number(rest, out.seq) && take_space(rest) &&
                  take_number(rest, out.sent);
  const bool padding = rest.empty() || (take_space(rest) && is_padding(rest));
  return ok && padding ? Parsed::ok : Parsed::garbled;
}

Ledger::Ledger(int clients, int senders, int lines)
    : senders_(senders),
      lines_(lines),
      seen_(static_cast<std::size_t>(clients) * senders * lines, 0),
      highest_(static_cast<std::size_t>(clients) * senders, -1) {
  s_.expected = static_cast<std::int64_t>(clients - 1) * senders * lines;
  // Sized (and so written, page by page) now, before the clock starts: growing it during
  // the burst cost a page fault every 512 deliveries, a third of our time per line.
  latencies_.resize(static_cast<std::size_t>(s_.expected));
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
  latencies_[static_cast<std::size_t>(s_.delivered++)] = now - p.sent;  // distinct: fits
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
  std::vector<Nanos> sorted(latencies_.begin(), latencies_.begin() + s_.delivered);
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
