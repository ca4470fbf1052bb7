// test_screen.cpp — how many rows a prompt and a half-typed line take on a terminal of a
// given width, and the escape sequence that erases them all before the chat draws a
// peer's line above. Pure code: the width is a parameter, no terminal is needed.
#include <string>

#include <catch2/catch.hpp>

#include "core/screen.hpp"

using namespace sockchat;

namespace {

std::string repeat(std::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

}  // namespace

TEST_CASE("columns counts what a terminal shows, not bytes", "[screen]") {
  struct Row {
    const char* what;
    std::string text;
    std::size_t columns;
  };
  const Row row = GENERATE(values<Row>({
      {"empty", "", 0},
      {"ASCII", "hello", 5},
      {"accents: 2 bytes, 1 column each", "café", 4},
      {"Cyrillic", "привет", 6},
      {"Chinese: 3 bytes, 2 columns each", "你好", 4},
      {"Hangul", "한국", 4},
      {"fullwidth letters", "ＡＢ", 4},
      {"an emoji", "😀", 2},
      {"a combining accent takes no column", "e\xcc\x81", 1},
      {"a byte that is not UTF-8",
       "a\xff"
       "b",
       3},
      {"a truncated character at the end", "a\xe4\xbd", 3},
  }));
  CAPTURE(row.what);
  CHECK(columns(row.text) == row.columns);
}

TEST_CASE("the input area shows controls and turns tabs into spaces", "[screen]") {
  struct Row {
    const char* what;
    std::string prompt;
    std::string typed;
    std::string shown;
    std::size_t columns;
  };
  const Row row = GENERATE(values<Row>({
      {"nothing typed", "> ", "", "> ", 2},
      {"text", "> ", "hi", "> hi", 4},
      {"a tab after the prompt goes to column 8", "> ", "\tx", ">       x", 9},
      {"a tab on a stop takes 8 columns", "", "abcdefgh\tx", "abcdefgh        x", 17},
      {"a tab after wide characters", "", "你\tx", "你      x", 9},
      {"an escape is shown, not obeyed", "> ", "\x1b[2J", "> ^[[2J", 7},
      {"a byte that is not UTF-8", "> ", "\xff", "> \\xff", 6},
      {"a character half read is not shown yet", "> ", "a\xe4\xb8", "> a", 3},
      {"then whole", "> ", "a\xe4\xb8\xad", "> a\xe4\xb8\xad", 5},
      {"an emoji's first byte", "> ", "\xf0", "> ", 2},
      {"an emoji's first three bytes", "> ", "\xf0\x9f\x98", "> ", 2},
      {"a lead byte before more text is shown", "> ", "\xe4z", "> \\xe4z", 7},
      {"stray continuation bytes are shown", "> ", "\x80\x80\x80\x80", "> \\x80\\x80\\x80\\x80",
       18},
  }));
  CAPTURE(row.what);
  const std::string shown = input_area(row.prompt, row.typed);
  CHECK(shown == row.shown);
  CHECK(columns(shown) == row.columns);
}

TEST_CASE("rows taken and the sequence that erases them", "[screen]") {
  struct Row {
    const char* what;
    std::size_t width;
    std::string typed;  // after the prompt "> "
    std::size_t rows;
    std::string erase;
  };
  const Row row = GENERATE(values<Row>({
      {"just the prompt", 40, "", 1, "\r\x1b[J"},
      {"a short line", 40, "hello", 1, "\r\x1b[J"},
      {"exactly the width: the cursor waits on the last column", 40, repeat("x", 38), 1,
       "\r\x1b[J"},
      {"the width plus one", 40, repeat("x", 39), 2, "\r\x1b[1A\x1b[J"},
      {"two rows exactly", 40, repeat("x", 78), 2, "\r\x1b[1A\x1b[J"},
      {"100 characters on 40 columns", 40, repeat("x", 100), 3, "\r\x1b[2A\x1b[J"},
      {"many rows", 10, repeat("x", 998), 100, "\r\x1b[99A\x1b[J"},
      {"accents count one column, not two bytes", 10, repeat("é", 8), 1, "\r\x1b[J"},
      {"one accent more wraps", 10, repeat("é", 9), 2, "\r\x1b[1A\x1b[J"},
      {"Chinese fills a row two columns at a time", 10, repeat("中", 4), 1, "\r\x1b[J"},
      {"a wide character that does not fit goes to the next row", 11, repeat("中", 5), 2,
       "\r\x1b[1A\x1b[J"},
      {"9 of them: 4 after the prompt, 5 on the next row", 11, repeat("中", 9), 2,
       "\r\x1b[1A\x1b[J"},
      {"10 take 3 rows, where 22 columns / 11 would say 2", 11, repeat("中", 10), 3,
       "\r\x1b[2A\x1b[J"},
      {"emoji are wide too", 10, repeat("😀", 5), 2, "\r\x1b[1A\x1b[J"},
      {"a combining accent on a full row stays on it", 10, repeat("x", 7) + "e\xcc\x81", 1,
       "\r\x1b[J"},
      {"a tab counts the spaces it becomes", 10, "\t\t", 2, "\r\x1b[1A\x1b[J"},
      {"a shown escape counts its caret", 6, "\x1b[2J", 2, "\r\x1b[1A\x1b[J"},
      {"an 80-column terminal", 80, repeat("y", 100), 2, "\r\x1b[1A\x1b[J"},
      {"a width of 0 counts as 1", 0, "ab", 4, "\r\x1b[3A\x1b[J"},
  }));
  CAPTURE(row.what, row.width);
  const std::size_t rows = rows_taken(input_area("> ", row.typed), row.width);
  CHECK(rows == row.rows);
  CHECK(erase_rows(rows) == row.erase);
}

TEST_CASE("a wide character on a one-column screen takes one row", "[screen]") {
  CHECK(rows_taken("中中", 1) == 2);
}
