#include "cli/group_server.hpp"

#include <sys/select.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/event_loop.hpp"

namespace sockchat::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto tick_interval = std::chrono::milliseconds(100);
// References queued between sends: past 63 for every member (at least 32,768), the round's
// sends go out. A turn adds at most one to each outbox, so an outbox holds at most 64 and
// its vector, which doubles, stays at 64 (65 would make it 128: 0.5 MiB more at N=1,000).
// (Each send is a system call per member: many fewer, and a 10,000-member room's joins,
// each a notice to all, took three times as long.)
std::uint64_t flush_every(std::size_t members) {
  return std::max<std::uint64_t>(32 * 1024, 63 * std::uint64_t{members});
}
constexpr auto closing_grace = std::chrono::seconds(5);  // to send a leaving client its last lines

struct Client {
  Client(Socket s, int descriptor, ClientId client_id)
      : conn(std::move(s)), fd(descriptor), id(client_id) {}

  Connection conn;
  int fd = -1;
  ClientId id = 0;
  std::string peer;                // "127.0.0.1:51234"
  Clock::time_point handshake_by;  // --ssl: drop it if its handshake is not done by then
  Clock::time_point heard;         // the last time it sent anything (--idle-timeout)
  Clock::time_point close_by;      // closing: give up on the outbox after this
  bool closing = false;            // out of the room: close as soon as the outbox is sent
  bool closed = false;             // closed in this round; freed after it
  bool touched = false;            // its outbox has new lines this round
  bool writable_wanted = false;
  bool gone = false;                   // a send failed: closed at the next settle()
  bool parked = false;                 // has a backlog but owes_much(): its turns wait for flush()
  std::optional<std::string> refusal;  // --ssl: told this after its handshake, then closed
};

class GroupServer : public ConsoleHooks {
 public:
  GroupServer(const GroupOptions& options, Socket listener, StopSignals& signals,
              ConsoleOutput* console);
  int run();

  // The engine's hooks: noted now, acted on once the engine call returns (settle()).
  void output(ClientId id) override;
  void close(ClientId id, bool flush_first) override;

 private:
  void on_listener();
  void on_client(Client& c, unsigned events);
  void continue_handshake(Client& c);
  void join(Client& c);
  void on_console();
  void on_tick();
  void after_round();
  bool room_is_behind();
  void admit(Socket socket, const Address& peer);
  void receive(Client& c);
  void flush(Client& c);
  void flush_touched();
  void watch(Client& c);
  void settle();
  void start_closing(Client& c);
  void close_now(Client& c);
  void shut_down();
  Client* find(ClientId id);

  const GroupOptions& options_;
  const Framing framing_;
  const AccessList access_;
  RoomEngine engine_;
  EventLoop loop_;
  Socket listener_;
  StopSignals& signals_;
  ConsoleOutput* console_out_;  // null under --trace
  int listener_fd_ = -1;
  bool listener_paused_ = false;
  std::size_t closing_count_ = 0;      // clients sending their last lines (timed by the tick)
  std::size_t handshaking_count_ = 0;  // --ssl: clients in their handshake (timed by the tick)
  ConsoleInput console_;
  SpareDescriptor spare_;
  AcceptErrors accept_errors_;
  std::unordered_map<ClientId, std::unique_ptr<Client>> clients_;
  // Clients closed in a round stay in dead_ until it ends, so these pointers stay valid.
  std::vector<Client*> touched_;                   // outboxes to flush after this round
  std::vector<Client*> flushing_;                  // flush_touched()'s pass (reused)
  std::uint64_t flushed_at_ = 0;                   // engine_.queued() at the last flush
  std::optional<Clock::time_point> behind_since_;  // backlog turns held since
  std::vector<std::pair<ClientId, bool>> closes_;  // from the engine, for settle()
  std::vector<ClientId> failures_;                 // sends that failed, for settle()
  std::vector<ClientId> backlog_;                  // lines left for their next turn
  std::vector<std::unique_ptr<Client>> dead_;
  std::vector<std::string_view> pieces_;  // reused by flush()
  ClientId next_id_ = 1;
  std::uint64_t refused_ = 0;
  const std::size_t turn_bytes_ = EngineOptions{}.turn_bytes;
  std::array<char, 64 * 1024> buffer_;  // one receive buffer for every client
};

GroupServer::GroupServer(const GroupOptions& options, Socket listener, StopSignals& signals,
                         ConsoleOutput* console)
    : options_(options),
      framing_(options.framing_kind()),
      access_(options.access()),
      engine_(options.engine(), *this),
      loop_(make_poller(options.io)),
      listener_(std::move(listener)),
      signals_(signals),
      console_out_(console) {
  listener_fd_ = listener_.fileno();
  if (console_out_ != nullptr) console_out_->batch();
}

int GroupServer::run() {
  loop_.add(listener_fd_, Readable, [this](unsigned) { on_listener(); });
  loop_.add(signals_.fd(), Readable, [this](unsigned) {
    if (signals_.drain()) shut_down();
  });
  try {
    loop_.add(STDIN_FILENO, Readable, [this](unsigned) { on_console(); });
  } catch (const SocketError&) {
    // stdin is a regular file or /dev/null: epoll cannot watch those. No console then.
  }
  loop_.after_each_round([this] { after_round(); });
  loop_.every(tick_interval, [this] { on_tick(); });
  if (console_out_ != nullptr) console_out_->flush();  // what was said before the loop
  loop_.run();
  remove_unix_path(options_);
  EngineTotals totals = engine_.totals();
  totals.refused += refused_;
  show_summary(totals);
  return 0;
}

Client* GroupServer::find(ClientId id) {
  const auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

// ---------------------------------------------------------------------------------------
// New clients.

void GroupServer::on_listener() {
  const bool ok = accept_pending(
      listener_, spare_, framing_, refused_, accept_errors_,
      [this](Socket socket, const Address& peer) { admit(std::move(socket), peer); });
  if (!ok) {
    // Out of descriptors even with the spare, or of kernel memory: stop watching the
    // listener until a tick, rather than spin. Connected clients keep being served.
    loop_.modify(listener_fd_, 0);
    listener_paused_ = true;
  }
}

void GroupServer::admit(Socket socket, const Address& peer) {
  auto why = refusal(options_, access_, peer, engine_.members());
  const int fd = socket.fileno();
  const bool watchable = loop_.accepts(fd);
  if (!watchable) {
    why = fmt::format(
        "server full (select() cannot watch descriptor {} >= FD_SETSIZE {}; "
        "the server should use --io epoll)",
        fd, FD_SETSIZE);
  }
  if (why) ++refused_;
  // --ssl: a refusal waits for the handshake, so that the client can read it.
  if (why && (!options_.tls_context || !watchable)) return refuse(socket, peer, *why, framing_);
  socket.setblocking(false);
  set_nodelay(socket);
  auto client = std::make_unique<Client>(std::move(socket), fd, next_id_++);
  Client& c = *client;
  c.heard = Clock::now();
  c.peer = peer.to_string();
  c.refusal = std::move(why);
  clients_.emplace(c.id, std::move(client));
  loop_.add(fd, Readable, [this, &c](unsigned events) { on_client(c, events); });
  if (!options_.tls_context) return join(c);
  // --ssl: the room hears of it once its handshake is done, one nonblocking step per
  // readiness, so that a slow or silent client never holds the loop.
  c.conn.start_tls(*options_.tls_context, c.peer);
  const Timeout bound = options_.tls.handshake_bound();
  c.handshake_by = bound ? c.heard + std::chrono::duration_cast<Clock::duration>(*bound)
                         : Clock::time_point::max();
  ++handshaking_count_;
  continue_handshake(c);
}

void GroupServer::join(Client& c) {
  engine_.join(c.id, c.peer);
  settle();
}

void GroupServer::continue_handshake(Client& c) {
  std::optional<short> wait_for;
  try {
    wait_for = c.conn.handshake();
  } catch (const SocketError& e) {
    --handshaking_count_;
    error(fmt::format("client {} dropped: {}", c.peer, e.what()), errno_name(e.error_number()));
    return close_now(c);
  }
  if (wait_for) {
    loop_.modify(c.fd, *wait_for == POLLOUT ? Writable : Readable);
    return;
  }
  --handshaking_count_;
  if (!c.refusal) {
    c.refusal = full(options_, engine_.members());  // others may have joined meanwhile
    if (c.refusal) ++refused_;
  }
  if (c.refusal) {  // refused: said now, inside TLS, and never joined
    refuse(c.conn, c.peer, *c.refusal, framing_);
    return close_now(c);
  }
  loop_.modify(c.fd, Readable);
  join(c);
}

// ---------------------------------------------------------------------------------------
// Reading: one turn per client per round.

void GroupServer::on_client(Client& c, unsigned events) {
  if (c.conn.handshaking()) return continue_handshake(c);
  if ((events & Writable) != 0) flush(c);
  if ((events & Readable) != 0 && !c.closing && !c.closed && !c.gone) receive(c);
  settle();
}

void GroupServer::receive(Client& c) {
  // Lines left from its last turn come first; the kernel keeps the rest meanwhile.
  if (engine_.has_backlog(c.id)) return;  // after_round() gives it its turn
  std::size_t n = 0;
  try {
    n = c.conn.receive(buffer_.data(), std::min(buffer_.size(), turn_bytes_));
  } catch (const WouldBlockError&) {
    return;  // a spurious wake-up: nothing to read after all
  } catch (const SocketError&) {
    engine_.failed(c.id);  // ECONNRESET and friends: its half line dies with it
    return settle();
  }
  if (n == 0) {
    engine_.end_of_stream(c.id);  // it gets what is queued for it, then we close
  } else {
    c.heard = Clock::now();
    engine_.received(c.id, {buffer_.data(), n});
    if (engine_.has_backlog(c.id)) {
      backlog_.push_back(c.id);
      watch(c);  // not read again until its backlog is said
    }
    if (engine_.owes_much(c.id)) flush(c);  // stops reading it if it still owes much
  }
  settle();
  // When a thousand members each say a line in one round, each line goes to 999 outboxes:
  // a million references before the round's sends. Sending every so often keeps that
  // memory small (the lines wait in the kernel's socket buffers instead).
  if (engine_.queued() - flushed_at_ > flush_every(engine_.members())) flush_touched();
}

// ---------------------------------------------------------------------------------------
// The engine's hooks, and acting on them.

void GroupServer::output(ClientId id) {
  Client* c = find(id);
  if (c != nullptr && !c->touched) {
    c->touched = true;
    touched_.push_back(c);
  }
}

void GroupServer::close(ClientId id, bool flush_first) {
  closes_.emplace_back(id, flush_first);
}

void GroupServer::settle() {
  while (!failures_.empty() || !closes_.empty()) {
    if (!failures_.empty()) {
      std::vector<ClientId> failures;
      failures.swap(failures_);
      engine_.failed(failures);  // its close() hooks land in closes_
      continue;
    }
    const auto [id, flush_first] = closes_.back();
    closes_.pop_back();
    Client* c = find(id);
    if (c == nullptr || c->closed) continue;
    if (flush_first) {
      start_closing(*c);
    } else {
      close_now(*c);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Writing: each outbox with one sendmsg() per round.

void GroupServer::flush(Client& c) {
  Outbox* outbox = engine_.outbox(c.id);
  if (outbox != nullptr && !outbox->empty()) {
    outbox->pieces(pieces_, IOV_MAX);
    try {
      engine_.sent(c.id, c.conn.send(pieces_));
    } catch (const WouldBlockError&) {
      // The kernel's send buffer is full: wait for writability below.
    } catch (const SocketError&) {
      // EPIPE, ECONNRESET: it is gone. The room hears at the next settle(), together with
      // everyone else found gone meanwhile (a mass disconnect: see RoomEngine::failed).
      failures_.push_back(c.id);
      c.gone = true;
      return;
    }
  }
  const bool empty = outbox == nullptr || outbox->empty();
  if (empty && c.closing) return close_now(c);
  const bool owes = engine_.owes_much(c.id);
  if (c.parked && !owes) {  // it has read: its backlog gets turns again
    c.parked = false;
    backlog_.push_back(c.id);
    loop_.set_busy(true);
  }
  if (!backlog_.empty() && engine_.held() <= backlog_hold) loop_.set_busy(true);
  c.writable_wanted = !empty;
  watch(c);
}

// Ask for writability only while something waits to be written (modify() skips the
// syscall when nothing changes). A leaving client is not read any more, nor one that owes
// much, nor one whose lines wait for their turns: TCP's flow control then slows it, not
// the room. (Its unread input would also wake a level-triggered wait in every round while
// the room is behind: 61,000 empty rounds in a burst of 560,000 lines to 9 readers.)
void GroupServer::watch(Client& c) {
  const bool read = !c.closing && !engine_.owes_much(c.id) && !engine_.has_backlog(c.id);
  loop_.modify(c.fd, (read ? Readable : 0) | (c.writable_wanted ? Writable : 0));
}

void GroupServer::flush_touched() {
  // A pass sends to each touched client; the ones found gone leave together after it, and
  // their notices touch the rest for another pass. Each client is found gone only once.
  while (!touched_.empty()) {
    flushing_.clear();
    flushing_.swap(touched_);
    for (Client* c : flushing_) {
      c->touched = false;
      if (!c->closed && !c->gone && !c->writable_wanted) flush(*c);  // else Writable will
    }
    settle();
  }
  flushed_at_ = engine_.queued();
}

// Backlogged senders take their turns now, or wait (held) while the readers catch up.
bool GroupServer::room_is_behind() {
  const auto now = Clock::now();
  if (engine_.held() <= backlog_hold) {
    behind_since_.reset();
    return false;
  }
  if (!behind_since_) behind_since_ = now;
  if (now - *behind_since_ < hold_at_most) return true;
  behind_since_ = now;  // waited long enough: one turn, then wait again
  return false;
}

void GroupServer::after_round() {
  flush_touched();  // this round's lines first: what the readers did not take is behind
  const bool behind = !backlog_.empty() && room_is_behind();
  // Clients with lines left get their next turn: one per round, like everyone else.
  std::vector<ClientId> waiting;
  waiting.swap(backlog_);
  for (ClientId id : waiting) {
    if (engine_.owes_much(id)) {  // its turns wait until it reads: flush() brings it back
      if (Client* c = find(id)) {
        c->parked = true;
        flush(*c);  // and stop reading it now
      }
      continue;
    }
    if (!behind) engine_.turn(id);
    if (engine_.has_backlog(id)) {
      backlog_.push_back(id);
    } else if (Client* c = find(id); c != nullptr && !c->closed && !c->gone) {
      watch(*c);  // all said: read it again
    }
  }
  settle();
  flush_touched();
  // Only what send() could not take counts: a client that reads has an empty outbox now.
  engine_.enforce_total();
  settle();
  flush_touched();  // the drop notices are owed to everyone else
  dead_.clear();
  // Held back, the backlog waits for a reader's progress (flush() sets busy) or the tick.
  loop_.set_busy(!backlog_.empty() && !behind);
  // The tick checks idle clients, closing clients, a paused listener and held senders;
  // with none of those, there is nothing to wake up for.
  loop_.set_ticking(options_.idle_timeout > 0 || closing_count_ > 0 || listener_paused_ ||
                    handshaking_count_ > 0 || behind);
  if (console_out_ != nullptr) console_out_->flush();  // this round's console lines
}

// ---------------------------------------------------------------------------------------
// Leaving.

void GroupServer::start_closing(Client& c) {
  if (!c.closing) ++closing_count_;
  c.closing = true;
  c.close_by = Clock::now() + closing_grace;
  flush(c);
}

void GroupServer::close_now(Client& c) {
  if (c.closing) --closing_count_;
  loop_.remove(c.fd);  // before close: the descriptor number may be reused at once
  c.conn.socket().close();
  c.closed = true;
  engine_.forget(c.id);
  const auto it = clients_.find(c.id);
  dead_.push_back(std::move(it->second));  // freed after the round: its handler may be running
  clients_.erase(it);
}

void GroupServer::on_tick() {
  const auto now = Clock::now();
  if (listener_paused_ && spare_.reopen()) {
    listener_paused_ = false;
    loop_.modify(listener_fd_, Readable);
  }
  const auto idle = std::chrono::duration<double>(options_.idle_timeout);
  std::vector<Client*> expired;
  std::vector<Client*> too_slow;  // --ssl: handshakes past their bound
  for (auto& [id, c] : clients_) {
    if (c->conn.handshaking()) {
      if (now >= c->handshake_by) too_slow.push_back(c.get());
      continue;
    }
    if (c->closing ? now >= c->close_by : (options_.idle_timeout > 0 && now - c->heard >= idle)) {
      expired.push_back(c.get());
    }
  }
  for (Client* c : too_slow) {
    --handshaking_count_;
    const TimeoutError e("do_handshake", c->peer, *options_.tls.handshake_bound());
    error(fmt::format("client {} dropped: {}", c->peer, e.what()), errno_name(ETIMEDOUT));
    close_now(*c);
  }
  for (Client* c : expired) {
    if (c->closed) continue;
    if (c->closing) {
      close_now(*c);
    } else {
      engine_.idle(c->id);  // "! idle for S s, disconnecting", and the others hear
      settle();
    }
  }
}

// ---------------------------------------------------------------------------------------
// The console and the end.

void GroupServer::on_console() {
  std::vector<std::string> lines;
  const bool open = console_.read_lines(lines);
  announce_lines(engine_, lines);
  if (!open) loop_.remove(STDIN_FILENO);  // end of input: the room goes on without it
}

void GroupServer::shut_down() {
  engine_.shutdown();  // "* server shutting down"; from now on nothing is relayed
  closes_.clear();     // every client is closing: each gets one last try below
  std::vector<Client*> everyone;
  for (auto& [id, c] : clients_) everyone.push_back(c.get());
  for (Client* c : everyone) {
    if (!c->closing) ++closing_count_;
    c->closing = true;
    flush(*c);  // one last try; a client that is not reading loses what does not fit
    if (c->closed) continue;
    try {
      c->conn.shutdown_write();  // close_notify first over TLS
    } catch (const SocketError&) {
      // ENOTCONN: it is gone already; over TLS, no room left for close_notify.
    }
    close_now(*c);
  }
  settle();  // sends that failed above: already closed, the engine forgets them
  loop_.stop();
}

}  // namespace

int run_group_event_loop(const GroupOptions& options, Socket listener, StopSignals& signals,
                         ConsoleOutput* console) {
  GroupServer server(options, std::move(listener), signals, console);
  return server.run();
}

}  // namespace sockchat::cli
