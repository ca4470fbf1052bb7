// test_text.cpp — visible(): what a chat client does to bytes from the network before
// they reach a terminal. Control characters and broken UTF-8 become visible; text,
// Chinese included, passes unchanged. Pure code.
#include <string>

#include <catch2/catch.hpp>

#include "core/text.hpp"

using namespace sockchat;

TEST_CASE("visible keeps text and shows control characters and bad bytes", "[text]") {
  struct Row {
    const char* what;
    std::string in;
    std::string out;
  };
  const Row row = GENERATE(values<Row>({
      {"ASCII", "hello, world", "hello, world"},
      {"Chinese", "你好，世界", "你好，世界"},
      {"accents and emoji", "café 😀", "café 😀"},
      {"tab kept", "a\tb", "a\tb"},
      {"newline shown by default", "a\nb", "a^Jb"},
      {"carriage return (could overwrite the line)", "a\rb", "a^Mb"},
      {"escape sequence (clear screen)", "\x1b[2J", "^[[2J"},
      {"bell", "\a", "^G"},
      {"NUL", std::string("a\0b", 3), "a^@b"},
      {"DEL", "\x7f", "^?"},
      {"C1 control CSI as UTF-8", "\xc2\x9b", "\\x9b"},
      {"U+00A0 is text, not C1", "\xc2\xa0", "\xc2\xa0"},
      {"a stray byte", "\xff", "\\xff"},
      {"a lone continuation byte", "a\x80z", "a\\x80z"},
      {"a truncated character", "\xe4\xbd", "\\xe4\\xbd"},
      {"an overlong encoding of '/'", "\xc0\xaf", "\\xc0\\xaf"},
      {"a UTF-16 surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
      {"past U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
  }));
  CAPTURE(row.what);
  CHECK(visible(row.in) == row.out);
}

TEST_CASE("visible keeps newlines when asked", "[text]") {
  CHECK(visible("one\ntwo\x1b\n", true) == "one\ntwo^[\n");
}

TEST_CASE("append_visible adds to what the string holds, as visible() shows it", "[text]") {
  std::string line = "<ann> ";
  append_visible(line, "hi\x1b[2J\xc2\x9b\xff");
  CHECK(line == "<ann> hi^[[2J\\x9b\\xff");
}

TEST_CASE("valid_utf8 accepts UTF-8 and nothing else", "[text]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("你好 😀"));
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last code point
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\xe4\xbd"));
  CHECK_FALSE(valid_utf8("\xc0\x80"));  // overlong NUL
  CHECK_FALSE(valid_utf8("\xed\xbf\xbf"));
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));
}

TEST_CASE("one_line escapes a message's newlines so it prints as one line", "[text]") {
  CHECK(one_line("hello") == "hello");
  CHECK(one_line("hi\n* server shutting down") == "hi\\n* server shutting down");
  CHECK(one_line("a\r\nb") == "a\\r\\nb");
  CHECK(one_line("C:\\n") == "C:\\\\n");  // a backslash is escaped, so nothing is ambiguous
  CHECK(one_line("你好\n") == "你好\\n");
  CHECK(one_line("").empty());
}
