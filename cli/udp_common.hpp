// udp_common.hpp — what udp-send and udp-recv share: addresses, clocks, the size limits of a
// datagram, errors explained. (Ctrl-C is core/signals.hpp's StopSignals, as everywhere.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/socket.hpp"

namespace sockchat::cli {

// The largest UDP payload: 65535 minus the IP header (20 bytes for IPv4, none counted for
// IPv6, whose length field excludes its header) minus the 8-byte UDP header.
std::size_t max_datagram(int family);

// HOST and PORT for a datagram socket: the first address getaddrinfo gives. `allow_zero`
// lets a receiver ask for any free port (0). Throws UsageError.
Address udp_address(const std::string& host, const std::string& port, bool allow_zero);

// Option checks with a one-line message (CLI11's own print DBL_MAX in full):
// a number of seconds (> 0 if `positive`, else >= 0), a count of bytes (an integer >= 0).
// A number of seconds (> 0 if `positive`, else >= 0) and at most max_seconds: a larger one
// would overflow when turned into the clocks' integer ticks (and sleep for centuries).
// probe uses it too. (CLI::PositiveNumber's message would print DBL_MAX in full.)
inline constexpr double max_seconds = 1e6;
CLI::Validator seconds_check(bool positive);
CLI::Validator bytes_check();
CLI::Validator count_check();  // a whole number >= 1

// CLOCK_REALTIME in nanoseconds since the epoch: the clock the --seq header carries.
std::int64_t wall_ns();
// CLOCK_MONOTONIC in seconds: for durations, never jumps.
double mono_s();

// A SocketError with a hint after the kernel's words:
//   sendto 255.255.255.255:9000: EACCES (Permission denied) — broadcast needs --broadcast
class ExplainedError : public SocketError {
 public:
  ExplainedError(const SocketError& e, std::string_view hint);
};

// Call it in a catch block: rethrows `e` with the hint that explains its errno to a UDP
// user, or rethrows it unchanged.
[[noreturn]] void explain_udp_error(const SocketError& e, int family);

}  // namespace sockchat::cli
