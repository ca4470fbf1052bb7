#include "cli/group_common.hpp"

#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/byte_stream.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/trace.hpp"

namespace sockchat::cli {

// ---------------------------------------------------------------------------------------
// Options and the listening socket.

AccessList GroupOptions::access() const {
  AccessList list;
  for (const auto& text : allow) list.allow.push_back(Cidr::parse(text));
  for (const auto& text : deny) list.deny.push_back(Cidr::parse(text));
  return list;
}

static Address listen_address(const GroupOptions& options) {
  if (options.unix_given) return Address::unix_path(options.unix_path);  // '' is refused
  return cli::listen_address(options.host, options.port);
}

Socket open_listener(const GroupOptions& options) {
  Socket listener = sockchat::open_listener(listen_address(options), options.backlog);
  listener.setblocking(false);  // accept() in a loop must never block it
  show_listening(listener.getsockname(), options);
  return listener;
}

void remove_unix_path(const GroupOptions& options) {
  if (options.unix_given && !options.unix_path.empty()) ::unlink(options.unix_path.c_str());
}

// ---------------------------------------------------------------------------------------
// Who may come in.

std::optional<std::string> refusal(const GroupOptions& options, const AccessList& access,
                                   const Address& peer, std::size_t members) {
  if (!peer.is_unix() && !access.permits(peer.host())) {
    return fmt::format("not allowed from {}", peer.host());
  }
  return full(options, members);
}

std::optional<std::string> full(const GroupOptions& options, std::size_t members) {
  if (options.max_clients > 0 && members >= options.max_clients) {
    // The contract's words, `! server full (N clients)`, whatever N: clients match on them.
    return fmt::format("server full ({} clients)", options.max_clients);
  }
  return std::nullopt;
}

static void show_refused(std::string_view peer, std::string_view why) {
  emit({{"event", "refused"}, {"address", peer}, {"reason", why}},
       fmt::format("refused {}: {}", peer, why));
}

void refuse(Socket& client, const Address& peer, std::string_view why, Framing framing) {
  try {
    // MSG_DONTWAIT: a fresh socket's buffer is empty, but never let a stranger block us.
    client.send(wire(framing, fmt::format("! {}", why)), MSG_DONTWAIT);
    client.shutdown(SHUT_WR);  // FIN after the explanation: the client reads it, then EOF
  } catch (const SocketError&) {
    // It has gone already; there is nobody left to explain it to.
  }
  client.close();
  show_refused(peer.to_string(), why);
}

void refuse(Connection& client, std::string_view peer, std::string_view why, Framing framing) {
  try {
    const std::string line = wire(framing, fmt::format("! {}", why));
    client.send({line});      // one small record into an empty buffer: it is taken whole
    client.shutdown_write();  // close_notify, then FIN
  } catch (const SocketError&) {
    // It has gone already, or would not take even this: nobody is left to tell.
  }
  show_refused(peer, why);
}

void set_nodelay(Socket& client) {
  if (client.family() != AF_UNIX) client.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
}

// ---------------------------------------------------------------------------------------
// The console.

// The event as --json prints it: the text itself, as it came.
static nlohmann::json event_json(const RoomEvent& e, std::string_view address) {
  using Kind = RoomEvent::Kind;
  switch (e.kind) {
    case Kind::joined:
      return {{"event", "joined"}, {"name", e.name}, {"address", address}};
    case Kind::left:
      return {{"event", "left"}, {"name", e.name}, {"reason", e.text}};
    case Kind::message:
      return {{"event", "message"}, {"name", e.name}, {"text", e.text}};
    case Kind::action:
      return {{"event", "message"}, {"name", e.name}, {"text", e.text}, {"action", true}};
    case Kind::nick:
      return {{"event", "nick"}, {"name", e.name}, {"new_name", e.text}};
    case Kind::dropped:
      return {{"event", "dropped"}, {"name", e.name}, {"reason", e.text}};
  }
  return {};
}

// The event as the console shows it, appended to `line`. The console is a display:
// control characters from the network are made visible here (never in what is relayed to
// clients). A chat line is appended piece by piece: a burst shows a million of them, and
// fmt::format's parsing cost more than the rest of relaying one.
static void said(std::string& line, std::string_view before, const RoomEvent& e,
                 std::string_view after) {
  line.append(before).append(e.name).append(after);
  append_visible(line, e.text);
}

static void console_line(std::string& line, const RoomEvent& e, std::string_view address) {
  using Kind = RoomEvent::Kind;
  auto out = std::back_inserter(line);
  switch (e.kind) {
    case Kind::joined:
      fmt::format_to(out, "* {} joined from {}", e.name, address);
      return;
    case Kind::left:
      fmt::format_to(out, "* {} left ({})", e.name, e.text);
      return;
    case Kind::message:
      return said(line, "<", e, "> ");  // <NAME> text
    case Kind::action:
      return said(line, "* ", e, " ");  // * NAME waves
    case Kind::nick:
      fmt::format_to(out, "* {} is now known as {}", e.name, e.text);
      return;
    case Kind::dropped:
      fmt::format_to(out, "* {} dropped ({})", e.name, e.text);
      return;
  }
}

// One form or the other, never both: a burst shows a million lines, each built once, in
// the same memory each time (one per thread: with --io threads every reader shows lines).
void show(const RoomEvent& e, std::string_view address) {
  if (global_options().json) return emit(event_json(e, address), {});
  thread_local std::string line;
  line.clear();
  console_line(line, e, address);
  emit(nullptr, line);
}

// Where students can reach a server bound to every interface: "connect 0.0.0.0" works on
// this machine only (and, copied onto a student's, connects to the student's own). So the
// hint names the first address of an interface that is up, not the loopback, in the
// listener's family (no IPv6 link-local: it needs a scope only this host knows); the
// loopback when there is none. Read: getifaddrs(3), netdevice(7).
static std::string reachable_host(const Address& bound) {
  const int family = bound.family();
  const std::string loopback = family == AF_INET ? "127.0.0.1" : "::1";
  const socklen_t size = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  ifaddrs* first = nullptr;
  if (::getifaddrs(&first) != 0) return loopback;
  const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(first, ::freeifaddrs);
  for (const ifaddrs* i = list.get(); i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != family) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr)) continue;
    return Address::from_sockaddr(i->ifa_addr, size).host();
  }
  return loopback;
}

void show_listening(const Address& bound, const GroupOptions& options) {
  emit({{"event", "listening"},
        {"address", bound.to_string()},
        {"host", bound.host()},
        {"port", bound.port()},
        {"io", options.io},
        {"framing", options.framing}},
       fmt::format("listening on {} ({}, {} framing)", bound.to_string(), options.io,
                   options.framing));
  // The hint is meant to be copied, so it must work as printed: length framing needs the
  // same framing on the client, and nc cannot write its 4-byte headers.
  const bool length = options.framing == "length";
  const std::string framing = length ? " --framing length" : "";
  const std::string tls =
      options.tls_context ? tls_connect_flags(*options.tls_context, options.tls) : "";
  if (bound.is_unix()) {
    say(fmt::format("connect with: sockchat connect unix:{}{}{}", bound.host(), framing, tls));
    return;
  }
  std::string host = bound.host();
  if (host == "0.0.0.0" || host == "::") {
    say("listening on EVERY interface: anyone who can reach this machine can join");
    host = reachable_host(bound);
  }
  if (length) {
    say(fmt::format("connect with: sockchat connect {} {}{}{}", host, bound.port(), framing, tls));
    return;
  }
  if (options.tls_context) {  // nc speaks no TLS; ncat --ssl does
    say(fmt::format("connect with: sockchat connect {} {}{}   (or: ncat --ssl {} {})", host,
                    bound.port(), tls, host, bound.port()));
    return;
  }
  say(fmt::format("connect with: sockchat connect {} {}   (or: nc {} {})", host, bound.port(), host,
                  bound.port()));
}

// ---------------------------------------------------------------------------------------
// One client's connection, plain or TLS.

void Connection::start_tls(const TlsContext& context, std::string peer) {
  tls_ = std::make_unique<TlsStream>(TlsStream::server(context, socket_, std::move(peer)));
}

std::optional<short> Connection::handshake() {
  auto wait_for = tls_->try_handshake();
  tls_ready_ = !wait_for;
  return wait_for;
}

void Connection::handshake_in_thread(Timeout bound) {
  tls_->do_handshake(bound);  // the socket blocks: with the bound, it polls with a deadline
  tls_ready_ = true;
  shared_ = true;
  fd_ = socket_.fileno();
  socket_.setblocking(false);  // SSL calls must not wait holding the mutex: poll() waits
}

std::size_t Connection::receive(char* buffer, std::size_t size) {
  if (!tls_) return socket_.recv(buffer, size);
  if (!shared_) return tls_->recv(buffer, size);
  for (;;) {
    short events = POLLIN;
    {
      std::lock_guard lock(tls_mutex_);
      try {
        return tls_->recv(buffer, size);
      } catch (const WouldBlockError&) {
        events = tls_->recv_events();
      }
    }
    wait_ready(fd_, events, Deadline(std::nullopt));  // shutdown(SHUT_RDWR) ends it too
  }
}

std::size_t Connection::send(const std::vector<std::string_view>& pieces, int flags) {
  if (!tls_) {
    // One piece (a paced room's usual round) goes with plain send(): sendmsg() would
    // import a message header and an iovec for it, ~7% of a paced relay's CPU.
    return pieces.size() == 1 ? socket_.send(pieces[0], flags) : socket_.sendmsg(pieces, flags);
  }
  if (!shared_) return tls_send(pieces);
  for (;;) {
    short events = POLLOUT;
    {
      std::lock_guard lock(tls_mutex_);
      try {
        return tls_send(pieces);
      } catch (const WouldBlockError&) {
        events = tls_->send_events();
      }
    }
    wait_ready(fd_, events, Deadline(std::nullopt));
  }
}

std::size_t Connection::tls_send(const std::vector<std::string_view>& pieces) {
  // One record's worth at most: a retry after WANT_WRITE then presents the same first
  // bytes again (the outbox keeps them until they are sent), as OpenSSL requires.
  constexpr std::size_t kRecord = 16 * 1024;
  joined_.clear();
  for (const std::string_view piece : pieces) {
    joined_.append(piece.substr(0, kRecord - joined_.size()));
    if (joined_.size() == kRecord) break;
  }
  return tls_->send(joined_);
}

void Connection::shutdown_write() {
  if (tls_ && tls_ready_) {
    std::lock_guard lock(tls_mutex_);
    tls_->shutdown_write();
  } else {
    SocketStream(socket_).shutdown_write();
  }
}

void show_summary(const EngineTotals& t) {
  emit({{"event", "summary"},
        {"clients", t.clients},
        {"refused", t.refused},
        {"dropped", t.dropped},
        {"messages", t.messages}},
       fmt::format("server stopped: {} served, {} refused, {} dropped, {}",
                   plural(t.clients, "client"), t.refused, t.dropped,
                   plural(t.messages, "message")));
}

void announce_lines(RoomEngine& engine, const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    if (line.empty() || engine.stopping()) continue;
    engine.announce(line);
    emit({{"event", "message"}, {"name", "server"}, {"text", line}}, {});
  }
}

// ---------------------------------------------------------------------------------------
// The console's output: a bounded buffer and a writer thread.

struct ConsoleOutput::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::string pending;        // lines waiting for the writer thread
  std::size_t in_flight = 0;  // bytes the thread is writing now (they count against limit)
  std::size_t limit = 0;
  std::uint64_t not_shown = 0;  // lines dropped since the last notice
  bool stopping = false;
  bool done = false;  // the thread has written everything and ended

  // Batched: one thread (the event loop's) adds every line, so a round's lines gather in
  // `staged` without the lock and go to `pending` in one piece: at flush(), and whenever
  // kHandOver bytes have gathered, so the writer is never kept waiting for a long round.
  bool batched = false;
  std::string staged;
  std::size_t staged_room = 0;  // limit less what pending and in_flight held at the last hand-over
  std::uint64_t staged_not_shown = 0;
  static constexpr std::size_t kHandOver = 64 * 1024;

  // Bytes the limit allows beyond what waits or is being written (under the lock).
  std::size_t room_left() const { return limit - std::min(limit, pending.size() + in_flight); }

  void add(std::string_view line) {
    if (batched) return stage(line);
    std::lock_guard lock(mutex);
    if (line.size() + 1 > room_left()) {
      ++not_shown;  // never wait for stdout: the room goes on without this line
      return;
    }
    // The writer sleeps only when nothing is pending or in flight: wake it then, once.
    // Each wake is a futex call and a context switch; a burst's later lines ride along.
    const bool idle = pending.empty() && in_flight == 0;
    pending.append(line).append(1, '\n');
    if (idle) changed.notify_one();
  }

  void stage(std::string_view line) {
    if (staged.size() + line.size() + 1 > staged_room) {
      hand_over();  // the writer may have made room since
      if (line.size() + 1 > staged_room) {
        ++staged_not_shown;
        return;
      }
    }
    staged.append(line).append(1, '\n');
    if (staged.size() >= kHandOver) hand_over();
  }

  void hand_over() {
    std::lock_guard lock(mutex);
    const bool idle = pending.empty() && in_flight == 0;
    if (pending.empty()) {
      pending.swap(staged);  // staged takes pending's empty buffer: no copy, no new memory
    } else {
      pending.append(staged);
      staged.clear();
    }
    not_shown += std::exchange(staged_not_shown, 0);
    staged_room = room_left();
    if (idle && (!pending.empty() || not_shown > 0)) changed.notify_one();
  }

  // write(2) all of it; false if stdout is gone (EPIPE...): then nothing more is written.
  static bool write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  std::string notice() const {
    if (!global_options().json)
      return fmt::format("* console: {} not shown\n", plural(not_shown, "line"));
    return nlohmann::json{{"event", "console"}, {"not_shown", not_shown}}.dump() + "\n";
  }

  void run() {
    bool open = true;
    // The buffers go round: what was written comes back empty as the next pending, so a
    // burst's lines land in memory already there instead of growing a new string by
    // doubling (a memmove of everything so far, and fresh pages, each time).
    std::string writing;
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return !pending.empty() || not_shown > 0 || stopping; });
      if (pending.empty() && not_shown > 0) {
        pending.append(notice());  // every line of a round dropped while stdout was stuck
        not_shown = 0;
      }
      if (pending.empty()) break;  // stopping, and all written
      writing.swap(pending);
      in_flight = writing.size();
      lock.unlock();  // the room may add lines while we wait for stdout
      open = open && write_all(writing);
      writing.clear();
      // Only a stuck stdout builds a large buffer: give that memory back.
      if (writing.capacity() > 4 * kHandOver) std::string().swap(writing);
      lock.lock();
      in_flight = 0;
      if (not_shown > 0) {
        pending.append(notice());  // after what was written, before newer lines
        not_shown = 0;
      }
    }
    done = true;
    changed.notify_all();
  }
};

ConsoleOutput::ConsoleOutput(std::size_t limit, double drain_for)
    : state_(std::make_shared<State>()), drain_for_(drain_for) {
  state_->limit = limit;
  // Signals go to the server's threads, never to this one (its write() just restarts).
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread([state = state_] { state->run(); }).detach();
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  set_stdout_writer([state = state_](std::string_view line) { state->add(line); });
}

void ConsoleOutput::batch() {
  std::lock_guard lock(state_->mutex);
  state_->batched = true;
  state_->staged_room = state_->room_left();
}

void ConsoleOutput::flush() {
  if (state_->batched) state_->hand_over();
}

ConsoleOutput::~ConsoleOutput() {
  flush();  // the last round's lines
  std::unique_lock lock(state_->mutex);
  state_->stopping = true;
  state_->changed.notify_all();
  // Bounded: a stdout nobody reads must not keep the process from exiting.
  state_->changed.wait_for(lock, std::chrono::duration<double>(drain_for_),
                           [&] { return state_->done; });
  lock.unlock();
  set_stdout_writer({});
}

// ---------------------------------------------------------------------------------------
// The console's input, and the spare descriptor.

ConsoleInput::ConsoleInput() {
  std::signal(SIGTTIN, SIG_IGN);
}

bool ConsoleInput::read_lines(std::vector<std::string>& lines) {
  char buffer[4096];
  ssize_t n;
  do {
    n = ::read(STDIN_FILENO, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return true;
  if (n > 0) decoder_.feed({buffer, static_cast<std::size_t>(n)});
  while (auto frame = decoder_.next()) {
    if (!frame->too_long) lines.push_back(std::move(frame->data));
  }
  if (n > 0) return true;
  std::string last = decoder_.finish();  // a last line without '\n'
  if (!last.empty()) lines.push_back(std::move(last));
  return false;
}

static bool refuse_with_spare(Socket& listener, SpareDescriptor& spare, Framing framing,
                              std::uint64_t& refused) {
  spare.release();
  try {
    auto [socket, peer] = listener.accept();
    ++refused;
    refuse(socket, peer, "server full (out of file descriptors)", framing);
  } catch (const SocketError&) {
    // Not even one descriptor (ENFILE: the whole system is out).
  }
  return spare.reopen();
}

// accept(2), ERRORS: "Linux accept() passes already-pending network errors on the new socket
// as an error code from accept()... the application should treat them like EAGAIN by
// retrying", and a firewall (EPERM) or a shortage of memory (ENOBUFS, ENOMEM) fails one
// connection, not the server. Only a broken listener (EBADF, EINVAL...) is the server's end.
static bool listener_is_broken(int err) {
  return err == EBADF || err == EINVAL || err == ENOTSOCK || err == EFAULT;
}

void AcceptErrors::failed(int err) {
  if (in_burst_++ > 0) return;  // once per burst: a storm of them must not flood stderr
  error(fmt::format("accept: {}; the server goes on", errno_text(err)), errno_name(err));
}

void AcceptErrors::accepted() {
  in_burst_ = 0;
}

bool accept_pending(Socket& listener, SpareDescriptor& spare, Framing framing,
                    std::uint64_t& refused, AcceptErrors& errors, const Admit& admit,
                    std::size_t limit) {
  for (std::size_t i = 0; i < limit; ++i) {
    try {
      auto [socket, peer] = listener.accept();
      errors.accepted();
      admit(std::move(socket), peer);
    } catch (const WouldBlockError&) {
      return true;  // the backlog is empty
    } catch (const SocketError& e) {
      const int err = e.error_number();
      // The client waits in the backlog and the listener stays readable: ignoring EMFILE
      // would spin the loop at 100% CPU.
      if (out_of_descriptors(err)) return refuse_with_spare(listener, spare, framing, refused);
      if (listener_is_broken(err)) throw;
      errors.failed(err);
      // Out of kernel memory: the connection may still wait; give the kernel a moment.
      if (err == ENOBUFS || err == ENOMEM) return false;
    }
  }
  return true;
}

}  // namespace sockchat::cli
