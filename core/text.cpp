#include "core/text.hpp"

#include <fmt/format.h>

namespace sockchat {

namespace {

// Length of the valid UTF-8 sequence starting at bytes[i], or 0 if it is not valid.
std::size_t utf8_length(std::string_view bytes, std::size_t i) {
  const auto c = static_cast<unsigned char>(bytes[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0)
    n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    n = 4, min = 0x10000;
  else
    return 0;
  if (i + n > bytes.size()) return 0;
  unsigned code = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(bytes[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    code = (code << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool valid_utf8(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string visible(std::string_view bytes, bool keep_newlines) {
  std::string out;
  out.reserve(bytes.size());
  append_visible(out, bytes, keep_newlines);
  return out;
}

void append_visible(std::string& out, std::string_view bytes, bool keep_newlines) {
  for (std::size_t i = 0; i < bytes.size();) {
    // Printable ASCII, most of any chat, goes through as one run.
    std::size_t plain = i;
    while (plain < bytes.size() && bytes[plain] >= 0x20 && bytes[plain] < 0x7f) ++plain;
    out.append(bytes.substr(i, plain - i));
    if ((i = plain) == bytes.size()) break;
    const auto c = static_cast<unsigned char>(bytes[i]);
    const std::size_t n = utf8_length(bytes, i);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", c);
      i += 1;
    } else if (n == 1 && (c < 0x20 || c == 0x7f)) {
      if (c == '\t' || (keep_newlines && c == '\n')) {
        out += static_cast<char>(c);
      } else {
        out += '^';
        out += static_cast<char>(c == 0x7f ? '?' : c + '@');
      }
      i += 1;
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(bytes[i + 1]) < 0xA0) {
      // C1 controls (U+0080–U+009F): some terminals obey them like ESC sequences.
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(bytes[i + 1]));
      i += 2;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string one_line(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace sockchat
