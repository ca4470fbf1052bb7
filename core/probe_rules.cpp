#include "core/probe_rules.hpp"

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

std::string_view state_name(PortState state) {
  switch (state) {
    case PortState::open:
      return "open";
    case PortState::closed:
      return "closed";
    case PortState::filtered:
      return "filtered";
    case PortState::unreachable:
      return "unreachable";
    case PortState::open_filtered:
      return "open|filtered";
    case PortState::error:
      break;
  }
  return "error";
}

static bool unreachable_errno(int err) {
  return err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN;
}

PortState tcp_state(int err) {
  // ECONNRESET: the handshake completed and the server reset at once (it accepted and closed
  // with SO_LINGER 0, or sheds load that way) before we read SO_ERROR. Something listens.
  if (err == 0 || err == ECONNRESET) return PortState::open;
  if (err == ECONNREFUSED) return PortState::closed;
  if (err == ETIMEDOUT) return PortState::filtered;
  if (unreachable_errno(err)) return PortState::unreachable;
  return PortState::error;
}

PortState udp_state(int err, bool replied) {
  if (replied) return PortState::open;
  if (err == ECONNREFUSED) return PortState::closed;
  if (err == ETIMEDOUT) return PortState::open_filtered;
  if (unreachable_errno(err)) return PortState::unreachable;
  return PortState::error;
}

std::string explain(PortState state, int err, bool udp) {
  switch (state) {
    case PortState::open:
      if (udp) return "a datagram came back";
      return err == ECONNRESET ? "connected, then reset by the peer (ECONNRESET)"
                               : "connected: the handshake completed";
    case PortState::closed:
      return udp ? "ECONNREFUSED: ICMP port unreachable came back"
                 : "ECONNREFUSED: the peer answered SYN with RST";
    case PortState::filtered:
      return "no answer before the timeout: SYN dropped on the way";
    case PortState::open_filtered:
      return "no answer before the timeout: open and silent, or dropped";
    case PortState::unreachable:
      return fmt::format("{}: no route to the host", errno_name(err));
    case PortState::error:
      break;
  }
  return errno_text(err);
}

bool is_self_connect(const Address& local, const Address& peer) {
  return local.family() != AF_UNSPEC && local == peer;
}

bool is_cross_connect(const Address& a_local, const Address& a_peer, const Address& b_local,
                      const Address& b_target) {
  return a_local.family() != AF_UNSPEC && a_peer == b_local && a_local == b_target;
}

bool show_each(PortState state, std::size_t ports_in_state) {
  return state == PortState::open || ports_in_state <= kShowLimit;
}

void RttStats::add(std::optional<double> rtt_ms) {
  ++sent_;
  if (!rtt_ms) return;
  min_ = answered_ == 0 ? *rtt_ms : std::min(min_, *rtt_ms);
  max_ = answered_ == 0 ? *rtt_ms : std::max(max_, *rtt_ms);
  sum_ += *rtt_ms;
  ++answered_;
}

double RttStats::loss_percent() const {
  return sent_ == 0 ? 0.0 : 100.0 * static_cast<double>(sent_ - answered_) / sent_;
}

double RttStats::avg_ms() const {
  return answered_ == 0 ? 0.0 : sum_ / static_cast<double>(answered_);
}

}  // namespace sockchat
