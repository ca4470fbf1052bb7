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

SeqCounter::SeqCounter() : seen_(window / 64, 0) {}

// RFC 1982: a 32-bit number is read as the one nearest the highest seen, so the numbers
// keep growing through 4294967295 → 0 (and a straggler from before the wrap stays below).
std::int64_t SeqCounter::extend(std::uint32_t seq) const {
  const auto delta = static_cast<std::int32_t>(seq - static_cast<std::uint32_t>(highest_));
  return highest_ + delta;
}

// Marks n as received in the ring; returns whether it already was.
bool SeqCounter::test_and_set(std::int64_t n) {
  const auto bit = static_cast<std::uint64_t>(n) % window;
  const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
  const bool was = (seen_[bit / 64] & mask) != 0;
  seen_[bit / 64] |= mask;
  return was;
}

// The highest number moves up to n: the ring slots it passes belonged to numbers `window`
// below, which are forgotten (cleared) to be reused.
void SeqCounter::advance_to(std::int64_t n) {
  if (static_cast<std::uint64_t>(n - highest_) >= window) {
    std::fill(seen_.begin(), seen_.end(), 0);
  } else {
    for (std::int64_t k = highest_ + 1; k <= n; ++k) {
      const auto bit = static_cast<std::uint64_t>(k) % window;
      seen_[bit / 64] &= ~(std::uint64_t{1} << (bit % 64));
    }
  }
  highest_ = n;
}

Arrival SeqCounter::add(std::uint32_t seq) {
  ++counts_.received;
  if (!started_) {
    started_ = true;
    lowest_ = highest_ = seq;
    test_and_set(seq);
    ++counts_.unique;
    return {Verdict::first, 0};
  }
  const std::int64_t n = extend(seq);
  if (n > highest_) {
    const auto missing = static_cast<std::uint64_t>(n - highest_ - 1);
    advance_to(n);
    test_and_set(n);
    ++counts_.unique;
    return {missing ? Verdict::gap : Verdict::in_order, missing};
  }
  const bool too_old = static_cast<std::uint64_t>(highest_ - n) >= window;
  if (!too_old && test_and_set(n)) {
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
  r.expected = static_cast<std::uint64_t>(highest_ - lowest_ + 1);
  // A straggler older than the window may be a duplicate counted as new: never below 0.
  r.lost = r.expected - std::min(r.expected, r.unique);
  return r;
}

}  // namespace sockchat::udp_seq
