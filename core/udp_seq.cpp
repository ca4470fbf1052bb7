#include "core/udp_seq.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sockchat::udp_seq {

namespace {

// Big-endian by hand, byte by byte: the same on every machine, and what Python's "!" means.
void put_be(char* out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, value >>= 8) out[i] = static_cast<char>(value & 0xff);
}

std::uint64_t get_be(const char* in, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

double percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

void encode(const Header& header, char* out) {
  std::memcpy(out, magic.data(), magic.size());
  put_be(out + 4, header.seq, 4);
  put_be(out + 8, static_cast<std::uint64_t>(header.sent_ns), 8);
}

std::string encode(const Header& header) {
  std::string out(header_size, '\0');
  encode(header, out.data());
  return out;
}

std::optional<Header> decode(std::string_view datagram) {
  if (datagram.size() < header_size || !datagram.starts_with(magic)) return std::nullopt;
  Header h;
  h.seq = static_cast<std::uint32_t>(get_be(datagram.data() + 4, 4));
  h.sent_ns = static_cast<std::int64_t>(get_be(datagram.data() + 8, 8));
  return h;
}

// ---------------------------------------------------------------------------------------

void Spread::add(double ms) {
  if (count_ == 0) {
    min_ = max_ = ms;
  } else {
    min_ = std::min(min_, ms);
    max_ = std::max(max_, ms);
    // RFC 3550 §A.8: J += (|D| - J) / 16, D the change from the previous value.
    jitter_ += (std::fabs(ms - last_) - jitter_) / 16.0;
  }
  last_ = ms;
  sum_ += ms;
  ++count_;
}

double Report::loss_percent() const {
  return percent(lost, expected);
}

double RoundTrips::loss_percent() const {
  return percent(sent_ - std::min(sent_, received()), sent_);
}

// ---------------------------------------------------------------------------------------

SeqCounter::SeqCounter() : ring_(window / 64) {}

// RFC 1982: a 32-bit number is read as the one nearest the highest seen, so the numbers
// keep growing through 4294967295 → 0 (and a straggler from before the wrap stays below).
std::int64_t SeqCounter::extend(std::uint32_t seq) const {
  const auto delta = static_cast<std::int32_t>(seq - static_cast<std::uint32_t>(highest_));
  return highest_ + delta;
}

// Whether n is near enough to the highest to be counted: less than a window above it, or
// in one of the ring's blocks below it (the ring holds the window / 64 blocks up to the
// highest's own).
bool SeqCounter::in_window(std::int64_t n) const {
  if (n > highest_) return static_cast<std::uint64_t>(n - highest_) < window;
  return static_cast<std::uint64_t>((highest_ >> 6) - (n >> 6)) < ring_.size();
}

// Marks n as received; returns whether it already was. A slot still holding an older
// block (or an earlier counting's) is stale: it is reset here, when it is reused.
bool SeqCounter::test_and_set(std::int64_t n) {
  const std::int64_t block = n >> 6;  // floor(n / 64), negative numbers included
  Slot& slot = ring_[static_cast<std::uint64_t>(block) % ring_.size()];
  if (slot.block != static_cast<std::uint32_t>(block) || slot.generation != generation_) {
    slot = {0, static_cast<std::uint32_t>(block), generation_};
  }
  const std::uint64_t mask = std::uint64_t{1} << (n & 63);
  const bool was = (slot.bits & mask) != 0;
  slot.bits |= mask;
  return was;
}

// Counting (again) from seq: the earlier counting's numbers are kept in expected_before_.
void SeqCounter::start(std::uint32_t seq) {
  if (started_) expected_before_ += static_cast<std::uint64_t>(highest_ - lowest_ + 1);
  started_ = true;
  ++generation_;
  lowest_ = highest_ = seq;
  stray_.reset();
  test_and_set(seq);
  ++counts_.unique;
}

Arrival SeqCounter::stray(std::uint32_t seq) {
  if (stray_ && seq == static_cast<std::uint32_t>(*stray_ + 1)) {
    start(seq);  // two in a row: the numbering jumped
    return {Verdict::restart, 0};
  }
  stray_ = seq;
  ++counts_.out_of_range;
  return {Verdict::out_of_range, 0};
}

Arrival SeqCounter::add(std::uint32_t seq) {
  ++counts_.received;
  if (!started_) {
    start(seq);
    return {Verdict::first, 0};
  }
  const std::int64_t n = extend(seq);
  if (!in_window(n)) return stray(seq);
  stray_.reset();
  if (n > highest_) {
    const auto missing = static_cast<std::uint64_t>(n - highest_ - 1);
    highest_ = n;
    test_and_set(n);
    ++counts_.unique;
    return {missing ? Verdict::gap : Verdict::in_order, missing};
  }
  if (test_and_set(n)) {
    ++counts_.duplicated;
    return {Verdict::duplicate, 0};
  }
  lowest_ = std::min(lowest_, n);
  ++counts_.unique;
  ++counts_.reordered;
  return {Verdict::reordered, 0};
}

std::optional<double> one_way_delay_ms(const Header& header, std::int64_t received_ns) {
  // The difference of two arbitrary int64 values may overflow (undefined behaviour): such a
  // send time is nonsense anyway.
  std::int64_t ns = 0;
  if (__builtin_sub_overflow(received_ns, header.sent_ns, &ns)) return std::nullopt;
  const double ms = static_cast<double>(ns) / 1e6;
  if (ms < -clock_tolerance_ms || ms > max_delay_ms) return std::nullopt;
  return ms;
}

Arrival SeqCounter::add(const Header& header, std::int64_t received_ns) {
  const Arrival arrival = add(header.seq);
  if (const auto ms = one_way_delay_ms(header, received_ns)) {
    delay_.add(*ms);
  } else {
    ++counts_.bad_times;
  }
  return arrival;
}

Report SeqCounter::report() const {
  Report r = counts_;
  if (!started_) return r;
  r.expected = expected_before_ + static_cast<std::uint64_t>(highest_ - lowest_ + 1);
  r.lost = r.expected - std::min(r.expected, r.unique);
  return r;
}

}  // namespace sockchat::udp_seq
