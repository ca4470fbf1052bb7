#include "cli/udp_common.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace sockchat::cli {

std::size_t max_datagram(int family) {
  return family == AF_INET6 ? 65535 - 8 : 65535 - 20 - 8;
}

Address udp_address(const std::string& host, const std::string& port, bool allow_zero) {
  std::uint16_t number = 0;
  try {
    number = allow_zero && port == "0" ? 0 : parse_port(port);
  } catch (const UsageError& e) {
    if (!allow_zero) throw;
    throw UsageError(fmt::format("{} (or 0 for any free port)", e.what()));
  }
  if (host.starts_with("unix:")) throw UsageError("udp-send and udp-recv speak UDP over IP only");
  return Address::resolve(host, number, SOCK_DGRAM).front();
}

CLI::Validator seconds_check(bool positive) {
  return CLI::Validator(
      [positive](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        const bool number = !text.empty() && *end == '\0' && std::isfinite(value);
        if (number && value > max_seconds) {
          return fmt::format("{} seconds is too long (at most {:.0f}, about 11 days)", text,
                             max_seconds);
        }
        const bool ok = number && (positive ? value > 0 : value >= 0);
        return ok ? ""
                  : fmt::format("expected a number of seconds {} 0, got {}",
                                positive ? ">" : ">=", text);
      },
      "SECONDS");
}

CLI::Validator bytes_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 9 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        return digits ? "" : "expected a number of bytes (0 or more), got " + text;
      },
      "BYTES");
}

CLI::Validator count_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 18 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        return digits && std::stoll(text) >= 1 ? "" : "expected a whole number >= 1, got " + text;
      },
      "N");
}

std::int64_t wall_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

double mono_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

ExplainedError::ExplainedError(const SocketError& e, std::string_view hint)
    : SocketError(e.call(), e.address(), e.error_number(),
                  fmt::format("{} — {}", errno_text(e.error_number()), hint)) {}

void explain_udp_error(const SocketError& e, int family) {
  switch (e.error_number()) {
    case EACCES:
      throw ExplainedError(e, "broadcast needs --broadcast");
    case EMSGSIZE:
      throw ExplainedError(
          e, fmt::format("a UDP datagram carries at most {} bytes over {}", max_datagram(family),
                         family == AF_INET6 ? "IPv6" : "IPv4"));
    case ECONNREFUSED:
      throw ExplainedError(e, "nothing listens on that UDP port (ICMP port unreachable)");
    default:
      throw;  // the exception being handled, its own type kept (TimeoutError...)
  }
}

}  // namespace sockchat::cli
