// test_loadgen_ledger.cpp — the benchmark load generator's bookkeeping
// (tests/bench/loadgen_ledger.hpp): finding "@L <sender> <seq> <ns>" behind any server's
// prefix, and counting what arrived. A benchmark that misreads lines measures nothing.
#include <string>

#include <catch2/catch.hpp>

#include "loadgen_ledger.hpp"

using namespace sockchat::bench;

TEST_CASE("parse_line finds the payload behind any prefix", "[loadgen]") {
  struct Row {
    std::string line;
    Parsed result;
    Payload payload;
  };
  const Row rows[] = {
      {"@L 1 3 17 123456789", Parsed::ok, {1, 3, 17, 123456789}},
      {"<guest5> @L 2 0 0 0", Parsed::ok, {2, 0, 0, 0}},
      {">>:@L 1 12 345 999999999999999999\r", Parsed::ok, {1, 12, 345, 999999999999999999}},
      {"<guest5> @L 1 3 17 0 xxxxxx", Parsed::ok, {1, 3, 17, 0}},  // padded
      {"@L 1 3 17 0 " + std::string(200, 'x'), Parsed::ok, {1, 3, 17, 0}},
      {"@L 1 3 17 0 " + std::string(150, 'x') + "y" + std::string(49, 'x'), Parsed::garbled, {}},
      {"* guest5 joined", Parsed::none, {}},
      {"<guest5> @L 1 3 17 0 xx<guest6> xx", Parsed::garbled, {}},  // inside the padding
      {"@L 1 3 17", Parsed::garbled, {}},                           // cut short
      {"@L 1 3 17 12<user2> 34", Parsed::garbled, {}},              // ncat's prefix inside a line
      {"@L 1 -3 17 5", Parsed::garbled, {}},                        // never sent
      {"@L 1 3 17 5x", Parsed::garbled, {}},                        // trailing junk
      {"@L 1 99999999999 1 1", Parsed::garbled, {}},                // too long for an int
      {"@L 1 1 1 1000000000000000000", Parsed::garbled, {}},        // 19 digits: not one we sent
  };
  for (const auto& row : rows) {
    INFO(row.line);
    Payload p;
    REQUIRE(parse_line(row.line, p) == row.result);
    if (row.result != Parsed::ok) continue;
    CHECK(p.run == row.payload.run);
    CHECK(p.sender == row.payload.sender);
    CHECK(p.seq == row.payload.seq);
    CHECK(p.sent == row.payload.sent);
  }
}

TEST_CASE("format_line pads a line to the size asked for, never cuts one", "[loadgen]") {
  const Payload p{1, 3, 17, 0};
  CHECK(format_line(p) == "@L 1 3 17 0\n");
  CHECK(format_line(p, 20) == "@L 1 3 17 0 xxxxxxx\n");
  CHECK(format_line(p, 20).size() == 20);
  CHECK(format_line(p, 13) == "@L 1 3 17 0\n");  // no room for a space and an x
  CHECK(format_line(p, 5) == "@L 1 3 17 0\n");
  std::string burst;
  append_line(burst, p, 16);
  append_line(burst, {1, 3, 18, 0}, 16);
  CHECK(burst == "@L 1 3 17 0 xxx\n@L 1 3 18 0 xxx\n");
}

TEST_CASE("format_line and parse_line agree", "[loadgen]") {
  const Payload sent{2, 7, 1000, 999'999'999'999'999'999};  // 31 years of nanoseconds
  std::string line = format_line(sent);
  REQUIRE(line.back() == '\n');
  line.pop_back();
  Payload got;
  REQUIRE(parse_line("<user7> " + line, got) == Parsed::ok);
  CHECK((got.run == 2 && got.sender == 7 && got.seq == 1000 && got.sent == sent.sent));
}

TEST_CASE("the ledger counts each line once per receiver, and no echo", "[loadgen]") {
  Ledger ledger(3, 1, 2);  // clients 0..2; client 0 sends 2 lines
  REQUIRE(ledger.expected() == 4);
  ledger.record(1, {1, 0, 1, 100}, 150);  // line 1 before line 0: reordered
  ledger.record(1, {1, 0, 0, 100}, 160);
  ledger.record(1, {1, 0, 0, 100}, 170);  // again: a duplicate
  ledger.record(0, {1, 0, 0, 100}, 180);  // the sender's own line came back
  ledger.record(2, {1, 0, 0, 100}, 200);
  ledger.record(2, {1, 0, 5, 100}, 210);  // a seq never sent: damaged on the way
  const Summary s = ledger.summarize();
  CHECK(s.delivered == 3);
  CHECK(s.missing() == 1);
  CHECK(s.duplicates == 1);
  CHECK(s.reordered == 1);
  CHECK(s.echoes == 1);
  CHECK(s.garbled == 1);
  CHECK(s.p50 == 60);  // latencies 50, 60, 100
  CHECK(s.max == 100);
  CHECK(s.last_delivery == 200);
}
