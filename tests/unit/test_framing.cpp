// test_framing.cpp — the three framings as tables: what recv() returned (the feeds) and the
// messages that must come out. Pure code: no sockets. Each table has many messages in one
// feed, one message over many feeds, and bad input.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/framing.hpp"

using namespace sockchat;

namespace {

// What a decoder makes of `feeds`: each message, or "<too long>" for a dropped one, taking
// every message ready after each feed, as a receive loop does. Both ways of taking one
// must agree: a new Frame each time, and one Frame reused (the server's way), whose
// leftovers from a longer or a dropped message must never show.
std::vector<std::string> decode(Framing framing, const std::vector<std::string>& feeds,
                                std::size_t max = 8) {
  Decoder d(framing, max);
  Decoder reusing(framing, max);
  Frame frame;
  std::vector<std::string> out, out_reusing;
  for (const std::string& feed : feeds) {
    d.feed(feed);
    while (auto f = d.next()) out.push_back(f->too_long ? "<too long>" : f->data);
    reusing.feed(feed);
    while (reusing.next(frame)) {
      if (frame.too_long) REQUIRE(frame.data.empty());
      out_reusing.push_back(frame.too_long ? "<too long>" : frame.data);
    }
  }
  REQUIRE(out_reusing == out);
  return out;
}

// The same input fed one byte at a time: the hardest way TCP can split it.
std::vector<std::string> bytewise(const std::string& all) {
  std::vector<std::string> feeds;
  for (char c : all) feeds.emplace_back(1, c);
  return feeds;
}

std::string length_frame(std::string_view body) {
  return encode(Framing::length, body);
}

struct Row {
  const char* what;
  std::vector<std::string> feeds;
  std::vector<std::string> messages;
};

}  // namespace

TEST_CASE("line framing: lines out of any split of the stream", "[framing][line]") {
  const Row row = GENERATE(values<Row>({
      {"one line", {"hello\n"}, {"hello"}},
      {"many in one feed", {"a\nbb\nccc\n"}, {"a", "bb", "ccc"}},
      {"one over many feeds", {"he", "l", "lo", "\n"}, {"hello"}},
      {"split across a newline", {"a\nb", "b\nc", "\n"}, {"a", "bb", "c"}},
      {"CRLF accepted", {"a\r\nb\r", "\n"}, {"a", "b"}},
      {"empty lines", {"\n\n"}, {"", ""}},
      {"no newline yet", {"waiting"}, {}},
      {"UTF-8 split inside a character", {"\xe4\xbd", "\xa0\xe5\xa5\xbd\n"}, {"你好"}},
      {"binary bytes pass through",
       {std::string("\0\xff\x1b", 3) + "\n"},
       {std::string("\0\xff\x1b", 3)}},
      {"exactly the limit", {"12345678\n"}, {"12345678"}},
      {"the limit plus CR, CRLF split", {"12345678\r", "\n"}, {"12345678"}},
      {"over the limit, in one feed", {"123456789\nok\n"}, {"<too long>", "ok"}},
      {"over the limit, dropped up to its newline",
       {"12345", "6789", "abcdef", "gh\nok\n"},
       {"<too long>", "ok"}},
      {"over the limit twice",
       {"123456789\n", "abcdefghi\n", "ok\n"},
       {"<too long>", "<too long>", "ok"}},
  }));
  CAPTURE(row.what);
  CHECK(decode(Framing::line, row.feeds) == row.messages);
}

TEST_CASE("line framing: one byte at a time gives the same lines", "[framing][line]") {
  CHECK(decode(Framing::line, bytewise("你好\nworld\r\n123456789\nend\n")) ==
        std::vector<std::string>{"你好", "world", "<too long>", "end"});
}

TEST_CASE("line framing: finish() returns a last line without a newline", "[framing][line]") {
  Decoder d(Framing::line, 8);
  d.feed("a\ntail\r");
  REQUIRE(d.next()->data == "a");
  CHECK_FALSE(d.next());
  CHECK(d.pending() == 5);
  CHECK(d.finish() == "tail");
  CHECK(d.pending() == 0);
  d.feed("123456789");  // an overlong line being dropped leaves nothing to finish
  CHECK(d.next()->too_long);
  CHECK(d.finish().empty());
}

TEST_CASE("line framing: memory stays bounded while an overlong line streams in",
          "[framing][line]") {
  Decoder d(Framing::line, 8);
  for (int i = 0; i < 1000; ++i) {
    d.feed("xxxxxxxxxxxxxxxx");
    while (d.next()) {
    }
    REQUIRE(d.pending() <= 16);
  }
  d.feed("\nafter\n");
  CHECK(d.next()->data == "after");
}

TEST_CASE("raw framing: each feed is a message, a split UTF-8 character held back",
          "[framing][raw]") {
  const Row row = GENERATE(values<Row>({
      {"one feed", {"hello"}, {"hello"}},
      {"each feed its own message", {"a", "b", "c"}, {"a", "b", "c"}},
      {"newlines mean nothing", {"a\nb\n"}, {"a\nb\n"}},
      {"a character split in two", {"a\xe4\xbd", "\xa0z"}, {"a", "你z"}},
      {"a character split in three", {"\xe4", "\xbd", "\xa0"}, {"你"}},
      {"a 4-byte character split", {"\xf0\x9f", "\x98\x80!"}, {"😀!"}},
      {"invalid bytes are not held", {"\xff\xfe", "x"}, {"\xff\xfe", "x"}},
  }));
  CAPTURE(row.what);
  CHECK(decode(Framing::raw, row.feeds) == row.messages);
}

TEST_CASE("raw framing: finish() returns a held-back partial character", "[framing][raw]") {
  Decoder d(Framing::raw);
  d.feed("ok\xe4\xbd");
  CHECK(d.next()->data == "ok");
  CHECK_FALSE(d.next());
  CHECK(d.finish() == "\xe4\xbd");
}

TEST_CASE("length framing: a 4-byte big-endian length, then the bytes", "[framing][length]") {
  CHECK(length_frame("hi") == std::string("\0\0\0\x02hi", 6));
  CHECK(length_frame("") == std::string(4, '\0'));
  CHECK(length_frame(std::string(258, 'x')).substr(0, 4) == std::string("\0\0\x01\x02", 4));
  const std::string two = length_frame("first") + length_frame("") + length_frame("你好");
  const Row row = GENERATE_COPY(values<Row>({
      {"many in one feed", {two}, {"first", "", "你好"}},
      {"split inside the header", {two.substr(0, 2), two.substr(2)}, {"first", "", "你好"}},
      {"split inside the body", {two.substr(0, 7), two.substr(7)}, {"first", "", "你好"}},
      {"newlines are data", {length_frame("a\nb")}, {"a\nb"}},
      {"too long, then a good frame in the same feed",
       {length_frame("123456789") + length_frame("ok")},
       {"<too long>", "ok"}},
      {"too long, its bytes spread over feeds",
       {length_frame("123456789").substr(0, 6), "345", "6789" + length_frame("ok")},
       {"<too long>", "ok"}},
      {"a length of 4 GiB is refused, not allocated",
       {std::string("\xff\xff\xff\xff", 4)},
       {"<too long>"}},
      {"half a header waits", {std::string("\0\0", 2)}, {}},
  }));
  CAPTURE(row.what);
  CHECK(decode(Framing::length, row.feeds) == row.messages);
  CHECK(decode(Framing::length, bytewise(two)) == std::vector<std::string>{"first", "", "你好"});
}

TEST_CASE("length framing: finish() drops half a frame", "[framing][length]") {
  Decoder d(Framing::length);
  d.feed(length_frame("whole").substr(0, 6));
  CHECK_FALSE(d.next());
  CHECK(d.finish().empty());
}

TEST_CASE("encode then decode gives the messages back, for every framing", "[framing]") {
  const Framing framing = GENERATE(Framing::line, Framing::length);
  const std::vector<std::string> messages{"hello", "", "你好", "x y z"};
  std::string stream;
  for (const auto& m : messages) stream += encode(framing, m);
  CHECK(decode(framing, {stream}, 4096) == messages);
  CHECK(decode(framing, bytewise(stream), 4096) == messages);
  CHECK(encode(Framing::raw, "as is\n") == "as is\n");
}

TEST_CASE("parse_framing and framing_name", "[framing]") {
  CHECK(parse_framing("line") == Framing::line);
  CHECK(parse_framing("raw") == Framing::raw);
  CHECK(parse_framing("length") == Framing::length);
  CHECK_FALSE(parse_framing("LINE"));
  CHECK_FALSE(parse_framing(""));
  CHECK(framing_name(Framing::length) == "length");
}

TEST_CASE("incomplete_utf8_tail counts the bytes of an unfinished last character",
          "[framing][raw]") {
  struct Tail {
    const char* bytes;
    std::size_t held;
  };
  const Tail t = GENERATE(values<Tail>({{"", 0},
                                        {"a", 0},
                                        {"\xc3", 1},
                                        {"\xc3\xa9", 0},
                                        {"\xe4", 1},
                                        {"\xe4\xbd", 2},
                                        {"\xe4\xbd\xa0", 0},
                                        {"\xf0\x9f\x98", 3},
                                        {"\xf0\x9f\x98\x80", 0},
                                        {"a\xf0", 1},
                                        {"\x80", 0},
                                        {"\xff", 0}}));
  CAPTURE(t.bytes);
  CHECK(incomplete_utf8_tail(t.bytes) == t.held);
}
