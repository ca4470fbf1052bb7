// loadgen_ledger.hpp — the group-chat load generator's bookkeeping. Pure code: no sockets.
//
// Every chat line the load generator sends carries its own identity and send time:
//   @L <run> <sender> <seq> <send_ns> [xxx...]\n
// <run> numbers the measurements of one process (paced, then burst), so that a late line of
// one is never counted in the next; <send_ns> counts from the measurement's start; the x's
// pad a line to the size asked for (--line-bytes), and must arrive as they left.
// A server adds its own prefix ("<guest5> ", "<user5> ", the tutorial's ">>:"), and ncat
// even inserts it in the middle of a line when a line arrives in two reads. So a receiver
// finds the payload by its marker "@L ", never by its position. The ledger then answers:
// did every line reach every other client exactly once, in its sender's order, and how
// long did each take (receive time - send time, one process, one clock)?
// Read: proc(5) for the server's /proc/PID/stat and /proc/PID/status.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockchat::bench {

using Nanos = std::int64_t;

// Nanoseconds on the monotonic clock: the send stamp and the receive time use this.
Nanos now_ns();

struct Payload {
  int run = 0;
  int sender = 0;
  int seq = 0;
  Nanos sent = 0;
};

// "@L 1 3 17 123456789\n"; with line_bytes 24, "@L 1 3 17 123456789 xxx\n" (a line that is
// already longer is not cut).
std::string format_line(const Payload& p, std::size_t line_bytes = 0);
// The same, appended to `out`: a burst of a million lines is built in one string.
void append_line(std::string& out, const Payload& p, std::size_t line_bytes = 0);

enum class Parsed { none, ok, garbled };
// Looks for "@L <run> <sender> <seq> <ns>" in one received line (without its '\n'). `none`:
// the line is not ours (a join notice). `garbled`: the marker is there but the rest is not
// four numbers and then only padding up to the end of the line (a line cut in two by the
// server).
Parsed parse_line(std::string_view line, Payload& out);

// What the measurement found, for the summary line.
struct Summary {
  std::int64_t expected = 0;   // (clients - 1) * senders * lines: no echo to the sender
  std::int64_t delivered = 0;  // distinct (receiver, sender, seq) that arrived
  std::int64_t duplicates = 0;
  std::int64_t reordered = 0;  // arrived after a later line of the same sender
  std::int64_t garbled = 0;
  std::int64_t echoes = 0;  // a sender's own line came back to it
  Nanos p50 = 0, p99 = 0, max = 0;
  Nanos last_delivery = 0;  // when the last new line arrived
  std::int64_t missing() const { return expected - delivered; }
};

class Ledger {
 public:
  // Clients 0..senders-1 are the senders; every client receives.
  Ledger(int clients, int senders, int lines);
  // Client `receiver` got payload `p` at time `now`: like p.sent and last_delivery(), in
  // nanoseconds since the measurement's start.
  void record(int receiver, const Payload& p, Nanos now);
  void garbled() { ++s_.garbled; }
  std::int64_t expected() const { return s_.expected; }
  std::int64_t delivered() const { return s_.delivered; }
  Nanos last_delivery() const { return s_.last_delivery; }
  Summary summarize() const;  // sorts a copy of the latencies for the percentiles

 private:
  int senders_, lines_;
  std::vector<std::uint8_t> seen_;  // [receiver][sender][seq]: times it arrived
  std::vector<int> highest_;        // [receiver][sender]: highest seq so far, -1 none
  std::vector<Nanos> latencies_;    // one per first arrival
  Summary s_;
};

// Nearest-rank percentile (0 < q <= 1) of sorted values; 0 for none.
Nanos percentile(const std::vector<Nanos>& sorted, double q);

// A process's CPU time (utime + stime) and memory, from /proc/PID/stat and /proc/PID/status.
struct ProcSample {
  double cpu_s = 0;
  double rss_mib = 0;  // VmRSS: resident now
  double hwm_mib = 0;  // VmHWM: the peak resident size
};
// utime + stime in clock ticks from the text of /proc/PID/stat (fields 14 and 15; the
// command name in parentheses may hold spaces, so count from the last ')').
std::optional<long long> parse_stat_ticks(std::string_view stat);
// "VmRSS:     1234 kB" -> 1234 for key "VmRSS"; nullopt when absent.
std::optional<long long> parse_status_kib(std::string_view status, std::string_view key);
// Reads both files; nullopt when the process is gone.
std::optional<ProcSample> sample_process(pid_t pid);

// CPU time (s) of the kernel's softirq threads, ksoftirqd/N, all CPUs. Loopback runs the
// receiver's TCP work inside the sender's system call, so it is charged to the server;
// but when softirqs pile up (a batch of sends in one io_uring_enter does that) the kernel
// hands them to ksoftirqd, whose time no process is charged for. Reported beside the
// server's CPU so that work moved there is not mistaken for work saved.
double ksoftirqd_cpu_seconds();

// The kernel's loss counters, machine-wide. On loopback a packet is lost only when the
// per-CPU input queue (net.core.netdev_max_backlog) is full, and TCP then retransmits it
// after at least 200 ms: that shows up as latency, so the summary reports both.
struct KernelLoss {
  long long backlog_drops = 0;  // /proc/net/softnet_stat, column 2 (hex), every CPU
  long long retransmits = 0;    // /proc/net/snmp, Tcp: RetransSegs
};
long long parse_softnet_drops(std::string_view softnet_stat);
std::optional<long long> parse_tcp_retransmits(std::string_view snmp);
KernelLoss sample_kernel_loss();

}  // namespace sockchat::bench
