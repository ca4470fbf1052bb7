// cidr.cpp — --allow and --deny blocks (core/cidr.hpp) and the addresses judged by them.
//
// Input: a block's text, a length byte's worth of it, then an address's text. Properties:
//   - parse either gives a block or throws UsageError;
//   - a block prints as text that parses back to the same block, and contains its own
//     network address;
//   - contains() and AccessList::permits() answer for any address text without crashing,
//     and deny wins: an address in a --deny block is never permitted.
#include <string>

#include "core/cidr.hpp"
#include "core/error.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat;
using sockchat::fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const std::string_view block_text = in.string();
  const std::string_view address = in.rest();
  Cidr block;
  try {
    block = Cidr::parse(block_text);
  } catch (const UsageError&) {
    return 0;  // shown to the user by the CLI, through visible()
  }
  const std::string text = block.to_string();
  const Cidr again = Cidr::parse(text);
  require(again.to_string() == text, "to_string() does not parse back to the block", text);
  require(block.contains(text.substr(0, text.find('/'))), "a block does not contain itself", text);

  const bool inside = block.contains(address);
  const AccessList deny_it{{}, {block}};
  require(!(inside && deny_it.permits(address)), "an address in a --deny block is permitted");
  const AccessList allow_it{{block}, {}};
  require(!inside || allow_it.permits(address), "an address in the only --allow block is refused");
  const AccessList both{{block}, {block}};
  require(!both.permits(address) || !inside, "deny does not win over allow");
  return 0;
}
