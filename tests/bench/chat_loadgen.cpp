// chat_loadgen.cpp — a load generator for group chat servers: sockchat serve-group,
// ncat --chat, the tutorial's Python server.
//
// It shows the other side of a chat server: N clients on ONE thread, each a nonblocking
// socket (settimeout(0)), all watched by one epoll. Three phases:
//   1. join     connect N clients, at most --window of them in flight at a time. A client
//               has joined when it is connected AND the server has sent it something (its
//               welcome or a join notice): that proves the server accepted it. Servers that
//               greet nobody (the tutorial's) need --no-greeting.
//   2. sync     client 0 says "@S <nonce>" (again every second) until every other client
//               has heard it: the server now knows everyone, and the join traffic is over.
//   3. measure  S senders send M lines "@L <run> <sender> <seq> <ns>": all at once (burst,
//               built before the clock starts) or R a second each, one line per write
//               (paced); --mode both does paced, then burst, on the same clients. Everyone
//               reads all the time, so no queue fills up because of us.
// Then one summary line: deliveries/s, latency percentiles, completeness, and the server's
// CPU time and memory (from /proc/PID when --server-pid is given).
// With --ssl every client speaks TLS (core's TlsStream, OpenSSL): after connect() its
// handshake runs one nonblocking step per readiness in the same loop (WANT_READ /
// WANT_WRITE pick what epoll waits for), then SSL_read / SSL_write replace recv / send.
// Read: epoll(7), connect(2) (EINPROGRESS), getrlimit(2), proc(5), SSL_get_error(3ssl).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/socket.hpp"
#include "core/tls_context.hpp"
#include "core/tls_stream.hpp"
#include "loadgen_ledger.hpp"

namespace sockchat::bench {
namespace {

constexpr Nanos kSecond = 1'000'000'000;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int clients = 10;
  int senders = 0;  // 0: every client sends
  int lines = 10;
  int burst_senders = -1;  // burst mode's own S and M (with --mode both); -1: as above
  int burst_lines = -1;
  std::string mode = "burst";  // burst | paced | both
  double rate = 10;            // lines per second per sender, paced mode
  // Each line is padded to this size, '\n' included: about what a chat line and the
  // earlier, unpadded "@L" lines were. Not 32: lines that divide ncat's reads (8 KiB) would
  // never be cut by its prefix, which real lines of varying length are.
  int line_bytes = 31;
  int window = 8;        // connects in flight: keep it below the listen backlog
  bool greeting = true;  // the server sends something to each new client
  pid_t server_pid = 0;
  double deadline = 60;  // seconds, for everything
  double quiet = 1;      // seconds without news after the last send: the rest is missing
  bool json = false;
  bool ssl = false;  // TLS clients (no certificate verification: see tls_context())
  std::string label;
};

// The setup did not work: not every client could join. Exit status 1.
// The senders (S) and lines per sender (M) of one measurement.
std::pair<int, int> shape(const Options& o, bool burst) {
  const int s = burst && o.burst_senders >= 0 ? o.burst_senders : o.senders;
  const int m = burst && o.burst_lines > 0 ? o.burst_lines : o.lines;
  return {s > 0 ? s : o.clients, m};
}

struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One chat client of the crowd.
struct Client {
  Socket sock;
  std::unique_ptr<TlsStream> tls;  // --ssl: the TLS session over `sock`
  int fd = -1;
  bool connected = false;
  bool handshaking = false;  // --ssl: connected, TLS handshake not finished
  bool joined = false;
  bool synced = false;
  bool closed = false;
  std::uint32_t watching = 0;  // the events epoll watches for it now
  std::string inbox;           // the start of a line whose '\n' has not arrived yet
  std::string outbox;          // what to send; send() has taken its first `sent` bytes
  std::size_t sent = 0;        // (an offset, not erase(): a burst's outbox is megabytes)
  std::string_view unsent() const { return std::string_view(outbox).substr(sent); }

  // The transport: recv(2)/send(2) on the socket, or SSL_read/SSL_write over it. Both
  // throw WouldBlockError when there is nothing to do now.
  std::size_t recv(char* buffer, std::size_t size) {
    return tls ? tls->recv(buffer, size) : sock.recv(buffer, size);
  }
  std::size_t send(std::string_view data) { return tls ? tls->send(data) : sock.send(data); }
  // What epoll must watch: always input; output while the outbox waits, or while TLS
  // needs the socket writable to finish a read (SSL_ERROR_WANT_WRITE from SSL_read).
  std::uint32_t events() const {
    const bool out = !unsent().empty() || (tls && tls->recv_events() == POLLOUT);
    return out ? EPOLLIN | EPOLLOUT : EPOLLIN;
  }
};

// The smallest epoll wrapper that still reads well: one descriptor, add/modify/remove, wait.
class Epoll {
 public:
  Epoll() : fd_(check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")) {}
  ~Epoll() { ::close(fd_); }
  Epoll(const Epoll&) = delete;
  Epoll& operator=(const Epoll&) = delete;

  void add(int fd, std::uint32_t events, int id) { control(EPOLL_CTL_ADD, fd, events, id); }
  void modify(int fd, std::uint32_t events, int id) { control(EPOLL_CTL_MOD, fd, events, id); }
  void remove(int fd) { ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }
  // epoll_wait(2): at most timeout_ms; the ready descriptors' events.
  std::span<const epoll_event> wait(int timeout_ms) {
    int n = ::epoll_wait(fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0 && errno == EINTR) n = 0;
    check(n, "epoll_wait");
    return {events_.data(), static_cast<std::size_t>(n)};
  }

 private:
  void control(int op, int fd, std::uint32_t events, int id) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<std::uint64_t>(id);  // which client: an index into the crowd
    check(::epoll_ctl(fd_, op, fd, &ev), "epoll_ctl");
  }
  int fd_;
  std::array<epoll_event, 1024> events_{};
};

// getrusage(2): this process's CPU time so far (user + system).
double own_cpu_seconds() {
  rusage u{};
  check(::getrusage(RUSAGE_SELF, &u), "getrusage");
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// The 1-minute load average (proc(5), /proc/loadavg): how busy the machine was.
double load_average() {
  double load = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  return load;
}

// --ssl: a client context that verifies nothing. A benchmark measures the servers, which
// both present the same self-signed certificate; whom to trust is not its question, and
// checking a chain would only add the load generator's CPU time to every handshake.
TlsContext tls_context() {
  TlsClientOptions options;
  options.no_verify = true;
  return TlsContext::client(options);
}

class LoadGen {
 public:
  explicit LoadGen(const Options& o);
  void join_all();
  void sync();
  void measure(const std::string& mode);
  void report() const;

 private:
  enum class Phase { join, sync, measure };

  void start_connect();
  void poll_until(Nanos until);
  void on_event(int id, std::uint32_t events);
  void finish_connect(Client& c, int id);
  void continue_handshake(Client& c, int id);
  void watch(Client& c, int id, std::uint32_t events);
  void on_readable(Client& c, int id);
  void on_line(int id, std::string_view line, Nanos now);
  std::vector<std::string> build_bursts() const;
  void queue_send(int id, std::string bytes);
  void flush(Client& c, int id);
  void lost(Client& c, int id, const std::string& why);
  void mark_joined(Client& c);
  int senders() const { return senders_; }
  std::size_t line_bytes() const { return static_cast<std::size_t>(o_.line_bytes); }

  Options o_;
  Address server_;
  std::optional<TlsContext> tls_;  // --ssl
  Epoll epoll_;
  std::vector<Client> clients_;
  Ledger ledger_;
  std::string mode_;  // of the measurement under way, and its S and M
  int senders_ = 0, lines_ = 0;
  int run_ = 0;  // which measurement: 1, 2, ... (the lines carry it)
  Phase phase_ = Phase::join;
  int started_ = 0, joined_ = 0, synced_ = 0, disconnects_ = 0;
  std::string nonce_;
  Nanos begin_ = now_ns(), deadline_, join_end_ = 0, setup_end_ = 0, start_ = 0, end_ = 0,
        last_send_ = 0;
  std::optional<ProcSample> before_, after_;
  double ksoftirqd_s_ = 0;  // the kernel's softirq threads, during the measurement
  double own_cpu_s_ = 0;    // ours, during the measurement: near 1 s/s means WE were the limit
  double loadavg_ = 0;      // the machine's, when the measurement began
  KernelLoss loss_;         // packets the kernel dropped and TCP resent, during it
  bool timed_out_ = false;
};

LoadGen::LoadGen(const Options& o)
    : o_(o),
      server_(Address::resolve(o.host, o.port).front()),
      tls_(o.ssl ? std::optional(tls_context()) : std::nullopt),
      clients_(static_cast<std::size_t>(o.clients)),
      ledger_(o.clients, 1, 1),  // measure() makes the real one
      deadline_(begin_ + static_cast<Nanos>(o.deadline * kSecond)) {}

// --- phase 1: join ------------------------------------------------------------------

void LoadGen::join_all() {
  while (joined_ < o_.clients) {
    // Pace the connects by what the server has accepted: a listen backlog overflows
    // (SYNs are dropped and retried a second later) if we connect faster than it accepts.
    while (started_ < o_.clients && started_ - joined_ < o_.window) start_connect();
    if (now_ns() > deadline_) {
      throw SetupError(fmt::format("only {} of {} clients joined within {:g} s", joined_,
                                   o_.clients, o_.deadline));
    }
    poll_until(deadline_);
  }
  join_end_ = now_ns();
}

void LoadGen::start_connect() {
  const int id = started_++;
  Client& c = clients_[static_cast<std::size_t>(id)];
  c.sock = Socket(server_.family(), SOCK_STREAM);
  c.sock.settimeout(std::chrono::seconds(0));  // nonblocking: connect returns EINPROGRESS
  // Our own lines must not wait for Nagle: we measure the server's delays, not ours.
  c.sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  c.fd = c.sock.fileno();
  const int err = c.sock.connect_ex(server_);
  if (err != 0 && err != EINPROGRESS) throw SocketError("connect", server_.to_string(), err);
  c.watching = EPOLLIN | EPOLLOUT;  // writable = TCP's handshake is over
  epoll_.add(c.fd, c.watching, id);
}

void LoadGen::finish_connect(Client& c, int id) {
  const int err = c.sock.getsockopt(SOL_SOCKET, SO_ERROR);  // how the connect ended
  if (err != 0) {
    throw SetupError(fmt::format("client {} of {}: connect {}: {}", id + 1, o_.clients,
                                 server_.to_string(), errno_text(err)));
  }
  c.connected = true;
  if (tls_) {  // TLS's handshake comes next: on_event steps it
    c.tls = std::make_unique<TlsStream>(TlsStream::client(*tls_, c.sock, "", server_.to_string()));
    c.handshaking = true;
    return;
  }
  watch(c, id, EPOLLIN);
  if (!o_.greeting) mark_joined(c);
}

// --ssl: one nonblocking step of a client's TLS handshake (SSL_connect); epoll then waits
// for what OpenSSL asked for. A failed handshake fails the setup, as a refused connect does.
void LoadGen::continue_handshake(Client& c, int id) {
  std::optional<short> wait_for;
  try {
    wait_for = c.tls->try_handshake();
  } catch (const SocketError& e) {  // TlsError too
    return lost(c, id, e.what());
  }
  if (wait_for) return watch(c, id, *wait_for == POLLOUT ? EPOLLOUT : EPOLLIN);
  c.handshaking = false;
  watch(c, id, c.events());
  if (!o_.greeting) mark_joined(c);
}

void LoadGen::mark_joined(Client& c) {
  if (c.joined) return;
  c.joined = true;
  ++joined_;
}

// --- phase 2: sync ------------------------------------------------------------------

void LoadGen::sync() {
  phase_ = Phase::sync;
  nonce_ = fmt::format("@S {}", now_ns());
  Nanos next_say = 0;
  while (synced_ < o_.clients - 1) {
    const Nanos now = now_ns();
    if (now > deadline_) {
      throw SetupError(fmt::format("only {} of {} clients heard client 1 within {:g} s", synced_,
                                   o_.clients - 1, o_.deadline));
    }
    if (now >= next_say) {  // again every second, for a server that was still accepting
      queue_send(0, nonce_ + "\n");
      next_say = now + kSecond;
    }
    poll_until(std::min(next_say, deadline_));
  }
  setup_end_ = now_ns();
}

// --- phase 3: measure ---------------------------------------------------------------

void LoadGen::measure(const std::string& mode) {
  phase_ = Phase::measure;
  mode_ = mode;
  std::tie(senders_, lines_) = shape(o_, mode == "burst");
  ++run_;
  ledger_ = Ledger(o_.clients, senders_, lines_);
  const bool paced = mode == "paced";
  // Built before the clock starts: writing a million lines is our work, not the server's.
  std::vector<std::string> bursts = paced ? std::vector<std::string>() : build_bursts();
  if (o_.server_pid > 0) {
    before_ = sample_process(o_.server_pid);
    if (!before_) throw SetupError(fmt::format("no process {} to measure", o_.server_pid));
  }
  loadavg_ = load_average();
  const double own_cpu_before = own_cpu_seconds();
  const KernelLoss loss_before = sample_kernel_loss();
  const double ksoftirqd_before = ksoftirqd_cpu_seconds();
  const int total = senders() * lines_;
  // Paced: the k-th line overall is due at start + k / (S * R): each sender sends every
  // 1/R seconds, and the senders' start times are spread evenly over that period.
  const double interval = paced ? kSecond / (senders() * o_.rate) : 0;
  const auto due = [&](int k) { return start_ + static_cast<Nanos>(k * interval); };
  start_ = now_ns();
  int sent = 0;
  if (!paced) {
    for (int s = 0; s < senders(); ++s) queue_send(s, std::move(bursts[s]));
    sent = total;
  }
  for (;;) {
    const Nanos now = now_ns();
    for (; sent < total && due(sent) <= now; ++sent) {
      const Payload line{run_, sent % senders(), sent / senders(), now_ns() - start_};
      queue_send(line.sender, format_line(line, line_bytes()));
    }
    if (ledger_.delivered() == ledger_.expected()) break;
    const Nanos news = std::max(last_send_, start_ + ledger_.last_delivery());
    if (sent == total && now - news > static_cast<Nanos>(o_.quiet * kSecond)) break;
    if (now > deadline_) {
      timed_out_ = true;
      break;
    }
    poll_until(std::min(sent < total ? due(sent) : now + kSecond / 10, deadline_));
  }
  end_ = now_ns();
  own_cpu_s_ = own_cpu_seconds() - own_cpu_before;
  loss_ = sample_kernel_loss();
  loss_.backlog_drops -= loss_before.backlog_drops;
  loss_.retransmits -= loss_before.retransmits;
  ksoftirqd_s_ = ksoftirqd_cpu_seconds() - ksoftirqd_before;
  if (o_.server_pid > 0) after_ = sample_process(o_.server_pid);
}

// Burst: each sender's M lines, to go in one write. All are stamped 0, the burst's start:
// a line's latency counts from the moment the burst began, whenever its sender got to write.
std::vector<std::string> LoadGen::build_bursts() const {
  std::vector<std::string> bursts(static_cast<std::size_t>(senders()));
  for (int sender = 0; sender < senders(); ++sender) {
    std::string& burst = bursts[static_cast<std::size_t>(sender)];
    const std::size_t longest = format_line({run_, sender, lines_, 0}, line_bytes()).size();
    burst.reserve(longest * static_cast<std::size_t>(lines_));
    for (int seq = 0; seq < lines_; ++seq) append_line(burst, {run_, sender, seq, 0}, line_bytes());
  }
  return bursts;
}

// --- the event loop, shared by the three phases --------------------------------------

void LoadGen::poll_until(Nanos until) {
  const Nanos left = until - now_ns();
  // Round up: waking a little late is fine (the send stamp is taken when we send), waking
  // early in a loop of zero-timeout waits would just burn the CPU the server needs.
  const int ms =
      left <= 0 ? 0 : static_cast<int>(std::min<Nanos>((left + 999'999) / 1'000'000, 1000));
  for (const epoll_event& ev : epoll_.wait(ms)) on_event(static_cast<int>(ev.data.u64), ev.events);
}

void LoadGen::on_event(int id, std::uint32_t events) {
  Client& c = clients_[static_cast<std::size_t>(id)];
  if (c.closed) return;
  if (!c.connected) finish_connect(c, id);
  if (c.handshaking) return continue_handshake(c, id);
  const bool tls_read_waits = c.tls && c.tls->recv_events() == POLLOUT;  // rare: see events()
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || tls_read_waits) on_readable(c, id);
  if (!c.closed && (events & EPOLLOUT) && !c.unsent().empty()) flush(c, id);
}

void LoadGen::on_readable(Client& c, int id) {
  static char buffer[64 * 1024];
  std::size_t n = 0;
  try {
    n = c.recv(buffer, sizeof buffer);
  } catch (const WouldBlockError&) {
    if (c.tls) watch(c, id, c.events());  // TLS may need the socket writable first
    return;                               // nothing after all
  } catch (const SocketError& e) {
    lost(c, id, e.what());
    return;
  }
  if (n == 0) return lost(c, id, "closed by the server");
  if (c.tls) watch(c, id, c.events());  // a read that waited for EPOLLOUT is done
  const Nanos now = now_ns();           // one receive time for every line of this read
  mark_joined(c);
  std::string_view data(buffer, n);
  auto nl = data.find('\n');
  if (!c.inbox.empty()) {  // first finish the line the last read cut off
    c.inbox.append(data.substr(0, nl));
    if (nl == data.npos) return;
    on_line(id, c.inbox, now);
    c.inbox.clear();
    data.remove_prefix(nl + 1);
    nl = data.find('\n');
  }
  for (; nl != data.npos; nl = data.find('\n')) {
    on_line(id, data.substr(0, nl), now);
    data.remove_prefix(nl + 1);
  }
  // What follows the last '\n' waits for the rest of its line (within reason).
  if (c.inbox.size() + data.size() <= 64 * 1024) c.inbox.append(data);
}

void LoadGen::on_line(int id, std::string_view line, Nanos now) {
  Client& c = clients_[static_cast<std::size_t>(id)];
  if (phase_ == Phase::sync && id != 0 && !c.synced && line.find(nonce_) != line.npos) {
    c.synced = true;
    ++synced_;
  }
  if (phase_ != Phase::measure) return;  // join notices, welcomes: before the clock
  Payload p;
  switch (parse_line(line, p)) {
    case Parsed::ok:
      // A line of an earlier measurement, arriving late, is not one of ours.
      if (p.run == run_) ledger_.record(id, p, now - start_);
      break;
    case Parsed::garbled:
      ledger_.garbled();
      break;
    case Parsed::none:
      break;
  }
}

void LoadGen::queue_send(int id, std::string bytes) {
  Client& c = clients_[static_cast<std::size_t>(id)];
  if (c.closed) return;
  if (c.outbox.empty()) {
    c.outbox = std::move(bytes);  // a burst's megabytes are not copied again
  } else {
    c.outbox += bytes;
  }
  if (!(c.watching & EPOLLOUT)) flush(c, id);  // nothing was waiting: try at once
  last_send_ = now_ns();
}

void LoadGen::flush(Client& c, int id) {
  try {
    c.sent += c.send(c.unsent());
    if (c.sent == c.outbox.size()) {
      c.outbox.clear();
      c.sent = 0;
    }
  } catch (const WouldBlockError&) {
    // The send buffer is full: wait for EPOLLOUT.
  } catch (const SocketError& e) {
    return lost(c, id, e.what());
  }
  watch(c, id, c.events());
}

void LoadGen::watch(Client& c, int id, std::uint32_t events) {
  if (events == c.watching) return;
  epoll_.modify(c.fd, events, id);
  c.watching = events;
}

// A client's connection ended. Before the measurement that is a failed setup (ncat dies at
// its 1,021st client); during it, the client's missing lines will show in the summary.
void LoadGen::lost(Client& c, int id, const std::string& why) {
  if (phase_ != Phase::measure) {
    throw SetupError(
        fmt::format("{} of {} clients joined; client {}: {}", joined_, o_.clients, id + 1, why));
  }
  ++disconnects_;
  c.closed = true;
  epoll_.remove(c.fd);
  c.sock.close();
}

// --- the summary --------------------------------------------------------------------

double ms(Nanos n) {
  return static_cast<double>(n) / 1e6;
}

void LoadGen::report() const {
  const Summary s = ledger_.summarize();
  const Nanos busy = s.delivered > 0 ? s.last_delivery : 0;  // since the start
  const double rate = busy > 0 ? static_cast<double>(s.delivered) * kSecond / busy : 0;
  nlohmann::json j = {{"label", o_.label},
                      {"mode", mode_},
                      {"clients", o_.clients},
                      {"senders", senders()},
                      {"lines", lines_},
                      {"rate", mode_ == "paced" ? o_.rate : 0.0},
                      {"line_bytes", o_.line_bytes},
                      {"ssl", o_.ssl},
                      {"join_s", ms(join_end_ - begin_) / 1e3},
                      {"setup_s", ms(setup_end_ - begin_) / 1e3},
                      {"duration_s", ms(busy) / 1e3},
                      {"expected", s.expected},
                      {"delivered", s.delivered},
                      {"missing", s.missing()},
                      {"duplicates", s.duplicates},
                      {"reordered", s.reordered},
                      {"garbled", s.garbled},
                      {"echoes", s.echoes},
                      {"disconnects", disconnects_},
                      {"timed_out", timed_out_},
                      {"complete", s.missing() == 0 && s.duplicates == 0 && s.reordered == 0},
                      {"deliveries_per_s", rate},
                      {"p50_ms", ms(s.p50)},
                      {"p99_ms", ms(s.p99)},
                      {"loadgen_cpu_s", own_cpu_s_},
                      {"loadavg", loadavg_},
                      {"backlog_drops", loss_.backlog_drops},
                      {"tcp_retransmits", loss_.retransmits},
                      {"max_ms", ms(s.max)}};
  std::string server;
  if (before_ && after_) {
    const double cpu = after_->cpu_s - before_->cpu_s;
    const double us = s.delivered > 0 ? cpu * 1e6 / static_cast<double>(s.delivered) : 0;
    const double softirq_us =
        s.delivered > 0 ? ksoftirqd_s_ * 1e6 / static_cast<double>(s.delivered) : 0;
    j["server_cpu_s"] = cpu;
    j["cpu_us_per_delivery"] = us;
    j["ksoftirqd_s"] = ksoftirqd_s_;
    j["ksoftirqd_us_per_delivery"] = softirq_us;
    j["rss_mib"] = after_->rss_mib;
    j["hwm_mib"] = after_->hwm_mib;
    server = fmt::format(
        "; server cpu {:.2f} s = {:.2f} us/delivery (+ ksoftirqd {:.2f}), rss {:.1f} MiB", cpu, us,
        softirq_us, after_->rss_mib);
  }
  if (o_.json) {
    std::puts(j.dump().c_str());
    std::fflush(stdout);  // one line per measurement, in order, even into a pipe
    return;
  }
  fmt::print(
      "{}{} N={} S={} M={}: {}/{} delivered (missing {}, dup {}, reordered {}, garbled {}){} "
      "in {:.3f} s = {:.0f} deliveries/s; latency p50 {:.2f} ms p99 {:.2f} ms max {:.2f} ms{}; "
      "loadgen cpu {:.2f} s, load average {:.1f}; kernel: {} backlog drops, {} TCP retransmits\n",
      o_.label.empty() ? "" : o_.label + " ", mode_, o_.clients, senders(), lines_, s.delivered,
      s.expected, s.missing(), s.duplicates, s.reordered, s.garbled, timed_out_ ? " TIMED OUT" : "",
      ms(busy) / 1e3, rate, ms(s.p50), ms(s.p99), ms(s.max), server, own_cpu_s_, loadavg_,
      loss_.backlog_drops, loss_.retransmits);
}

// --- setting up ---------------------------------------------------------------------

// N clients need N descriptors (plus a few): raise the soft limit to the hard one.
void raise_fd_limit(int clients) {
  rlimit lim{};
  check(::getrlimit(RLIMIT_NOFILE, &lim), "getrlimit");
  const rlim_t need = static_cast<rlim_t>(clients) + 32;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
    throw SetupError(fmt::format(
        "{} clients need about {} descriptors, but the hard limit (ulimit -Hn) is {}: raise it "
        "(as root: ulimit -Hn {}; or nofile in /etc/security/limits.conf)",
        clients, need, lim.rlim_max, need));
  }
  if (lim.rlim_cur < need) {
    lim.rlim_cur = lim.rlim_max;
    check(::setrlimit(RLIMIT_NOFILE, &lim), "setrlimit");
  }
}

void validate(const Options& o) {
  if (o.clients < 2) throw UsageError("--clients must be at least 2 (someone must listen)");
  if (o.senders < 0) throw UsageError("--senders must be 0..clients");
  for (const bool burst : {false, true}) {
    const auto [senders, lines] = shape(o, burst);
    if (senders > o.clients) throw UsageError("--senders must be 0..clients");
    if (lines < 1) throw UsageError("--lines must be at least 1");
    if (double(o.clients) * senders * lines > 2e9) {
      throw UsageError("clients x senders x lines is over 2e9: too many deliveries to track");
    }
  }
  if (o.rate <= 0) throw UsageError("--rate must be positive");
  if (o.window < 1) throw UsageError("--window must be at least 1");
  if (o.line_bytes < 0 || o.line_bytes > 65536) throw UsageError("--line-bytes must be 0..65536");
}

int run(const Options& o) {
  validate(o);
  raise_fd_limit(o.clients);
  LoadGen gen(o);
  gen.join_all();
  gen.sync();
  for (const char* mode : {"paced", "burst"}) {
    if (o.mode != mode && o.mode != "both") continue;
    gen.measure(mode);
    gen.report();
  }
  return 0;
}

}  // namespace
}  // namespace sockchat::bench

int main(int argc, char** argv) {
  using namespace sockchat;
  bench::Options o;
  CLI::App app{"chat_loadgen: N chat clients on one epoll loop; measures a group chat server"};
  app.add_option("host", o.host, "server address")->required();
  app.add_option("port", o.port, "server port")->required();
  app.add_option("-n,--clients", o.clients, "clients to connect (N)")->capture_default_str();
  app.add_option("-s,--senders", o.senders, "clients that send (S), 0 = all");
  app.add_option("-m,--lines", o.lines, "lines per sender (M)")->capture_default_str();
  app.add_option("--burst-senders", o.burst_senders, "S for burst mode, if not --senders");
  app.add_option("--burst-lines", o.burst_lines, "M for burst mode, if not --lines");
  app.add_option("--mode", o.mode,
                 "burst: M lines in one write; paced: R lines/s; both: paced, then burst")
      ->check(CLI::IsMember({"burst", "paced", "both"}))
      ->capture_default_str();
  app.add_option("-r,--rate", o.rate, "paced: lines per second per sender")->capture_default_str();
  app.add_option("--line-bytes", o.line_bytes,
                 "pad each line with x's to this many bytes, newline included (0: none)")
      ->capture_default_str();
  app.add_option("--window", o.window, "connects in flight at once")->capture_default_str();
  bool no_greeting = false;
  app.add_flag("--no-greeting", no_greeting,
               "the server sends nothing on join: connected = joined");
  app.add_option("--server-pid", o.server_pid, "measure this process's CPU time and RSS");
  app.add_option("--deadline", o.deadline, "seconds for everything")->capture_default_str();
  app.add_option("--quiet", o.quiet, "seconds without news that end the measurement")
      ->capture_default_str();
  app.add_option("--label", o.label, "a name for the server, echoed in the summary");
  app.add_flag("--json", o.json, "the summary as one JSON object");
  app.add_flag("--ssl", o.ssl, "TLS clients (the server's certificate is not verified)");
  try {
    app.parse(argc, argv);
    o.greeting = !no_greeting;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return bench::run(o);
  } catch (const UsageError& e) {
    fmt::print(stderr, "chat_loadgen: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // SetupError, SocketError: the setup failed
    fmt::print(stderr, "chat_loadgen: {}\n", e.what());
    return 1;
  }
}
