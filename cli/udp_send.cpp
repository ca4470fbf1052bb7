// udp-send — a UDP sender: socket → sendto, and with --reply a ping: sendto → recvfrom.
//
// UDP sends datagrams, not a stream: each sendto is one message that arrives whole, or not
// at all, and nothing tells the sender which. The MESSAGE words (joined by spaces) make one
// datagram, sent --count times; with no MESSAGE and no --count each line of stdin is one
// datagram. HOST may carry the port, as connect's does (127.0.0.1:9000). --seq puts a sequence
// number and the send time in front (core/udp_seq.hpp), so the receiver can count losses. --reply
// waits for each echo (from `udp-recv --echo`) and prints the round trip, like ping. When many
// datagrams go out back to back (--count N, no --interval, no --reply) they are sent 64 at a time
// with sendmmsg (core/batch.hpp). Read: udp(7), sendto(2), sendmmsg(2), ip(7) (IP_TTL), socket(7)
// (SO_BROADCAST).
#include <poll.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/udp_common.hpp"
#include "core/address.hpp"
#include "core/batch.hpp"
#include "core/error.hpp"
#include "core/multicast.hpp"
#include "core/signals.hpp"
#include "core/text.hpp"
#include "core/udp_seq.hpp"

namespace sockchat::cli {

namespace {

struct UdpSendOptions {
  std::string host;
  std::string port;
  bool port_given = false;  // a second word came (PORT, or MESSAGE after HOST:PORT)
  std::vector<std::string> words;
  std::optional<std::uint64_t> count;
  double interval = 0;
  std::optional<std::size_t> size;
  bool broadcast = false;
  std::optional<int> ttl;
  bool seq = false;
  bool reply = false;
  double timeout = 1.0;  // per reply
  std::string source;
};

// A size the kernel would refuse is a usage error, found before anything is sent.
void check_size(const UdpSendOptions& o, int family) {
  if (!o.size) return;
  const std::size_t max = max_datagram(family);
  if (*o.size > max) {
    throw UsageError(
        fmt::format("--size {} is too large: a UDP datagram carries at most {} bytes "
                    "over {}",
                    *o.size, max, family == AF_INET6 ? "IPv6" : "IPv4"));
  }
  if (o.seq && *o.size < udp_seq::header_size) {
    throw UsageError(fmt::format("--size {} is too small for --seq's {}-byte header", *o.size,
                                 udp_seq::header_size));
  }
}

Socket open_socket(const UdpSendOptions& o, const Address& to) {
  Socket s(to.family(), SOCK_DGRAM);
  if (o.broadcast) allow_broadcast(s);
  if (o.ttl) set_ttl(s, to.family(), *o.ttl);
  // Like nc -s: the source address. Binding 127.0.0.1 also sends multicast out of the loopback.
  if (!o.source.empty()) s.bind(udp_address(o.source, "0", true));
  // connect on a UDP socket sends nothing: it fixes the peer, so the kernel drops datagrams
  // from anyone else and reports an ICMP "port unreachable" as ECONNREFUSED on our recvfrom.
  // Not for broadcast or multicast, whose replies come from other addresses.
  if (o.reply && !o.broadcast && !is_multicast(to)) s.connect(to);
  if (o.reply) s.settimeout(std::chrono::duration<double>(o.timeout));
  return s;
}

class Sender {
 public:
  Sender(Socket& s, const Address& to, const UdpSendOptions& o, StopSignals& stop)
      : s_(s), to_(to), o_(o), stop_(stop) {}
  void send_one(std::string_view text);
  void blast(std::string_view text, std::uint64_t n);  // n datagrams as fast as we can
  int finish() const;                                  // the summary and the exit status

 private:
  std::string_view make(std::string_view text);
  void sendto(std::string_view datagram);
  void await_reply(std::uint32_t seq, double sent_s);

  Socket& s_;
  Address to_;
  const UdpSendOptions& o_;
  StopSignals& stop_;
  std::string datagram_;  // reused: no allocation per datagram
  std::uint32_t seq_ = 0;
  std::uint64_t sent_ = 0, bytes_ = 0;
  double first_s_ = 0, last_s_ = 0;
  udp_seq::RoundTrips pings_;
};

// The datagram: the --seq header, the text, and with --size padding ('.') or a cut.
std::string_view Sender::make(std::string_view text) {
  datagram_.clear();
  if (o_.seq) {
    datagram_.resize(udp_seq::header_size);
    udp_seq::encode({seq_, wall_ns()}, datagram_.data());
  }
  datagram_ += text;
  if (o_.size) datagram_.resize(*o_.size, '.');
  ++seq_;
  return datagram_;
}

void Sender::sendto(std::string_view datagram) {
  if (sent_ == 0) first_s_ = mono_s();
  try {
    s_.sendto(datagram, to_);
  } catch (const SocketError& e) {
    explain_udp_error(e, to_.family());
  }
  ++sent_;
  bytes_ += datagram.size();
  last_s_ = mono_s();
}

void Sender::send_one(std::string_view text) {
  const std::uint32_t seq = seq_;
  const std::string_view datagram = make(text);
  // The clock starts before sendto: on loopback the echo may be queued before sendto returns.
  const double start = mono_s();
  sendto(datagram);
  if (!o_.reply) return;
  pings_.sent();
  await_reply(seq, start);
}

// Each wait is bounded by --timeout; a late echo of an earlier datagram (its --seq number
// tells) is skipped, and we wait again for ours. poll(2) waits for the echo and for Ctrl-C
// together; recvfrom then takes the echo without waiting.
void Sender::await_reply(std::uint32_t seq, double sent_s) {
  std::vector<char> buffer(64 * 1024);
  pollfd readable{s_.fileno(), POLLIN, 0};
  for (;;) {
    const int ready = stop_.poll(&readable, 1, Deadline(Timeout(o_.timeout)));
    if (ready < 0) return;  // Ctrl-C: the statistics so far
    if (ready == 0) {
      // Worded as every timeout is (docs/errors.md): CALL ADDRESS: timed out after S s.
      emit({{"event", "no_reply"}, {"seq", seq}, {"timeout_s", o_.timeout}},
           fmt::format("recvfrom {}: timed out after {:g} s (no reply to seq={})", to_.to_string(),
                       o_.timeout, seq));
      return;
    }
    Datagram d;
    try {
      d = s_.recvfrom(buffer.data(), buffer.size());
    } catch (const SocketError& e) {
      explain_udp_error(e, to_.family());
    }
    const std::string_view data(buffer.data(), d.size);
    const auto header = udp_seq::decode(data);
    if (header && header->seq != seq) continue;
    const double ms = (mono_s() - sent_s) * 1000;
    pings_.replied(ms);
    const std::string_view text = header ? data.substr(udp_seq::header_size) : data;
    emit({{"event", "reply"},
          {"from", d.from.to_string()},
          {"seq", seq},
          {"rtt_ms", ms},
          {"size", d.full_size},
          {"text", std::string(text)}},
         fmt::format("reply from {}: seq={} time={:.3f} ms", d.from.to_string(), seq, ms));
    return;
  }
}

// sendmmsg, 64 datagrams per call: the same datagrams as a loop of sendto, in fewer
// crossings into the kernel (at 64-byte datagrams the call costs more than the copy).
void Sender::blast(std::string_view text, std::uint64_t n) {
  SendBatch batch(s_, to_, 64);
  first_s_ = mono_s();
  for (std::uint64_t i = 0; i < n && !stop_.requested();) {
    for (; i < n && !batch.full(); ++i) {
      batch.add(make(text));
      bytes_ += datagram_.size();
    }
    try {
      sent_ += batch.sendmmsg();
    } catch (const SocketError& e) {
      explain_udp_error(e, to_.family());
    }
  }
  last_s_ = mono_s();
}

int Sender::finish() const {
  const double seconds = last_s_ - first_s_;
  const double rate = seconds > 0 ? static_cast<double>(sent_) / seconds : 0.0;
  nlohmann::json event{{"event", "summary"}, {"to", to_.to_string()}, {"sent", sent_},
                       {"bytes", bytes_},    {"seconds", seconds},    {"rate", rate}};
  std::string human = fmt::format("sent {} ({}) to {}", plural(sent_, "datagram"),
                                  plural(bytes_, "byte"), to_.to_string());
  if (seconds > 0 && sent_ > 1) {
    human += fmt::format(" in {:.3f} s, {:.0f} datagrams/s", seconds, rate);
  }
  if (o_.reply) {
    const udp_seq::Spread& rtt = pings_.rtt();
    event["received"] = pings_.received();
    event["loss_percent"] = pings_.loss_percent();
    event["rtt_ms"] = {{"min", rtt.min()}, {"avg", rtt.avg()}, {"max", rtt.max()}};
    human = fmt::format(
        "--- {} udp-send statistics ---\n{} sent, {} received, {:.1f}% loss\n"
        "rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms",
        to_.to_string(), pings_.transmitted(), pings_.received(), pings_.loss_percent(), rtt.min(),
        rtt.avg(), rtt.max());
  }
  // A single datagram sent quietly, like nc -u; otherwise say what was done.
  emit(event, sent_ > 1 || o_.reply || o_.count ? human : "");
  if (o_.reply && pings_.transmitted() > 0 && pings_.received() == 0) {
    const std::uint64_t n = pings_.transmitted();
    const std::string what =
        n == 1 ? "no reply" : fmt::format("no reply to any of {} datagrams", n);
    if (stop_.requested()) {  // Ctrl-C cut the last wait short: nothing timed out
      error(fmt::format("recvfrom {}: {} before the signal", to_.to_string(), what));
    } else {
      error(fmt::format("recvfrom {}: timed out after {:g} s ({})", to_.to_string(), o_.timeout,
                        what),
            "ETIMEDOUT");
    }
    return 1;  // as ping: no reply at all is a failure
  }
  return 0;
}

// The next line of stdin. Waiting for it, poll(2) also watches for Ctrl-C (a blocked read
// would not see it); a line already buffered is taken at once. False at the end or on Ctrl-C.
bool next_line(StopSignals& stop, std::string& line) {
  if (std::cin.rdbuf()->in_avail() <= 0) {
    pollfd input{STDIN_FILENO, POLLIN, 0};
    if (stop.poll(&input, 1, Deadline(std::nullopt)) < 0) return false;
  }
  return !stop.requested() && static_cast<bool>(std::getline(std::cin, line));
}

std::string join_words(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
  return text;
}

// HOST:PORT in one word, as connect takes it ("127.0.0.1:9000", "[::1]:9000"): then the
// word taken for PORT is the message's first. A bare IPv6 literal (::1) carries no port.
UdpSendOptions with_attached_port(UdpSendOptions o) {
  if (o.host.starts_with("unix:")) return o;  // udp_address explains that one
  auto [host, attached] = split_host_port(o.host);
  if (attached.empty()) {
    if (!o.port_given) throw UsageError("port is required");
    return o;
  }
  if (o.port_given) o.words.insert(o.words.begin(), o.port);
  o.host = host;
  o.port = attached;
  return o;
}

int run_udp_send(const UdpSendOptions& given) {
  const UdpSendOptions o = with_attached_port(given);
  // std::cin keeps its own buffer (not C stdio's), so next_line() can see what it holds.
  std::ios::sync_with_stdio(false);
  const Address to = udp_address(o.host, o.port, false);
  check_size(o, to.family());
  Socket s = open_socket(o, to);
  StopSignals stop;  // Ctrl-C or SIGTERM: the summary, then the exit status
  Sender sender(s, to, o, stop);
  if (!o.words.empty() || o.count) {
    const std::string text = join_words(o.words);
    const std::uint64_t n = o.count.value_or(1);
    if (n > 1 && !o.reply && o.interval == 0) {
      sender.blast(text, n);
    } else {
      for (std::uint64_t i = 0; i < n && !stop.requested(); ++i) {
        if (i > 0 && stop.sleep(o.interval)) break;  // the pause, cut short by Ctrl-C
        sender.send_one(text);
      }
    }
  } else {
    std::string line;  // one datagram per line, without its newline
    for (bool first = true; next_line(stop, line); first = false) {
      if (!first && stop.sleep(o.interval)) break;
      sender.send_one(line);
    }
  }
  return sender.finish();
}

}  // namespace

void setup_udp_send(CLI::App& app) {
  auto* sub =
      app.add_subcommand("udp-send", "send UDP datagrams (sendto), optionally waiting for echoes");
  auto o = std::make_shared<UdpSendOptions>();
  sub->add_option("host", o->host,
                  "destination: an IPv4 or IPv6 address, a host name, or HOST:PORT")
      ->required();
  sub->add_option("port", o->port, "destination port: 1-65535 or a service name")
      ->each([o](const std::string&) { o->port_given = true; });
  sub->add_option("message", o->words, "words sent as one datagram (default: each stdin line)");
  sub->add_option("--count", o->count, "send N datagrams")->check(count_check());
  sub->add_option("--interval", o->interval, "seconds between datagrams")
      ->check(seconds_check(false));
  sub->add_option("--size", o->size, "make every datagram exactly BYTES long (pad or cut)")
      ->check(bytes_check());
  sub->add_flag("--broadcast", o->broadcast, "allow a broadcast destination (SO_BROADCAST)");
  sub->add_option("--ttl", o->ttl, "hops the datagram may make (IP_TTL, IP_MULTICAST_TTL)")
      ->check(CLI::Range(0, 255));
  sub->add_flag("--seq", o->seq, "put a sequence number and the send time in each datagram");
  sub->add_flag("--reply", o->reply, "wait for each echo and print the round trip, like ping");
  sub->add_option("--timeout", o->timeout, "seconds to wait for each reply (default 1)")
      ->check(seconds_check(true));
  // An empty ADDR ("$SRC" unset) is refused, as nc -s '' is, rather than not binding.
  sub->add_option("-s,--source", o->source, "source address to bind, like nc -s")
      ->check(not_empty("an address", "ADDR"));
  sub->callback([o] { exit_code() = guarded([&] { return run_udp_send(*o); }); });
}

}  // namespace sockchat::cli
