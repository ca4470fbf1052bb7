#include "core/framing.hpp"

#include <algorithm>
#include <cstdint>

namespace sockchat {

std::optional<Framing> parse_framing(std::string_view name) {
  if (name == "line") return Framing::line;
  if (name == "raw") return Framing::raw;
  if (name == "length") return Framing::length;
  return std::nullopt;
}

std::string_view framing_name(Framing framing) {
  switch (framing) {
    case Framing::line:
      return "line";
    case Framing::raw:
      return "raw";
    case Framing::length:
      return "length";
  }
  return "?";
}

Decoder::Decoder(Framing framing, std::size_t max_size) : framing_(framing), max_size_(max_size) {}

void Decoder::feed(std::string_view bytes) {
  // Compact lazily: only when the consumed prefix is large, so feeding stays O(n).
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
  if (framing_ == Framing::raw && !bytes.empty()) raw_ready_ = true;
}

void Decoder::consume(std::size_t n) {
  start_ += n;
  scanned_ = 0;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
}

std::optional<Frame> Decoder::next() {
  Frame frame;
  if (!next(frame)) return std::nullopt;
  return frame;
}

bool Decoder::next(Frame& frame) {
  switch (framing_) {
    case Framing::line:
      return next_line(frame);
    case Framing::raw:
      return next_raw(frame);
    case Framing::length:
      return next_length(frame);
  }
  return false;
}

static bool too_long(Frame& frame) {
  frame.data.clear();
  frame.too_long = true;
  return true;
}

static bool message(Frame& frame, std::string_view data) {
  frame.data.assign(data);
  frame.too_long = false;
  return true;
}

bool Decoder::next_line(Frame& frame) {
  const std::string_view view = std::string_view(buffer_).substr(start_);
  const std::size_t nl = view.find('\n', scanned_);
  if (nl == std::string_view::npos) {
    scanned_ = view.size();
    // A '\r' at the end may be half of a "\r\n": it does not count towards the limit.
    const std::size_t limit = max_size_ + (view.ends_with('\r') ? 1 : 0);
    if (!discarding_ && view.size() > limit) {
      // Too long already and still no newline: drop it now rather than buffer without
      // bound, and keep dropping until its newline arrives.
      discarding_ = true;
      consume(view.size());
      return too_long(frame);
    }
    if (discarding_) consume(view.size());
    return false;
  }
  std::string_view line = view.substr(0, nl);
  const bool was_discarding = discarding_;
  discarding_ = false;
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (was_discarding) {
    consume(nl + 1);
    return next_line(frame);  // the tail of a line already reported
  }
  if (line.size() > max_size_) {
    too_long(frame);
  } else {
    message(frame, line);
  }
  consume(nl + 1);  // after the copy: `line` points into the buffer
  return true;
}

bool Decoder::next_raw(Frame& frame) {
  if (!raw_ready_) return false;
  raw_ready_ = false;
  const std::string_view view = std::string_view(buffer_).substr(start_);
  const std::size_t keep = incomplete_utf8_tail(view);
  if (keep == view.size()) return false;  // only a partial character so far
  message(frame, view.substr(0, view.size() - keep));
  consume(view.size() - keep);
  return true;
}

// Drops what has arrived of an overlong frame; true once all of it is gone.
bool Decoder::skip_overlong() {
  const std::size_t n = std::min(skip_, pending());
  skip_ -= n;
  consume(n);
  return skip_ == 0;
}

bool Decoder::next_length(Frame& frame) {
  if (!skip_overlong()) return false;
  if (pending() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + start_);
  const std::uint32_t size = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                             (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
  if (size > max_size_) {
    // Report it now and drop its bytes as they come, without ever buffering them; a frame
    // that follows it is left for the next call.
    consume(4);
    skip_ = size;
    skip_overlong();
    return too_long(frame);
  }
  if (pending() < 4 + std::size_t{size}) return false;
  message(frame, std::string_view(buffer_).substr(start_ + 4, size));
  consume(4 + size);
  return true;
}

std::string Decoder::finish() {
  std::string rest = discarding_ || skip_ > 0 ? std::string() : buffer_.substr(start_);
  if (framing_ == Framing::length) rest.clear();  // half a frame is not a message
  buffer_.clear();
  start_ = scanned_ = skip_ = 0;
  discarding_ = raw_ready_ = false;
  if (framing_ == Framing::line && rest.ends_with('\r')) rest.pop_back();
  return rest;
}

std::string encode(Framing framing, std::string_view message) {
  switch (framing) {
    case Framing::line:
      return std::string(message) + '\n';
    case Framing::raw:
      return std::string(message);
    case Framing::length: {
      const auto n = static_cast<std::uint32_t>(message.size());
      std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                      static_cast<char>(n >> 8), static_cast<char>(n)};
      return out.append(message);
    }
  }
  return std::string(message);
}

std::size_t incomplete_utf8_tail(std::string_view bytes) {
  // Look back at most 3 bytes for the lead byte of the last character.
  for (std::size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    const auto c = static_cast<unsigned char>(bytes[bytes.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking
    const std::size_t need = (c & 0xE0) == 0xC0   ? 2
                             : (c & 0xF0) == 0xE0 ? 3
                             : (c & 0xF8) == 0xF0 ? 4
                                                  : 1;
    return need > back ? back : 0;
  }
  return 0;  // no lead byte nearby: not UTF-8 we can help with; pass it on as it is
}

}  // namespace sockchat
