#include "core/echo_guard.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace sockchat {

bool TokenBucket::take(double now_s) {
  if (last_s_ >= 0 && now_s > last_s_)
    tokens_ = std::min(burst_, tokens_ + (now_s - last_s_) * rate_);
  last_s_ = std::max(last_s_, now_s);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool loop_port(std::uint16_t port) {
  return port == 0 || port == 7 || port == 13 || port == 19 || port == 37;
}

EchoVerdict echo_verdict(std::uint16_t from_port, std::uint16_t own_port, TokenBucket& sender,
                         double now_s) {
  if (from_port == own_port) return EchoVerdict::own_port;
  if (loop_port(from_port)) return EchoVerdict::loop_port;
  return sender.take(now_s) ? EchoVerdict::answer : EchoVerdict::too_fast;
}

std::string echo_refusal(EchoVerdict verdict) {
  switch (verdict) {
    case EchoVerdict::answer:
      return "";
    case EchoVerdict::own_port:
      return "it came from this socket's own port";
    case EchoVerdict::loop_port:
      return "it came from a service port that answers everything";
    case EchoVerdict::too_fast:
      return fmt::format("over {:g} echoes a second to this sender", echo_rate);
  }
  return "";
}

}  // namespace sockchat
