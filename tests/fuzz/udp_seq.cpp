// udp_seq.cpp — the udp-seq header and the receiver's accounting (core/udp_seq.hpp), fed
// as a forger would: any datagram, any sequence numbers, any send times.
//
// Input: a script of datagrams, each a length byte and bytes; a datagram without a header
// is made into one from its first bytes so the counter sees every kind of number. Properties:
//   - decode accepts exactly 16+ bytes starting with "SCSQ", and encode gives them back;
//   - the report adds up: every datagram counted once, nothing lost beyond what the
//     numbers seen could explain, the loss a percentage;
//   - a delay the counter keeps is finite and inside the documented bounds.
#include <cmath>
#include <string>

#include "core/udp_seq.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat::udp_seq;
using sockchat::fuzz::require;

void check_header(std::string_view datagram) {
  const auto header = decode(datagram);
  const bool has_one = datagram.size() >= header_size && datagram.starts_with(magic);
  require(header.has_value() == has_one, "decode accepts exactly a 16-byte SCSQ header");
  if (header) {
    require(encode(*header) == datagram.substr(0, header_size), "encode(decode(h)) != h");
  }
}

// Any 12 bytes as a sequence number and a send time, the way a forged header carries them.
Header forged(std::string_view bytes, std::uint32_t previous) {
  std::string datagram(magic);
  datagram += bytes.substr(0, header_size - magic.size());
  datagram.resize(header_size, '\0');
  Header h = *decode(datagram);
  if (bytes.size() < 4) h.seq = previous + bytes.size();  // short ones step near the last
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const std::int64_t now = static_cast<std::int64_t>(in.u32()) << 31;
  SeqCounter counter;
  std::uint64_t datagrams = 0;
  std::uint32_t previous = 0;
  while (!in.empty() && datagrams < 1000) {
    const std::string_view datagram = in.string();
    check_header(datagram);
    const Header h = decode(datagram).value_or(forged(datagram, previous));
    previous = h.seq;
    counter.add(h, now);
    ++datagrams;

    const Report r = counter.report();
    require(r.received == datagrams, "every datagram is received once");
    require(r.unique + r.duplicated <= r.received, "unique + duplicated exceeds received");
    require(r.lost <= r.expected, "more lost than expected");
    require(r.unique <= r.expected || r.lost == 0, "lost though more arrived than expected");
    require(r.expected >= 1, "datagrams arrived but none was expected");
    const double loss = r.loss_percent();
    require(loss >= 0 && loss <= 100, "loss is not a percentage");
    const auto& d = counter.delay();
    if (d.count() > 0) {
      require(std::isfinite(d.avg()) && std::isfinite(d.jitter()), "a delay is not finite");
      require(d.min() >= -clock_tolerance_ms && d.max() <= max_delay_ms,
              "a delay is out of bounds");
    }
    require(d.count() + r.bad_times == r.received, "a send time is neither a delay nor bad");
  }
  return 0;
}
