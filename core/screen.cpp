// screen.cpp — columns, wrapped rows and the escape sequence that erases them (see
// screen.hpp). Read: wcwidth(3), mbrtowc(3), newlocale(3), uselocale(3), console_codes(4).
#include "core/screen.hpp"

#include <locale.h>
#include <wchar.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/text.hpp"

namespace sockchat {

namespace {

constexpr std::size_t kTabStop = 8;  // terminals put a tab stop every 8 columns

// mbrtowc(3) and wcwidth(3) answer for the locale of the calling thread. The chat's text is
// UTF-8 whatever LANG says (LANG is often unset, "C", under ssh or in a container), so they
// are asked in C.UTF-8, set with uselocale(3) for this thread and only while this object
// lives: the rest of the program never sees a locale change.
class Utf8Locale {
 public:
  Utf8Locale() : saved_(utf8() != nullptr ? ::uselocale(utf8()) : nullptr) {}
  ~Utf8Locale() {
    if (saved_ != nullptr) ::uselocale(saved_);
  }
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;
  bool active() const { return saved_ != nullptr; }

 private:
  // Made once, kept for the life of the process. Null if the C library has no C.UTF-8.
  static locale_t utf8() {
    static const locale_t locale = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    return locale;
  }
  locale_t saved_;
};

// One character of the text: its length in bytes and the columns it takes.
struct Char {
  std::size_t bytes;
  std::size_t columns;
};

Char char_at(std::string_view text, std::size_t i, const Utf8Locale& locale) {
  if (!locale.active()) {
    // No UTF-8 tables: every character is one column (its first byte counts, the
    // continuation bytes 10xxxxxx do not). Wide characters are then undercounted.
    return {1, (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80 ? 0u : 1u};
  }
  wchar_t wc = 0;
  mbstate_t state{};
  const std::size_t n = ::mbrtowc(&wc, text.data() + i, text.size() - i, &state);
  if (n == static_cast<std::size_t>(-1) || n == static_cast<std::size_t>(-2)) {
    return {1, 1};  // not UTF-8 (-1) or cut short (-2): the terminal shows U+FFFD
  }
  const int width = ::wcwidth(wc);  // -1: a control character or one Unicode has not assigned
  return {std::max<std::size_t>(n, 1), width < 0 ? 1u : static_cast<std::size_t>(width)};
}

// `typed` without the first bytes of a character whose last bytes have not come yet: a
// read(2) of the terminal may stop in the middle of a character (a long paste of Chinese
// text does), and shown now they would be "\xe4" until the next read.
std::string_view complete_part(std::string_view typed) {
  const std::size_t size = typed.size();
  // A character cut short has 3 bytes at most: look for its first byte among the last 3.
  for (std::size_t back = 1; back <= std::min<std::size_t>(3, size); ++back) {
    const auto c = static_cast<unsigned char>(typed[size - back]);
    if ((c & 0xC0) == 0x80) continue;  // 10xxxxxx: a continuation byte, look further back
    const std::size_t length = c >= 0xF8 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return back < length ? typed.substr(0, size - back) : typed;
  }
  return typed;
}

}  // namespace

std::size_t columns(std::string_view text) {
  const Utf8Locale locale;
  std::size_t total = 0;
  for (std::size_t i = 0; i < text.size();) {
    const Char c = char_at(text, i, locale);
    total += c.columns;
    i += c.bytes;
  }
  return total;
}

std::string input_area(std::string_view prompt, std::string_view typed) {
  const std::string shown = visible(complete_part(typed));  // tabs kept, other controls shown
  const Utf8Locale locale;
  std::string out(prompt);
  std::size_t column = columns(prompt);
  for (std::size_t i = 0; i < shown.size();) {
    const Char c = char_at(shown, i, locale);
    if (shown[i] == '\t') {
      const std::size_t spaces = kTabStop - column % kTabStop;
      out.append(spaces, ' ');
      column += spaces;
    } else {
      out.append(shown, i, c.bytes);
      column += c.columns;
    }
    i += c.bytes;
  }
  return out;
}

std::size_t rows_taken(std::string_view text, std::size_t width) {
  width = std::max<std::size_t>(width, 1);
  const Utf8Locale locale;
  std::size_t row = 0;
  std::size_t column = 0;  // columns used on `row`; == width: full, the cursor waits there
  for (std::size_t i = 0; i < text.size();) {
    const Char c = char_at(text, i, locale);
    const std::size_t w = std::min(c.columns, width);  // a wide character on a 1-column screen
    if (w > 0 && column + w > width) {  // it does not fit: the terminal wraps before it
      ++row;
      column = 0;
    }
    column += w;
    i += c.bytes;
  }
  return row + 1;
}

std::string erase_rows(std::size_t rows) {
  if (rows <= 1) return "\r\x1b[J";
  return fmt::format("\r\x1b[{}A\x1b[J", rows - 1);
}

}  // namespace sockchat
