// udp_seq.hpp — what UDP does not tell you: which datagrams were lost, duplicated or
// reordered, and how long each took. Pure code: no sockets, no clocks; tests drive it.
//
// UDP has no sequence numbers, so `udp-send --seq` puts its own in front of each datagram,
// with the time it was sent. The receiver needs no control channel: from the numbers alone
// it sees the holes (lost), the repeats (duplicated) and the late arrivals (reordered).
// RTP (RFC 3550) and iperf3 -u do the same; RFC 4737 defines "reordered" as we use it.
//
// The header: 16 bytes, big-endian (network byte order), then the payload.
//   bytes 0–3   the magic "SCSQ"
//   bytes 4–7   the sequence number, an unsigned 32-bit integer, 0 for the first datagram
//   bytes 8–15  the send time, signed 64-bit nanoseconds since the Unix epoch (CLOCK_REALTIME)
// From Python: struct.pack("!4sIq", b"SCSQ", seq, time.time_ns()) + payload.
// Read: udp(7), RFC 1982 (serial number arithmetic), RFC 3550 §6.4.1 and §A.8 (jitter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockchat::udp_seq {

inline constexpr std::string_view magic = "SCSQ";
inline constexpr std::size_t header_size = 16;

struct Header {
  std::uint32_t seq = 0;
  std::int64_t sent_ns = 0;  // nanoseconds since the Unix epoch
};

// Writes the 16 header bytes at `out` (which must have room for them).
void encode(const Header& header, char* out);
std::string encode(const Header& header);
// The header at the start of `datagram`, or nullopt if it does not start with one.
std::optional<Header> decode(std::string_view datagram);

// Minimum, average, maximum and RFC 3550 jitter of a series of times, in milliseconds.
class Spread {
 public:
  void add(double ms);
  std::uint64_t count() const { return count_; }
  double min() const { return min_; }
  double max() const { return max_; }
  double avg() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // The mean of |difference between consecutive values|, smoothed with gain 1/16.
  double jitter() const { return jitter_; }

 private:
  std::uint64_t count_ = 0;
  double min_ = 0, max_ = 0, sum_ = 0, last_ = 0, jitter_ = 0;
};

// What one arrival was, compared with the ones before it.
enum class Verdict {
  first,         // the first datagram from this sender
  in_order,      // the next number after the highest so far
  gap,           // a higher number than expected: `missing` datagrams are (so far) lost
  duplicate,     // a number already received
  reordered,     // a number lower than the highest so far, not seen before: it came late
  out_of_range,  // a number a window or more away from the highest: a forgery, or a jump
  restart,       // the number after an out-of-range one: the numbering jumped, counting
                 // starts again from here
};

struct Arrival {
  Verdict verdict = Verdict::first;
  std::uint64_t missing = 0;  // for Verdict::gap
};

struct Report {
  std::uint64_t received = 0;      // every datagram with a header, duplicates included
  std::uint64_t unique = 0;        // distinct sequence numbers
  std::uint64_t expected = 0;      // from the lowest to the highest number received
  std::uint64_t lost = 0;          // expected - unique
  std::uint64_t duplicated = 0;    // arrivals of a number already received
  std::uint64_t reordered = 0;     // arrivals after a higher number (RFC 4737)
  std::uint64_t out_of_range = 0;  // numbers a window or more from the highest: not counted
  std::uint64_t bad_times = 0;     // send times that make no sense: left out of the delays
  double loss_percent() const;
};

// The one-way delay in milliseconds (received minus sent), or nullopt when the send time
// makes no sense: later than `received_ns` by more than a clock tolerance (between hosts the
// clocks differ a little, so a small negative delay is kept), or more than a day earlier.
// A forged or broken header must not poison the min/avg/max of the honest ones.
inline constexpr double clock_tolerance_ms = 1000.0;
inline constexpr double max_delay_ms = 24.0 * 3600 * 1000;
std::optional<double> one_way_delay_ms(const Header& header, std::int64_t received_ns);

// The accounting for one sender's stream of numbered datagrams.
//
// Counting starts at the first datagram received (a receiver started late, or a multicast
// member that joined late, does not count what it never could have seen); datagrams lost
// after the last one received cannot be seen without a control channel. Sequence numbers
// are 32 bits and wrap around: each is placed next to the highest seen (RFC 1982), so
// 4294967295 → 0 is in order. Duplicates are recognised within a window of the 65536
// numbers up to the highest.
//
// A number a window or more above the highest, or below the window, is out of range:
// counted apart, never as the billions "lost" or "expected" in between, because anyone
// can forge one datagram. If the next arrival carries on from it (number + 1), the
// numbering really jumped (a sender restarted, an outage longer than the window): counting
// starts again from there, and the numbers skipped are not counted as lost.
//
// Each arrival costs O(1), whatever the numbers: the window is a ring of 64-bit words,
// each tagged with the block of 64 numbers it holds, so a word left over from an older
// block is recognised and reset when it is next used, and nothing is cleared in advance.
class SeqCounter {
 public:
  static constexpr std::uint64_t window = 65536;

  SeqCounter();
  Arrival add(std::uint32_t seq);
  // add(seq) plus the one-way delay: received minus sent, both CLOCK_REALTIME. It is true
  // on one host; between hosts it also holds the difference between their clocks. A send
  // time one_way_delay_ms() refuses counts in bad_times, not in the delays.
  Arrival add(const Header& header, std::int64_t received_ns);
  Report report() const;
  const Spread& delay() const { return delay_; }

 private:
  // One word of the ring: which numbers of one block of 64 were received. `block` is the
  // block's number (modulo 2^32) and `generation` the counting it belongs to.
  struct Slot {
    std::uint64_t bits = 0;
    std::uint32_t block = 0;
    std::uint32_t generation = 0;
  };
  std::int64_t extend(std::uint32_t seq) const;
  bool in_window(std::int64_t n) const;
  bool test_and_set(std::int64_t n);
  void start(std::uint32_t seq);
  Arrival stray(std::uint32_t seq);

  bool started_ = false;
  std::int64_t lowest_ = 0, highest_ = 0;  // extended (64-bit, never wrapping) numbers
  std::uint64_t expected_before_ = 0;      // the numbers of earlier countings (restarts)
  std::optional<std::uint32_t> stray_;     // the last out-of-range number, if it was the last
  std::uint32_t generation_ = 0;           // ++ at each (re)start: every slot is then stale
  Report counts_;
  std::vector<Slot> ring_;  // window / 64 slots
  Spread delay_;
};

// A ping's statistics: how many were sent, how many answered, and the round trips.
class RoundTrips {
 public:
  void sent() { ++sent_; }
  void replied(double ms) { rtt_.add(ms); }
  std::uint64_t transmitted() const { return sent_; }
  std::uint64_t received() const { return rtt_.count(); }
  double loss_percent() const;
  const Spread& rtt() const { return rtt_; }

 private:
  std::uint64_t sent_ = 0;
  Spread rtt_;
};

}  // namespace sockchat::udp_seq
