// framing.cpp — the decoders that turn a peer's bytes into messages (core/framing.hpp).
// Built three times, once per framing (FUZZ_FRAMING=line, raw or length).
//
// Input: byte 0 sets max_size (1-64, so overlong messages are common), byte 1 seeds how the
// stream is cut into recv() results, the rest is the stream. Properties:
//   - however the stream is cut, the messages are those of a simple reference reading of
//     the whole stream (line, length), or add up to the stream (raw);
//   - what the decoder holds after every recv() is bounded (a peer cannot make it buffer
//     without limit): line ≤ max_size + 1, length < 4 + max_size, raw ≤ 3 bytes.
#include <string>
#include <vector>

#include "core/framing.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using sockchat::Decoder;
using sockchat::Framing;
using sockchat::fuzz::require;

constexpr Framing framing = Framing::FUZZ_FRAMING;

struct Message {
  std::string data;
  bool too_long = false;
  bool operator==(const Message&) const = default;
};

// The stream cut into recv() results of 1-17 bytes by a small generator, or whole (seed 0).
std::vector<std::string_view> cut(std::string_view stream, std::uint8_t seed) {
  std::vector<std::string_view> chunks;
  unsigned state = seed;
  while (!stream.empty()) {
    state = state * 1103515245u + 12345u;
    const std::size_t n = seed == 0 ? stream.size() : 1 + (state >> 16) % 17;
    chunks.push_back(stream.substr(0, n));
    stream.remove_prefix(chunks.back().size());
  }
  return chunks;
}

// Line framing read at once: each '\n' ends a message, one '\r' before it is dropped, a
// message over max_size is one too_long. The unfinished last line is `rest`.
std::vector<Message> reference_lines(std::string_view stream, std::size_t max, std::string& rest) {
  std::vector<Message> out;
  for (std::size_t nl; (nl = stream.find('\n')) != std::string_view::npos;) {
    std::string_view line = stream.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    out.push_back(line.size() > max ? Message{{}, true} : Message{std::string(line), false});
    stream.remove_prefix(nl + 1);
  }
  if (stream.ends_with('\r')) stream.remove_suffix(1);
  if (stream.size() > max) {
    out.push_back({{}, true});  // reported as soon as it is too long, dropped at the end
    stream = {};
  }
  rest = std::string(stream);
  return out;
}

// Length framing read at once: a 4-byte big-endian size, then that many bytes.
std::vector<Message> reference_lengths(std::string_view stream, std::size_t max) {
  std::vector<Message> out;
  while (stream.size() >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(stream.data());
    const std::size_t size = (std::size_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    if (size > max) {
      out.push_back({{}, true});
      stream.remove_prefix(std::min(stream.size(), 4 + size));
    } else if (stream.size() >= 4 + size) {
      out.push_back({std::string(stream.substr(4, size)), false});
      stream.remove_prefix(4 + size);
    } else {
      break;
    }
  }
  return out;
}

std::size_t held_bound(std::size_t max) {
  switch (framing) {
    case Framing::line:
      return max + 1;
    case Framing::length:
      return 3 + max;
    case Framing::raw:
      return 3;
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const std::size_t max = 1 + in.byte() % 64;
  const std::uint8_t seed = in.byte();
  const std::string_view stream = in.rest();

  Decoder decoder(framing, max);
  std::vector<Message> got;
  for (const std::string_view chunk : cut(stream, seed)) {
    decoder.feed(chunk);
    while (auto frame = decoder.next()) got.push_back({frame->data, frame->too_long});
    require(decoder.pending() <= held_bound(max), "a decoder holds more than its bound");
  }
  const std::string rest = decoder.finish();
  require(decoder.pending() == 0 && !decoder.next(), "finish() leaves the decoder empty");

  if (framing == Framing::line) {
    std::string expected_rest;
    require(got == reference_lines(stream, max, expected_rest),
            "line messages differ from the reference");
    require(rest == expected_rest, "line: finish() differs from the reference", rest);
  } else if (framing == Framing::length) {
    require(got == reference_lengths(stream, max), "length messages differ from the reference");
    require(rest.empty(), "length: finish() returned half a frame");
  } else {
    std::string joined;
    for (const Message& m : got) {
      require(!m.data.empty() && !m.too_long, "raw: an empty or too_long message");
      joined += m.data;
    }
    require(joined + rest == stream, "raw: the messages do not add up to the stream");
  }
  return 0;
}
