// size.hpp — byte counts as people type them: "65536", "64K", "1M", "1MiB", "2g".
//
// Pure parsing, no I/O. The units are the binary ones iperf3 and dd use for buffers:
// K = KiB = 1024, M = 1024 K, G = 1024 M, T = 1024 G, with an optional trailing "B" or
// "iB", in any case. A bare number is bytes. No fractions, no signs, no spaces inside.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sockchat {

// The number of bytes, or nullopt when `text` is not a size or does not fit in 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace sockchat
