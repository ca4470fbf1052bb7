#include "core/size.hpp"

#include <cctype>
#include <limits>

namespace sockchat {

namespace {

// log2 of a unit's size: K = 2^10 ... T = 2^40; nullopt for anything else.
std::optional<int> unit_shift(std::string_view unit) {
  if (unit.empty()) return 0;
  std::string_view rest = unit.substr(1);
  if (rest != "" && rest != "B" && rest != "b" && rest != "iB" && rest != "ib" && rest != "IB" &&
      rest != "Ib") {
    return std::nullopt;
  }
  switch (std::tolower(static_cast<unsigned char>(unit[0]))) {
    case 'b':
      return rest.empty() ? std::optional<int>(0) : std::nullopt;  // "B" alone is bytes
    case 'k':
      return 10;
    case 'm':
      return 20;
    case 'g':
      return 30;
    case 't':
      return 40;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  std::uint64_t value = 0;
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  for (; digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])); ++digits) {
    const auto digit = static_cast<std::uint64_t>(text[digits] - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (digits == 0) return std::nullopt;
  const auto shift = unit_shift(text.substr(digits));
  if (!shift) return std::nullopt;
  if (*shift > 0 && value > (kMax >> *shift)) return std::nullopt;
  return value << *shift;
}

}  // namespace sockchat
