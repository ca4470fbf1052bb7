// The --seq header and the receiver's accounting (core/udp_seq): pure, no sockets.
#include <catch2/catch.hpp>

#include <cstdint>

#include "core/udp_seq.hpp"

using namespace sockchat::udp_seq;

namespace {

// Feeds the numbers in arrival order and returns the report.
Report feed(SeqCounter& c, std::initializer_list<std::uint32_t> seqs) {
  for (auto s : seqs) c.add(s);
  return c.report();
}

}  // namespace

TEST_CASE("the header is 16 big-endian bytes that Python's struct.pack makes", "[udp_seq]") {
  // struct.pack("!4sIq", b"SCSQ", 258, 0x0102030405060708)
  const std::string expected("SCSQ\x00\x00\x01\x02\x01\x02\x03\x04\x05\x06\x07\x08", 16);
  CHECK(encode(Header{258, 0x0102030405060708}) == expected);
  const auto h = decode(expected + "payload");
  REQUIRE(h);
  CHECK(h->seq == 258);
  CHECK(h->sent_ns == 0x0102030405060708);
}

TEST_CASE("decode round-trips the extremes and refuses what is not a header", "[udp_seq]") {
  const Header big{0xffffffffu, -5};
  const auto h = decode(encode(big));
  REQUIRE(h);
  CHECK(h->seq == 0xffffffffu);
  CHECK(h->sent_ns == -5);
  CHECK_FALSE(decode("hello"));                              // plain text
  CHECK_FALSE(decode(encode(big).substr(0, 15)));            // one byte short
  CHECK_FALSE(decode("XCSQ" + encode(big).substr(4)));       // wrong magic
  CHECK_FALSE(decode(std::string_view("SCSQ\0\0\0\0", 8)));  // magic only
}

TEST_CASE("a stream in order loses nothing", "[udp_seq]") {
  SeqCounter c;
  CHECK(c.add(0).verdict == Verdict::first);
  CHECK(c.add(1).verdict == Verdict::in_order);
  CHECK(c.add(2).verdict == Verdict::in_order);
  const Report r = c.report();
  CHECK(r.received == 3);
  CHECK(r.unique == 3);
  CHECK(r.expected == 3);
  CHECK(r.lost == 0);
  CHECK(r.duplicated == 0);
  CHECK(r.reordered == 0);
}

TEST_CASE("skipped numbers are lost, and the gap says how many", "[udp_seq]") {
  SeqCounter c;
  c.add(0);
  const Arrival a = c.add(4);
  CHECK(a.verdict == Verdict::gap);
  CHECK(a.missing == 3);
  const Report r = feed(c, {5, 9});
  CHECK(r.unique == 4);
  CHECK(r.expected == 10);
  CHECK(r.lost == 6);
  CHECK(r.loss_percent() == Approx(60.0));
}

TEST_CASE("a repeated number is a duplicate, not a new datagram", "[udp_seq]") {
  SeqCounter c;
  c.add(0);
  c.add(1);
  CHECK(c.add(1).verdict == Verdict::duplicate);
  CHECK(c.add(0).verdict == Verdict::duplicate);
  const Report r = c.report();
  CHECK(r.received == 4);
  CHECK(r.unique == 2);
  CHECK(r.duplicated == 2);
  CHECK(r.lost == 0);
  CHECK(r.reordered == 0);
}

TEST_CASE("swapped numbers are one reordered arrival and no loss", "[udp_seq]") {
  SeqCounter c;
  c.add(0);
  CHECK(c.add(2).verdict == Verdict::gap);  // 1 looks lost...
  CHECK(c.report().lost == 1);
  CHECK(c.add(1).verdict == Verdict::reordered);  // ...until it comes late
  const Report r = feed(c, {3});
  CHECK(r.lost == 0);
  CHECK(r.reordered == 1);
  CHECK(r.duplicated == 0);
}

TEST_CASE("a first datagram that comes second is reordered, not lost", "[udp_seq]") {
  SeqCounter c;
  const Report r = feed(c, {1, 0, 2});
  CHECK(r.expected == 3);
  CHECK(r.lost == 0);
  CHECK(r.reordered == 1);
}

TEST_CASE("counting starts at the first number received", "[udp_seq]") {
  SeqCounter c;  // a receiver that started while the sender was at 1000
  const Report r = feed(c, {1000, 1001, 1003});
  CHECK(r.expected == 4);
  CHECK(r.lost == 1);
}

TEST_CASE("sequence numbers wrap around from 4294967295 to 0", "[udp_seq]") {
  SeqCounter c;
  c.add(0xfffffffeu);
  c.add(0xffffffffu);
  CHECK(c.add(0).verdict == Verdict::in_order);
  CHECK(c.add(2).verdict == Verdict::gap);
  CHECK(c.add(0xffffffffu).verdict == Verdict::duplicate);  // before the wrap, seen
  CHECK(c.add(1).verdict == Verdict::reordered);            // after the wrap, late
  const Report r = c.report();
  CHECK(r.expected == 5);
  CHECK(r.unique == 5);
  CHECK(r.lost == 0);
  CHECK(r.duplicated == 1);
  CHECK(r.reordered == 1);
}

TEST_CASE("duplicates are recognised within the window", "[udp_seq]") {
  SeqCounter c;
  c.add(0);
  c.add(SeqCounter::window - 1);  // 0 is still inside the window
  CHECK(c.add(0).verdict == Verdict::duplicate);
  c.add(SeqCounter::window + 10);                   // now 0's slot holds another block
  CHECK(c.add(100).verdict == Verdict::reordered);  // 100's block is still in the ring
  CHECK(c.add(100).verdict == Verdict::duplicate);
  CHECK(c.add(SeqCounter::window + 10).verdict == Verdict::duplicate);
  const Report r = c.report();
  CHECK(r.unique == 4);
  CHECK(r.expected == SeqCounter::window + 11);
  CHECK(r.out_of_range == 0);
}

// One forged datagram used to report "2147483640 lost (100.00%)": the numbers between the
// honest ones and the forged one were all "expected".
TEST_CASE("a number beyond the window is out of range, not billions lost", "[udp_seq]") {
  SeqCounter c;
  feed(c, {0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(c.add(0x80000000u + 7).verdict == Verdict::out_of_range);
  CHECK(c.add(8).verdict == Verdict::in_order);
  CHECK(c.add(8 + SeqCounter::window + 1).verdict == Verdict::out_of_range);  // just beyond
  CHECK(c.add(9).verdict == Verdict::in_order);
  const Report r = c.report();
  CHECK(r.received == 12);
  CHECK(r.out_of_range == 2);
  CHECK(r.expected == 10);
  CHECK(r.lost == 0);
  CHECK(r.loss_percent() == 0.0);
}

TEST_CASE("a straggler from below the window is out of range, not a reason to expect more",
          "[udp_seq]") {
  SeqCounter c;
  c.add(100000);
  c.add(100001);
  CHECK(c.add(100001 - SeqCounter::window - 64).verdict == Verdict::out_of_range);
  CHECK(c.add(0x7FFFFFFFu + 100001).verdict == Verdict::out_of_range);  // the far side
  const Report r = c.report();
  CHECK(r.expected == 2);
  CHECK(r.lost == 0);
  CHECK(r.out_of_range == 2);
}

// A sender that restarts its numbering, or an outage longer than the window, must not
// leave every later datagram out of range: two in a row from the new place restart the
// count there.
TEST_CASE("when the numbering really jumps, counting starts again there", "[udp_seq]") {
  SeqCounter c;
  feed(c, {0, 1, 2, 4});  // 3 lost
  CHECK(c.add(1000000).verdict == Verdict::out_of_range);
  CHECK(c.add(1000001).verdict == Verdict::restart);
  CHECK(c.add(1000002).verdict == Verdict::in_order);
  CHECK(c.add(1000004).verdict == Verdict::gap);  // 1000003 lost
  CHECK(c.add(1000002).verdict == Verdict::duplicate);
  CHECK(c.add(2).verdict == Verdict::out_of_range);  // the old counting is over
  const Report r = c.report();
  CHECK(r.expected == 5 + 4);
  CHECK(r.unique == 4 + 3);
  CHECK(r.lost == 2);
  CHECK(r.out_of_range == 2);
  // A stray, then an honest number, then the stray's successor: no restart.
  SeqCounter d;
  feed(d, {0, 1});
  CHECK(d.add(500000).verdict == Verdict::out_of_range);
  CHECK(d.add(2).verdict == Verdict::in_order);
  CHECK(d.add(500001).verdict == Verdict::out_of_range);
}

TEST_CASE("a restart forgets the old window: no false duplicates", "[udp_seq]") {
  SeqCounter c;
  feed(c, {10, 11, 12});
  c.add(900000);
  c.add(900001);                                  // restart
  c.add(10);                                      // out of range
  CHECK(c.add(11).verdict == Verdict::restart);   // back to the old numbers: a new count
  CHECK(c.add(12).verdict == Verdict::in_order);  // not a duplicate of the first counting's 12
}

// Steps of 65,535 used to clear the window one bit at a time (20x the CPU). Now each
// arrival touches one word; this checks the counts stay right over many such steps.
TEST_CASE("numbers stepping by almost a window are counted right", "[udp_seq]") {
  SeqCounter c;
  const std::uint32_t step = SeqCounter::window - 1;
  for (std::uint32_t i = 0; i < 200000; ++i) c.add(i * step);  // wraps 32 bits on the way
  const Report r = c.report();
  CHECK(r.unique == 200000);
  CHECK(r.out_of_range == 0);
  CHECK(r.duplicated == 0);
  CHECK(r.expected == std::uint64_t{199999} * step + 1);
  CHECK(c.add(199999u * step).verdict == Verdict::duplicate);
  CHECK(c.add(199999u * step - 1).verdict == Verdict::reordered);  // never sent, so not seen
}

TEST_CASE("one-way delay: min, average, max and RFC 3550 jitter", "[udp_seq]") {
  SeqCounter c;
  const std::int64_t ms = 1000000;
  c.add(Header{0, 0}, 2 * ms);
  c.add(Header{1, 10 * ms}, 14 * ms);
  c.add(Header{2, 20 * ms}, 23 * ms);
  const Spread& d = c.delay();
  CHECK(d.count() == 3);
  CHECK(d.min() == Approx(2.0));
  CHECK(d.max() == Approx(4.0));
  CHECK(d.avg() == Approx(3.0));
  // J1 = 0 + (|4-2| - 0)/16 = 0.125; J2 = 0.125 + (|3-4| - 0.125)/16 = 0.1796875
  CHECK(d.jitter() == Approx(0.1796875));
}

TEST_CASE("a forged or broken send time is a bad timestamp, not a delay", "[udp_seq]") {
  SeqCounter c;
  const std::int64_t ms = 1000000;
  const std::int64_t now = 1'700'000'000'000 * ms;       // some day in 2023, in ns
  c.add(Header{0, now - 3 * ms}, now);                   // 3 ms: kept
  c.add(Header{1, INT64_MIN}, now);                      // bytes 8-15 = 0x8000000000000000
  c.add(Header{2, INT64_MAX}, now);                      // sent in the far future
  c.add(Header{3, now + 2000 * ms}, now);                // 2 s ahead: beyond the clock tolerance
  c.add(Header{4, now - 25LL * 3600 * 1000 * ms}, now);  // more than a day on the way
  c.add(Header{5, now + 500 * ms}, now);                 // 0.5 s ahead: clocks differ, kept
  const Spread& d = c.delay();
  CHECK(d.count() == 2);
  CHECK(d.min() == Approx(-500.0));
  CHECK(d.max() == Approx(3.0));
  const Report r = c.report();
  CHECK(r.bad_times == 4);
  CHECK(r.received == 6);  // the numbers still count: only the time is unusable
  CHECK(r.lost == 0);
  CHECK_FALSE(one_way_delay_ms(Header{0, INT64_MIN}, INT64_MAX));
  CHECK(*one_way_delay_ms(Header{0, now - 7 * ms}, now) == Approx(7.0));
}

TEST_CASE("a ping's statistics count unanswered requests as loss", "[udp_seq]") {
  RoundTrips p;
  CHECK(p.loss_percent() == 0.0);
  for (int i = 0; i < 4; ++i) p.sent();
  p.replied(0.5);
  p.replied(1.5);
  p.replied(1.0);
  CHECK(p.transmitted() == 4);
  CHECK(p.received() == 3);
  CHECK(p.loss_percent() == Approx(25.0));
  CHECK(p.rtt().min() == Approx(0.5));
  CHECK(p.rtt().avg() == Approx(1.0));
  CHECK(p.rtt().max() == Approx(1.5));
}
