// Chat names' keys: look-alikes across letter case, keys that settle, and the ASCII table
// held to ICU's answers for every ASCII character, every pair of printable ones, and
// random names (core/names.hpp).
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "core/names.hpp"

using namespace sockchat;

namespace {

void check_same_as_icu(const std::string& name) {
  CAPTURE(name);
  CHECK(name_key(name) == icu_only::name_key(name, false));
  CHECK(name_shape_key(name) == icu_only::name_key(name, true));
  CHECK(name_fold(name) == icu_only::name_fold(name));
  CHECK(name_problem(name) == icu_only::name_problem(name));
}

}  // namespace

TEST_CASE("a capital I reads as a small l: AIice is a look-alike of Alice", "[names]") {
  CHECK(name_shape_key("AIice") == name_shape_key("Alice"));
  CHECK(name_key("ALICE") == name_key("alice"));  // the same name, in other case
  CHECK(name_key("AIice") != name_key("alice"));  // folded first, I is i: the other key
}

TEST_CASE("keys settle: a zero is an O, and an O folds to o", "[names]") {
  CHECK(name_key("0live") == name_key("Olive"));
  CHECK(name_key("0live") == name_key("olive"));
  CHECK(name_shape_key("0live") == name_shape_key("Olive"));
  CHECK(name_key("%") == name_key("o/o"));  // % is º/₀, which folds to o/0: then o/o
  for (const char* name : {"0live", "%x", "AIice", "\uFF10live", "\u0455erver"}) {
    CAPTURE(name);
    CHECK(name_key(name_key(name)) == name_key(name));  // a key is its own key
    CHECK(name_shape_key(name_shape_key(name)) == name_shape_key(name));
  }
}

TEST_CASE("the ASCII table gives ICU's keys and verdicts for every ASCII character", "[names]") {
  for (int c = 1; c < 0x80; ++c) check_same_as_icu(std::string(1, static_cast<char>(c)));
}

TEST_CASE("the ASCII table gives ICU's keys for every pair of printable characters", "[names]") {
  std::string name(2, ' ');
  for (char a = 0x20; a < 0x7f; ++a) {
    for (char b = 0x20; b < 0x7f; ++b) {
      name[0] = a;
      name[1] = b;
      // Only the keys: a pair's verdict is its characters' (the cases above and below).
      REQUIRE(name_key(name) == icu_only::name_key(name, false));
      REQUIRE(name_shape_key(name) == icu_only::name_key(name, true));
    }
  }
}

TEST_CASE("the ASCII table agrees with ICU on random ASCII names", "[names]") {
  std::mt19937 random(20261203);  // fixed: a failure names a name that fails again
  std::uniform_int_distribution<int> length(1, 34);
  std::uniform_int_distribution<int> printable(0x20, 0x7e);
  for (int i = 0; i < 2000; ++i) {
    std::string name(static_cast<std::size_t>(length(random)), ' ');
    for (char& c : name) c = static_cast<char>(printable(random));
    check_same_as_icu(name);
  }
  for (const char* name : {"guest1", "Alice", "server", "SERVER", "5erver", "*bob", "^_^", "a b"})
    check_same_as_icu(name);
}
