// udp-recv — a UDP receiver: socket → bind → recvfrom, in a loop, from any number of senders.
//
// UDP has no connection and no accept: one socket receives every datagram sent to its
// address, each with the sender's address (recvfrom), and can answer each one (sendto).
// A datagram arrives whole or not at all; if it is larger than the buffer the kernel cuts
// it, and MSG_TRUNC tells us so. --timeout S is per wait, as Python's settimeout(S): each
// recvfrom waits at most S seconds, so the command exits (status 1) after S quiet seconds.
// --stats is for measuring: no line per datagram, recvmmsg batches and a large SO_RCVBUF,
// and the --seq accounting (lost, duplicated, reordered, one-way delay) per sender.
// Read: udp(7), recvfrom(2), recvmmsg(2), ip(7) (IP_ADD_MEMBERSHIP), socket(7) (SO_RCVBUF).
#include <poll.h>

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/udp_common.hpp"
#include "cli/udp_tally.hpp"
#include "core/batch.hpp"
#include "core/multicast.hpp"
#include "core/signals.hpp"

namespace sockchat::cli {

namespace {

struct UdpRecvOptions {
  std::string host = "127.0.0.1";
  bool host_given = false;
  std::string port = "9000";
  std::uint64_t count = 0;  // 0: no limit
  ModeOptions mode;
  bool echo = false;
  bool stats = false;
  std::string join;
  std::size_t bufsize = 64 * 1024;  // more than the largest datagram (65527 bytes)
};

// Where to bind, and with --join the group and the interface to join it on.
struct Plan {
  Address bind;
  std::optional<Address> group;
  Address interface;
};

// With --join the socket binds the group's own address, so it receives that group's
// datagrams and no others; --host then names the interface (the loopback by default).
Plan make_plan(const UdpRecvOptions& o) {
  if (o.join.empty()) return {udp_address(o.host, o.port, true), std::nullopt, {}};
  const Address group = udp_address(o.join, o.port, true);
  if (!is_multicast(group)) {
    throw UsageError(
        fmt::format("--join {}: not a multicast group (224.0.0.0/4 or ff00::/8)", o.join));
  }
  const std::string host = o.host_given ? o.host : (group.family() == AF_INET6 ? "::1" : o.host);
  const Address interface = udp_address(host, "0", true);
  if (interface.family() != group.family()) {
    throw UsageError(fmt::format("--join {} --host {}: not the same address family", o.join, host));
  }
  return {member_address(group, interface), group, interface};
}

// A receiver that falls behind loses whatever overflows its receive buffer: ask for 8 MiB
// (the kernel grants at most net.core.rmem_max, and doubles it for its bookkeeping).
void enlarge_receive_buffer(Socket& s) {
  s.setsockopt(SOL_SOCKET, SO_RCVBUF, 8 * 1024 * 1024);
  s.getsockopt(SOL_SOCKET, SO_RCVBUF);  // what we got: --trace shows it
}

Socket open_socket(const UdpRecvOptions& o, const Plan& plan) {
  Socket s(plan.bind.family(), SOCK_DGRAM);
  // Several programs on one host may be members of the same group on the same port.
  if (plan.group) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  if (o.stats) enlarge_receive_buffer(s);
  s.bind(plan.bind);
  if (plan.group) join_group(s, *plan.group, plan.interface);
  s.settimeout(o.mode.to_timeout());
  return s;
}

// Says where we listen; returns the address (with the real port when --port 0).
Address announce(const Socket& s, const Plan& plan) {
  const Address local = s.getsockname();  // the real port when --port 0
  nlohmann::json event{{"event", "listening"},
                       {"address", local.to_string()},
                       {"host", local.host()},
                       {"port", local.port()},
                       {"protocol", "udp"}};
  std::string human = fmt::format("listening on {} (UDP)", local.to_string());
  if (plan.group) {
    event["group"] = plan.group->host();
    human += fmt::format(", member of {} on {}", plan.group->host(), plan.interface.host());
  }
  if (local.host() == "0.0.0.0" || local.host() == "::") human += " — on every interface";
  emit(event, human);
  return local;
}

enum class Stop { count, timeout, signal };

const char* stop_name(Stop why) {
  return why == Stop::count ? "count" : why == Stop::timeout ? "timeout" : "signal";
}

class Receiver {
 public:
  Receiver(Socket& s, const UdpRecvOptions& o, const Address& local)
      : s_(s),
        o_(o),
        tally_(o.stats, o.echo ? std::optional(local.port()) : std::nullopt),
        buffer_(o.bufsize) {
    if (o.stats) batch_.emplace(s, 64, o.bufsize);
  }
  Stop run(StopSignals& stop);
  const Tally& tally() const { return tally_; }

 private:
  void receive();
  void handle(const Datagram& d, std::string_view data);
  std::uint64_t remaining() const { return o_.count ? o_.count - tally_.datagrams() : SIZE_MAX; }

  Socket& s_;
  const UdpRecvOptions& o_;
  Tally tally_;
  std::vector<char> buffer_;
  std::optional<RecvBatch> batch_;  // --stats: recvmmsg instead of recvfrom
};

// The loop. poll(2) waits for a datagram and for Ctrl-C at once (core/signals.hpp), at
// most --timeout S; then recvfrom takes it without waiting. --nonblocking: recvfrom comes
// first and says EAGAIN when nothing is there ("nothing yet", shown by --trace), and only
// then does poll wait: the shape of every event loop.
Stop Receiver::run(StopSignals& stop) {
  const Timeout per_wait = o_.mode.timeout ? Timeout(*o_.mode.timeout) : std::nullopt;
  pollfd readable{s_.fileno(), POLLIN, 0};
  for (;;) {
    if (o_.count && tally_.datagrams() >= o_.count) return Stop::count;
    if (stop.requested()) return Stop::signal;
    if (o_.mode.nonblocking) {
      try {
        receive();
        continue;
      } catch (const WouldBlockError&) {
        // nothing yet: wait below
      }
    }
    const int ready = stop.poll(&readable, 1, Deadline(per_wait));
    if (ready < 0) return Stop::signal;
    if (ready == 0) return Stop::timeout;
    if (!o_.mode.nonblocking) receive();
  }
}

void Receiver::receive() {
  if (batch_) {
    const std::size_t n = batch_->recvmmsg(remaining());
    for (std::size_t i = 0; i < n; ++i) handle(batch_->datagram(i), batch_->data(i));
    tally_.tick(mono_s());
    return;
  }
  const Datagram d = s_.recvfrom(buffer_.data(), buffer_.size());
  handle(d, {buffer_.data(), d.size});
}

void Receiver::handle(const Datagram& d, std::string_view data) {
  // With --echo, the tally says whether to answer (core/echo_guard.hpp: never our own port
  // or a loop port, at most echo_rate a second to one sender).
  if (tally_.add(d, data, wall_ns(), mono_s()) != EchoVerdict::answer) return;
  try {
    s_.sendto(data, d.from);  // the echo: straight back to whoever sent it
  } catch (const SocketError&) {
    // A full send buffer (nonblocking: EAGAIN; UDP may drop, and so do we), or a forged
    // source the kernel will not send to (EINVAL, EACCES): that answer is lost, the
    // receiver goes on. --trace shows the call; the summary counts it.
    tally_.echo_failed();
  }
}

int run_udp_recv(const UdpRecvOptions& o) {
  const Plan plan = make_plan(o);
  Socket s = open_socket(o, plan);
  const Address local = announce(s, plan);
  Receiver receiver(s, o, local);
  Stop why;
  {
    StopSignals stop;  // Ctrl-C or SIGTERM: the summary, then exit 0
    why = receiver.run(stop);
  }
  receiver.tally().summary(stop_name(why));
  if (why != Stop::timeout) return 0;
  const double after = *o.mode.timeout;
  error(fmt::format("recvfrom {}: timed out after {:g} s (no datagram came in {:g} s)",
                    local.to_string(), after, after),
        "ETIMEDOUT");
  return 1;
}

}  // namespace

void setup_udp_recv(CLI::App& app) {
  auto* sub =
      app.add_subcommand("udp-recv", "receive UDP datagrams (recvfrom) from any number of senders");
  auto o = std::make_shared<UdpRecvOptions>();
  sub->add_option("--host", o->host, "address to bind (with --join: the interface to join on)")
      ->capture_default_str();
  sub->add_option("--port", o->port, "port to bind; 0 lets the kernel pick one")
      ->capture_default_str();
  sub->add_option("--count", o->count, "exit after N datagrams")->check(count_check());
  sub->add_flag("--echo", o->echo, "send each datagram back to its sender (sendto)");
  // An empty GROUP ("$GROUP" unset) is refused rather than receiving unicast instead.
  sub->add_option("--join", o->join, "join this IPv4 or IPv6 multicast group")
      ->check(not_empty("a multicast group", "GROUP"));
  sub->add_flag("--stats", o->stats,
                "count only (per sender: lost, duplicated, reordered, delay), report each second");
  sub->add_option("--bufsize", o->bufsize,
                  "receive buffer per datagram, like recvfrom(BUFSIZE); larger ones are truncated")
      ->check(CLI::Range(1, 64 * 1024))
      ->capture_default_str();
  add_mode_options(*sub, o->mode);
  sub->callback([sub, o] {
    o->host_given = sub->count("--host") > 0;
    exit_code() = guarded([&] { return run_udp_recv(*o); });
  });
}

}  // namespace sockchat::cli
