// framing.hpp — turning TCP's byte stream back into messages. Pure code: no sockets.
//
// TCP has no message boundaries: recv(1024) may return half a message, or three, or cut
// a UTF-8 character in two. A framing is the rule both ends agree on:
//   line    messages end with '\n' (a "\r\n" is accepted); at most max_size bytes each;
//   raw     every recv() result is one message (the tutorial's way; it breaks under load);
//   length  a 4-byte big-endian length, then that many bytes (at most max_size).
// Feed the decoder whatever recv() returned, then take complete messages with next().
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sockchat {

enum class Framing { line, raw, length };

std::optional<Framing> parse_framing(std::string_view name);  // "line", "raw", "length"
std::string_view framing_name(Framing framing);

// One decoded message. too_long: a message over max_size was dropped (for line framing,
// everything up to its newline); data is then empty. It is reported once per message.
struct Frame {
  std::string data;
  bool too_long = false;
};

class Decoder {
 public:
  explicit Decoder(Framing framing, std::size_t max_size = 4096);
  void feed(std::string_view bytes);  // what recv() returned
  std::optional<Frame> next();        // the next complete message, if one is ready
  // The same into `frame`, reusing its memory: false when no message is ready. For a
  // server that decodes a million lines a second (one allocation fewer each).
  bool next(Frame& frame);
  // At end of stream: the incomplete message left over (a last line with no '\n', a raw
  // message's held-back partial UTF-8 character), or "" if none. Resets the decoder.
  std::string finish();
  std::size_t pending() const { return buffer_.size() - start_; }  // bytes held

 private:
  bool next_line(Frame& frame);
  bool next_raw(Frame& frame);
  bool next_length(Frame& frame);
  bool skip_overlong();
  void consume(std::size_t n);

  Framing framing_;
  std::size_t max_size_;
  std::string buffer_;
  std::size_t start_ = 0;    // first byte not yet consumed
  std::size_t scanned_ = 0;  // line: bytes after start_ already searched for '\n'
  bool discarding_ = false;  // line: dropping an overlong line up to its '\n'
  std::size_t skip_ = 0;     // length: bytes of an overlong frame still to drop
  bool raw_ready_ = false;   // raw: a fed chunk waits to be taken
};

// The bytes to send for one message: line → message + '\n'; length → header + message;
// raw → the message unchanged.
std::string encode(Framing framing, std::string_view message);

// How many bytes at the end of `bytes` start a UTF-8 character that is not complete yet
// (0–3). A raw decoder holds these back so a character cut by recv() is never split.
std::size_t incomplete_utf8_tail(std::string_view bytes);

}  // namespace sockchat
