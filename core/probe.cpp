#include "core/probe.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/listener.hpp"
#include "core/socket.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// No descriptor or no local port left for one more probe: wait for some in flight to end.
bool out_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == EADDRNOTAVAIL || err == EAGAIN || err == ENOBUFS;
}

// How a probe that has been answered is closed. A connected socket is closed with
// SO_LINGER {on, 0 s}: close(2) then sends RST instead of FIN, so neither side keeps the
// connection in TIME_WAIT (60 s on Linux). Without it, a scan of many open ports, or a
// --count loop against one, leaves one TIME_WAIT per connection and can run out of local
// ports. The peer's accept() may return a connection that is already reset: nmap -sT
// does the same. A socket that never connected (refused, timed out) has no connection to
// linger over, so it is closed plainly and costs no extra syscall: on a loopback scan of
// 65535 ports nearly every probe is refused, and that path stays at its minimum.
void close_probe(Socket& socket, bool connected) {
  if (connected) {
    const linger abort{1, 0};
    try {
      socket.setsockopt(SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    } catch (const SocketError&) {
      // The peer reset it first: there is nothing left to abort, close as usual.
    }
  }
  socket.close();
}

class Scanner {
 public:
  Scanner(const std::vector<Address>& targets, const ProbeOptions& options)
      : targets_(targets), options_(options), results_(targets.size()) {
    limit_ = options.concurrency > 0 ? options.concurrency : default_concurrency();
    for (std::size_t i = 0; i < targets.size(); ++i) results_[i].target = targets[i];
  }

  std::vector<ProbeResult> run() {
    while (more_to_launch() || !slots_.empty()) {
      launch_some();
      if (!slots_.empty()) poll_round();
    }
    for (Socket& socket : idle_) socket.close();
    return std::move(results_);
  }

 private:
  struct Slot {
    Socket socket;
    std::size_t target = 0;
    Clock::time_point sent;
    bool done = false;
  };

  bool more_to_launch() const { return next_ < targets_.size() || !retry_.empty(); }
  // Idle sockets are reused before new ones are made, so descriptors in use stay at most
  // limit_: in flight + idle <= limit_ holds because every idle socket was once in flight.
  bool can_launch() const { return more_to_launch() && slots_.size() < limit_; }

  // Launches a chunk, then polls: with few probes in flight (loopback answers at once) the
  // chunk is small and RTTs stay honest; with many pending (a remote host that drops SYNs)
  // it grows with them, so each O(n) poll call is paid for by many launches.
  void launch_some() {
    const std::size_t chunk = std::max<std::size_t>(64, slots_.size() / 8);
    for (std::size_t n = 0; n < chunk && can_launch(); ++n) {
      std::size_t index = next_;
      if (!retry_.empty()) {
        index = retry_.front();
        retry_.pop_front();
      } else {
        ++next_;
      }
      launch(index);
    }
  }

  void launch(std::size_t index) {
    const Address& to = targets_[index];
    Socket socket = reusable(to.family());
    if (!socket) {
      try {
        socket = Socket(to.family(), options_.udp ? SOCK_DGRAM : SOCK_STREAM);  // step 1
      } catch (const SocketError& e) {
        if (!postpone(index, e.error_number())) throw;
        return;
      }
      socket.setblocking(false);  // step 2
    }
    const Clock::time_point sent = Clock::now();
    const int err = socket.connect_ex(to);  // step 3: EINPROGRESS, the SYN is on its way
    if (err == EINPROGRESS) return pend(std::move(socket), index, sent, POLLOUT);
    if (err != 0 && postpone(index, err)) return;
    if (err == 0 && options_.udp) return send_datagram(std::move(socket), index, sent);
    // Answered at once: refused, unreachable, or (rarely) connected without waiting.
    Slot slot{std::move(socket), index, sent};
    if (err == 0) return connected(slot, Clock::now());
    record(index, err, Clock::now() - sent);
    refused(slot.socket, err);
  }

  // A socket whose connect failed holds no connection and no local port any more. Instead
  // of close() and a new socket() + setblocking(False) for the next port, connect(2) to an
  // AF_UNSPEC address dissolves what is left (Linux: tcp_disconnect, see connect(2)), and
  // the same descriptor connects again. One syscall instead of three, and no socket
  // allocated and freed per port: on a 65535-port loopback scan it saves about a third of
  // the time. Only refused (and unreachable) probes are recycled this way; connected ones
  // are reset and closed, timed-out ones closed.
  void refused(Socket& socket, int err) {
    const bool room = idle_.size() + slots_.size() < limit_;
    if (options_.udp || !room || !recyclable(err) || socket.connect_ex(unspecified()) != 0) {
      return close_probe(socket, false);
    }
    if (!explained_ && trace::enabled()) {
      trace::emit(
          "# connect(AF_UNSPEC) dissolved the refused attempt: this socket is reused for "
          "the next port, instead of close() + socket() + setblocking(False)");
      explained_ = true;
    }
    idle_.push_back(std::move(socket));
  }

  static bool recyclable(int err) {
    return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH;
  }

  static const Address& unspecified() {
    static const Address unspec = [] {
      sockaddr sa{};
      sa.sa_family = AF_UNSPEC;
      return Address::from_sockaddr(&sa, sizeof sa);
    }();
    return unspec;
  }

  // An idle socket of this family, or an empty Socket.
  Socket reusable(int family) {
    for (std::size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].family() != family) continue;
      Socket socket = std::move(idle_[i]);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      return socket;
    }
    return Socket();
  }

  // A resource of ours ran out (descriptors, local ports): retry once a probe in flight has
  // ended, and keep fewer in flight from now on. With nothing in flight it is an error.
  bool postpone(std::size_t index, int err) {
    if (!out_of_resources(err) || slots_.empty()) return false;
    retry_.push_back(index);
    limit_ = slots_.size();
    return true;
  }

  // UDP: connect only set the peer; an empty datagram is the probe itself.
  void send_datagram(Socket socket, std::size_t index, Clock::time_point sent) {
    try {
      socket.send("");
    } catch (const SocketError& e) {
      record(index, e.error_number(), Clock::now() - sent);
      return;
    }
    pend(std::move(socket), index, sent, POLLIN);
  }

  void pend(Socket socket, std::size_t index, Clock::time_point sent, short events) {
    fds_.push_back(pollfd{socket.fileno(), events, 0});
    slots_.push_back(Slot{std::move(socket), index, sent});
  }

  void record(std::size_t index, int err, std::optional<Clock::duration> rtt) {
    ProbeResult& r = results_[index];
    r.err = err;
    r.state = options_.udp ? udp_state(err, false) : tcp_state(err);
    if (rtt) r.rtt_ms = std::chrono::duration<double, std::milli>(*rtt).count();
  }

  // Step 4: one poll(2) for every probe in flight.
  void poll_round() {
    const int ms = can_launch() ? 0 : ms_to_first_deadline();
    trace::Call t(
        "poll", fmt::format("{} fds, {}, {}", fds_.size(), options_.udp ? "POLLIN" : "POLLOUT", ms),
        fmt::format("p.poll({})", ms));
    const int ready = ::poll(fds_.data(), fds_.size(), ms);
    if (ready < 0) {
      const int err = errno;
      t.fail(err);
      if (err == EINTR) return;  // a signal: poll again with the deadlines as they are
      throw_socket_error("poll", {}, err);
    }
    t.ok(std::to_string(ready));
    const Clock::time_point now = Clock::now();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].done) continue;  // ended by another probe's cross-connect this round
      if (fds_[i].revents != 0) {
        answered(i, now);
      } else if (now - slots_[i].sent >= timeout()) {
        expired(slots_[i]);
      }
    }
    sweep();
  }

  Clock::duration timeout() const {
    return std::chrono::duration_cast<Clock::duration>(options_.timeout);
  }

  // Probes are launched in order and sweep() keeps that order: the first is the oldest.
  int ms_to_first_deadline() const {
    const double left = ms_between(Clock::now(), slots_.front().sent + timeout());
    return left <= 0 ? 0 : static_cast<int>(std::min(std::ceil(left), 1e9));
  }

  void answered(std::size_t i, Clock::time_point now) {
    Slot& slot = slots_[i];
    if (options_.udp) return udp_answered(slot, now);
    const ConnectAnswer answer = connect_result(slot.socket);  // step 5: SO_ERROR
    if (answer.err != 0) {
      record(slot.target, answer.err, now - slot.sent);
      refused(slot.socket, answer.err);
      slot.done = true;
      return;
    }
    connected(slot, now, answer);
  }

  void connected(Slot& slot, Clock::time_point now) {
    connected(slot, now, connect_result(slot.socket));
  }

  // Connected: open, unless the socket reached itself or another of our probes.
  void connected(Slot& slot, Clock::time_point now, const ConnectAnswer& answer) {
    ProbeResult& r = results_[slot.target];
    record(slot.target, answer.err, now - slot.sent);
    if (answer.self_connect()) {
      trace::emit(fmt::format("# {} connected to itself (TCP simultaneous open): closed",
                              answer.local.to_string()));
      mark_self_connected(r);
    } else if (answer.err == 0) {
      end_cross_connect(slot, answer, now);
    }
    close_probe(slot.socket, answer.err == 0);
    slot.done = true;
  }

  static void mark_self_connected(ProbeResult& r) {
    r.state = PortState::closed;
    r.err = ECONNREFUSED;  // what a connect without the accident would have said
    r.self_connect = true;
  }

  // A connection to our own address whose local end is the target of another probe still
  // in flight: the two probes' SYNs crossed and connected them to each other.
  void end_cross_connect(Slot& slot, const ConnectAnswer& answer, Clock::time_point now) {
    if (answer.local.host() != answer.peer.host()) return;
    for (Slot& other : slots_) {
      if (other.done || &other == &slot || !(targets_[other.target] == answer.local)) continue;
      Address other_local;
      try {
        other_local = other.socket.getsockname();
      } catch (const SocketError&) {
        continue;
      }
      if (!is_cross_connect(answer.local, answer.peer, other_local, answer.local)) continue;
      trace::emit(fmt::format("# {} and {} connected to each other (crossed SYNs): closed",
                              answer.local.to_string(), answer.peer.to_string()));
      mark_self_connected(results_[slot.target]);
      record(other.target, 0, now - other.sent);
      mark_self_connected(results_[other.target]);
      close_probe(other.socket, true);
      other.done = true;
    }
  }

  // UDP: a datagram back is open; an ICMP port unreachable makes recv fail ECONNREFUSED.
  void udp_answered(Slot& slot, Clock::time_point now) {
    char byte = 0;
    try {
      slot.socket.recv(&byte, 1);
    } catch (const WouldBlockError&) {
      return;  // woken for nothing: keep waiting
    } catch (const SocketError& e) {
      record(slot.target, e.error_number(), now - slot.sent);
      close_probe(slot.socket, false);
      slot.done = true;
      return;
    }
    record(slot.target, 0, now - slot.sent);
    ProbeResult& r = results_[slot.target];
    r.state = udp_state(0, true);
    close_probe(slot.socket, false);
    slot.done = true;
  }

  void expired(Slot& slot) {
    record(slot.target, ETIMEDOUT, std::nullopt);
    if (trace::enabled()) {
      trace::emit(fmt::format("# {} no answer after {:g} s", targets_[slot.target].to_string(),
                              options_.timeout.count()));
    }
    close_probe(slot.socket, false);
    slot.done = true;
  }

  // Drops the finished probes, keeping slots_ and fds_ side by side.
  void sweep() {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].done) continue;
      if (kept != i) {
        slots_[kept] = std::move(slots_[i]);
        fds_[kept] = fds_[i];
      }
      ++kept;
    }
    slots_.resize(kept);
    fds_.resize(kept);
  }

  const std::vector<Address>& targets_;
  ProbeOptions options_;
  std::vector<ProbeResult> results_;
  std::vector<Slot> slots_;  // probes in flight; fds_[i] is slots_[i]'s descriptor
  std::vector<pollfd> fds_;
  bool explained_ = false;         // the recycling was explained in the trace once
  std::vector<Socket> idle_;       // refused probes' sockets, dissolved, ready for another port
  std::size_t next_ = 0;           // next target never tried
  std::deque<std::size_t> retry_;  // targets postponed for lack of a descriptor or port
  std::size_t limit_ = 1;          // probes in flight at most
};

}  // namespace

Address with_port(const Address& host, std::uint16_t port) {
  sockaddr_storage sa{};
  std::memcpy(&sa, host.data(), std::min<std::size_t>(host.size(), sizeof sa));
  if (host.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&sa)->sin_port = htons(port);
  if (host.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port = htons(port);
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), host.size());
}

bool same_host(const Address& a, const Address& b) {
  return with_port(a, 0) == with_port(b, 0);
}

std::size_t default_concurrency() {
  const std::size_t fds = raise_descriptor_limit();  // core/listener
  constexpr std::size_t kReserved = 32;              // stdin/out/err, a resolver's socket, a log...
  return fds > kReserved * 2 ? fds - kReserved : std::max<std::size_t>(fds / 2, 1);
}

std::vector<ProbeResult> probe(const std::vector<Address>& targets, const ProbeOptions& options) {
  if (options.timeout.count() <= 0) throw UsageError("timeout must be > 0");
  return Scanner(targets, options).run();
}

ConnectAnswer connect_result(const Socket& socket) {
  ConnectAnswer answer;
  answer.err = socket.getsockopt(SOL_SOCKET, SO_ERROR);
  if (answer.err != 0) return answer;
  try {
    answer.local = socket.getsockname();
    answer.peer = socket.getpeername();
  } catch (const SocketError& e) {
    answer.err = e.error_number();  // ENOTCONN: reset between the handshake and now
  }
  return answer;
}

}  // namespace sockchat
