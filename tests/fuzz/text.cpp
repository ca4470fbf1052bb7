// text.cpp — what a peer's bytes become on our terminal (core/text.hpp): visible() must
// leave no way for a peer to drive the terminal, and change nothing else.
//
// Input: byte 0 chooses keep_newlines, the rest is what the peer sent. Properties:
//   - the output is valid UTF-8 and holds no control character but tab (and newline when
//     kept): no ESC, no CR, no DEL, no C1 (U+0080-U+009F);
//   - text that is valid UTF-8 without controls passes unchanged;
//   - showing it again changes nothing (what visible() prints is already safe).
#include <string>

#include "core/text.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using sockchat::fuzz::require;

bool is_control(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x20 || c == 0x7f) return true;
  return c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0;
}

bool has_controls(std::string_view s, bool keep_newlines) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\t' || (keep_newlines && s[i] == '\n')) continue;
    if (is_control(s, i)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const bool keep_newlines = (in.byte() & 1) != 0;
  const std::string_view bytes = in.rest();
  const std::string shown = sockchat::visible(bytes, keep_newlines);
  require(sockchat::valid_utf8(shown), "visible() printed invalid UTF-8", shown);
  require(!has_controls(shown, keep_newlines), "visible() let a control character through", shown);
  if (sockchat::valid_utf8(bytes) && !has_controls(bytes, keep_newlines)) {
    require(shown == bytes, "visible() changed printable text", shown);
  }
  require(sockchat::visible(shown, keep_newlines) == shown, "visible() is not idempotent", shown);
  return 0;
}
