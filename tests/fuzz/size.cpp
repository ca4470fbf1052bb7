// size.cpp — byte counts as a user types them (core/size.hpp): "65536", "64K", "1MiB".
//
// Input: the text. Properties:
//   - the units ignore case: "64k", "64K" and "64KIB" mean the same;
//   - a size prints as a plain number that parses back to it;
//   - a unit multiplies: "NK" is 1024 × "N" whenever it fits in 64 bits.
#include <cctype>
#include <string>

#include "core/size.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using sockchat::parse_size;
using sockchat::fuzz::require;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = sockchat::fuzz::as_text(data, size);
  const auto value = parse_size(text);
  require(parse_size(lower(text)) == value, "a size's units are case-sensitive", text);
  if (!value) return 0;
  require(parse_size(std::to_string(*value)) == value, "a size does not print back", text);
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const auto number = parse_size(text.substr(0, digits));
  require(number.has_value(), "a size's number alone is not a size", text);
  if (*number <= (~std::uint64_t{0} >> 10)) {
    const auto kib = parse_size(std::string(text.substr(0, digits)) + "K");
    require(kib == *number * 1024, "K is not 1024", text);
  }
  return 0;
}
