// test_size.cpp — parse_size (core/size.hpp): the byte counts --max-line, --max-queue and
// --max-total-queue take, as a table.
#include <cstdint>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "core/size.hpp"

using sockchat::parse_size;

TEST_CASE("parse_size reads bytes and binary units", "[size]") {
  struct Row {
    std::string text;
    std::uint64_t bytes;
  };
  const Row rows[] = {
      {"0", 0},           {"65536", 65536},
      {"64K", 65536},     {"64k", 65536},
      {"64KiB", 65536},   {"64KB", 65536},
      {"1M", 1u << 20},   {"1MiB", 1u << 20},
      {"1mb", 1u << 20},  {"2G", 2ull << 30},
      {"1T", 1ull << 40}, {"7B", 7},
      {"007", 7},         {"16777215T", 16777215ull << 40},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    CHECK(parse_size(row.text) == row.bytes);
  }
}

TEST_CASE("parse_size refuses what is not a size, and what does not fit", "[size]") {
  for (const char* text : {"", "K", "-1", "+1", "1.5", "1e6", "abc", "1X", "1KK", "1 K", " 1",
                           "1Ki", "1KiBB", "nan", "18446744073709551616", "16777216T"}) {
    INFO(text);
    CHECK_FALSE(parse_size(text).has_value());
  }
  CHECK(parse_size("18446744073709551615") == UINT64_MAX);
}
