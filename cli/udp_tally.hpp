// udp_tally.hpp — udp-recv's bookkeeping and output: one line per datagram (who sent it,
// its size, its text), counts per sender, the --seq accounting, and the summary at exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/echo_guard.hpp"
#include "core/socket.hpp"
#include "core/udp_seq.hpp"

namespace sockchat::cli {

struct SenderTally {
  Address from;
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;  // as sent: a truncated datagram counts its full size
  std::uint64_t truncated = 0;
  std::uint64_t at_last_report = 0;
  std::unique_ptr<udp_seq::SeqCounter> seq;   // made at the first numbered datagram
  TokenBucket echoes{echo_rate, echo_burst};  // --echo: this sender's answers
};

// --echo's counts: answered, refused (echo_guard.hpp says why), failed in sendto.
struct EchoCounts {
  std::uint64_t answered = 0, own_port = 0, loop_port = 0, too_fast = 0, failed = 0;
};

class Tally {
 public:
  // Anyone can send from a fresh port each time: past this many senders, the rest are
  // counted together ("other senders"), so memory stays bounded and the summary short.
  static constexpr std::size_t max_senders = 1024;

  // quiet (--stats): no line per datagram, a report per second instead. echo_port: with
  // --echo, the port the socket is bound to.
  Tally(bool quiet, std::optional<std::uint16_t> echo_port)
      : quiet_(quiet), echo_port_(echo_port) {}

  // Counts one datagram (`data` is what the buffer holds) and shows it unless quiet. With
  // --echo, returns whether to answer it (and a refusal is counted and shown).
  EchoVerdict add(const Datagram& d, std::string_view data, std::int64_t now_ns, double now_s);
  void echo_failed() {  // sendto refused an answer add() allowed
    --echo_.answered;
    ++echo_.failed;
  }
  std::uint64_t datagrams() const { return datagrams_; }
  // With --stats, once a second: what each sender's counts are now.
  void tick(double now_s);
  // The exit summary; `why` says what ended the run ("count", "timeout", "signal").
  void summary(std::string_view why) const;

 private:
  SenderTally& sender(const Address& from);
  EchoVerdict echo(SenderTally& s, const Datagram& d, double now_s);
  void show(const Datagram& d, std::string_view data, const std::optional<udp_seq::Header>& header,
            const udp_seq::Arrival& arrival, EchoVerdict verdict, std::int64_t now_ns);

  bool quiet_;
  std::optional<std::uint16_t> echo_port_;
  EchoCounts echo_;
  std::map<std::string, SenderTally> senders_;  // by the sender's raw sockaddr bytes
  SenderTally others_;  // every sender past max_senders, together (never a --seq counter)
  std::uint64_t datagrams_ = 0, bytes_ = 0;
  double first_s_ = 0, last_s_ = 0, last_report_s_ = 0;
};

}  // namespace sockchat::cli
