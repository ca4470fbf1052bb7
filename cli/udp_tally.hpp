// udp_tally.hpp — udp-recv's bookkeeping and output: one line per datagram (who sent it,
// its size, its text), counts per sender, the --seq accounting, and the summary at exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/socket.hpp"
#include "core/udp_seq.hpp"

namespace sockchat::cli {

struct SenderTally {
  Address from;
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;  // as sent: a truncated datagram counts its full size
  std::uint64_t truncated = 0;
  std::uint64_t at_last_report = 0;
  std::unique_ptr<udp_seq::SeqCounter> seq;  // made at the first numbered datagram
};

class Tally {
 public:
  // Anyone can send from a fresh port each time: past this many senders, the rest are
  // counted together ("other senders"), so memory stays bounded and the summary short.
  static constexpr std::size_t max_senders = 1024;

  // quiet (--stats): no line per datagram, a report per second instead.
  explicit Tally(bool quiet) : quiet_(quiet) {}

  // Counts one datagram (`data` is what the buffer holds) and shows it unless quiet.
  void add(const Datagram& d, std::string_view data, std::int64_t now_ns, double now_s);
  std::uint64_t datagrams() const { return datagrams_; }
  // With --stats, once a second: what each sender's counts are now.
  void tick(double now_s);
  // The exit summary; `why` says what ended the run ("count", "timeout", "signal").
  void summary(std::string_view why) const;

 private:
  SenderTally& sender(const Address& from);
  void show(const SenderTally& s, const Datagram& d, std::string_view data);

  bool quiet_;
  std::map<std::string, SenderTally> senders_;  // by the sender's raw sockaddr bytes
  SenderTally others_;  // every sender past max_senders, together (never a --seq counter)
  std::uint64_t datagrams_ = 0, bytes_ = 0;
  double first_s_ = 0, last_s_ = 0, last_report_s_ = 0;
};

}  // namespace sockchat::cli
