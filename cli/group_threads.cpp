#include "cli/group_threads.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/event_loop.hpp"
#include "core/wait.hpp"

namespace sockchat::cli {

namespace {

// shutdown(SHUT_RDWR) from another thread is how one thread wakes another's blocking
// recv() or send() on the same socket (close() would not: the descriptor could be reused).
void cut_off(Socket& socket) {
  try {
    socket.shutdown(SHUT_RDWR);
  } catch (const SocketError&) {
    // ENOTCONN: the peer is gone already, which is what we wanted.
  }
}

constexpr auto shutdown_grace = std::chrono::seconds(2);  // for writers to send the last notice
constexpr auto tick_interval = std::chrono::milliseconds(100);

struct Client {
  explicit Client(Socket s) : conn(std::move(s)) {}
  Connection conn;
  ClientId id = 0;
  std::string peer;  // "127.0.0.1:51234"
  // Guarded by the server's mutex:
  std::condition_variable wake;        // the writer waits here for output or for the end
  std::condition_variable drained;     // the reader waits here while its own outbox is full
  bool closing = false;                // the writer sends what is left, then stops
  bool cut = false;                    // dropped: the writer stops now
  bool unstarted = false;              // its threads could not all start: refused, never joined
  std::optional<std::string> refusal;  // --ssl: told this after its handshake, never joined
  bool sending = false;  // a thread is in send() to it, outside the lock: nobody else sends
  bool reader_done = false;
  bool writer_done = false;
  // Touched only by the main thread:
  std::thread reader;
  std::thread writer;
};

// What one thread sends itself in a pass of ThreadedServer::deliver(). The server lends
// these out and keeps them (their vectors keep their capacity from pass to pass): as many
// as threads have sent at once, not one per thread, which in a room of 10,000 would each
// keep room for 10,000 sends.
struct DirectSends {
  struct Send {
    Client* client = nullptr;
    std::vector<std::string_view> pieces;
    std::vector<LineRef> keep;  // the lines stay alive even if the outbox is cleared meanwhile
    std::size_t size = 0;       // of the pieces
    std::size_t sent = 0;
    bool failed = false;
  };
  std::vector<Send> sends;
  std::size_t count = 0;
};

class ThreadedServer : public ConsoleHooks {
 public:
  ThreadedServer(const GroupOptions& options, Socket listener, StopSignals& signals);
  int run();

  // The engine's hooks, called under mutex_.
  void output(ClientId id) override;
  void close(ClientId id, bool flush_first) override;

 private:
  // The main thread.
  void on_listener();
  void on_signal();
  void on_console();
  void admit(Socket socket, const Address& peer);
  bool handshake(Client& c);
  bool start_threads(Client& c);
  void reap();
  void shut_down();
  // Every thread that changes the room, under the lock.
  void deliver(std::unique_lock<std::mutex>& lock);
  void send_pass(std::unique_lock<std::mutex>& lock, DirectSends& out, bool last);
  void after_send(Client& c, bool again = false);
  // The client threads.
  void read_loop(Client& c);
  LeaveReason read_until_gone(Client& c);
  void wait_for_own_outbox(Client& c, std::unique_lock<std::mutex>& lock);
  void write_loop(Client& c);
  Client* find(ClientId id);

  const GroupOptions& options_;
  const Framing framing_;
  const AccessList access_;
  EventLoop loop_;
  Socket listener_;
  StopSignals& signals_;
  ConsoleInput console_;
  SpareDescriptor spare_;
  AcceptErrors accept_errors_;
  bool listener_paused_ = false;
  std::uint64_t refused_ = 0;
  std::uint64_t refused_after_handshake_ = 0;  // guarded by mutex_
  ClientId next_id_ = 1;

  std::mutex mutex_;  // guards engine_, clients_, and every client's flags
  std::condition_variable writer_finished_;
  // held() fell to backlog_hold_threads, or no reader waits with new input: floods go on.
  std::condition_variable room_drained_;
  // Readers with what recv() returned, waiting for the lock. A backlog's next turn waits
  // for them, as an event loop's round reads every client once before a flood's next turn.
  std::atomic<int> arriving_{0};
  RoomEngine engine_;
  std::unordered_map<ClientId, std::unique_ptr<Client>> clients_;
  std::vector<ClientId> touched_;  // their outboxes have new lines for deliver()
  std::vector<std::unique_ptr<DirectSends>> idle_sends_;  // for deliver() to lend
};

ThreadedServer::ThreadedServer(const GroupOptions& options, Socket listener, StopSignals& signals)
    : options_(options),
      framing_(options.framing_kind()),
      access_(options.access()),
      loop_(make_poll_poller()),
      listener_(std::move(listener)),
      signals_(signals),
      engine_(options.engine(), *this) {}

int ThreadedServer::run() {
  loop_.add(listener_.fileno(), Readable, [this](unsigned) { on_listener(); });
  loop_.add(signals_.fd(), Readable, [this](unsigned) { on_signal(); });
  loop_.add(STDIN_FILENO, Readable, [this](unsigned) { on_console(); });
  loop_.every(tick_interval, [this] {
    if (listener_paused_ && spare_.reopen()) {
      listener_paused_ = false;
      loop_.modify(listener_.fileno(), Readable);
    }
  });
  loop_.after_each_round([this] { loop_.set_ticking(listener_paused_); });
  loop_.run();
  remove_unix_path(options_);
  EngineTotals totals = engine_.totals();
  totals.refused += refused_ + refused_after_handshake_;
  show_summary(totals);
  return 0;
}

Client* ThreadedServer::find(ClientId id) {
  const auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void ThreadedServer::output(ClientId id) {
  if (!options_.tls_context) {
    touched_.push_back(id);  // deliver() sends them, in the thread that made the lines
  } else if (Client* c = find(id)) {
    c->wake.notify_one();  // SSL_write cannot be told not to wait: its writer sends all
  }
}

void ThreadedServer::close(ClientId id, bool flush_first) {
  Client* c = find(id);
  if (c == nullptr) return;
  c->closing = true;
  if (!flush_first) {
    c->cut = true;
    cut_off(c->conn.socket());  // its writer may be stuck in send() and its reader in recv()
  }
  c->wake.notify_one();
  c->drained.notify_one();
}

// ---------------------------------------------------------------------------------------
// The main thread: accept, console, signals, reaping.

void ThreadedServer::on_listener() {
  const bool ok = accept_pending(
      listener_, spare_, framing_, refused_, accept_errors_,
      [this](Socket socket, const Address& peer) { admit(std::move(socket), peer); });
  // Each join tells everyone: sent after the batch, so that a crowd arriving together
  // costs one send to each member per batch, not one per newcomer (10,000 joins one at a
  // time would be 50 million sends).
  std::unique_lock lock(mutex_);
  deliver(lock);
  if (!ok) {
    loop_.modify(listener_.fileno(), 0);  // a tick watches it again
    listener_paused_ = true;
  }
}

void ThreadedServer::admit(Socket socket, const Address& peer) {
  std::unique_lock lock(mutex_);
  auto why = refusal(options_, access_, peer, engine_.members());
  if (why) ++refused_;
  // --ssl: a refusal waits for the handshake (in the client's thread), so it can be read.
  if (why && !options_.tls_context) {
    lock.unlock();
    return refuse(socket, peer, *why, framing_);
  }
  set_nodelay(socket);
  auto client = std::make_unique<Client>(std::move(socket));
  Client& c = *client;
  c.id = next_id_++;
  c.peer = peer.to_string();
  c.refusal = std::move(why);
  clients_.emplace(c.id, std::move(client));
  // The threads start under the lock, so they wait for it: the reader's first line finds
  // its sender in the room. A client whose threads cannot start is told and not served.
  if (start_threads(c)) {
    // --ssl: the reader joins it to the room once its handshake is done.
    if (!options_.tls_context) engine_.join(c.id, c.peer);
    return;  // on_listener() sends the notices, once for all it admitted
  }
  lock.unlock();
  if (c.writer.joinable()) c.writer.join();  // it saw `cut` and ended without a word
  ++refused_;
  refuse(c.conn.socket(), peer, "server busy (cannot start a thread)", framing_);
  lock.lock();
  clients_.erase(c.id);
}

bool ThreadedServer::start_threads(Client& c) {
  try {
    c.writer = std::thread([this, &c] { write_loop(c); });
    c.reader = std::thread([this, &c] { read_loop(c); });
    return true;
  } catch (const std::system_error&) {
    // Out of threads (EAGAIN). The writer, if it started, ends as soon as it gets the lock.
    c.unstarted = c.cut = c.closing = true;
    c.wake.notify_one();
    return false;
  }
}

void ThreadedServer::reap() {
  std::vector<std::unique_ptr<Client>> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      const Client& c = *it->second;
      const bool done = c.reader_done && c.writer_done && !c.sending;
      if (done) {
        engine_.forget(it->first);
        gone.push_back(std::move(it->second));
      }
      it = done ? clients_.erase(it) : std::next(it);
    }
  }
  for (auto& c : gone) {  // both threads have finished or are returning: join is quick
    if (c->reader.joinable()) c->reader.join();
    if (c->writer.joinable()) c->writer.join();
  }
}

void ThreadedServer::on_signal() {
  if (signals_.drain()) return shut_down();
  reap();  // a client thread woke us: it has finished
}

void ThreadedServer::on_console() {
  std::vector<std::string> lines;
  const bool open = console_.read_lines(lines);
  {
    std::unique_lock lock(mutex_);
    announce_lines(engine_, lines);
    deliver(lock);
  }
  if (!open) loop_.remove(STDIN_FILENO);
}

void ThreadedServer::shut_down() {
  std::unique_lock lock(mutex_);
  engine_.shutdown();  // "* server shutting down", every client closing; nothing relayed after
  deliver(lock);
  auto all_sent = [&] {
    for (auto& [id, c] : clients_) {
      if (!c->writer_done) return false;
    }
    return true;
  };
  writer_finished_.wait_for(lock, shutdown_grace, all_sent);
  // A writer still blocked in send() has a client that is not reading: cut it off.
  for (auto& [id, c] : clients_) {
    if (!c->writer_done) cut_off(c->conn.socket());
  }
  lock.unlock();
  for (auto& [id, c] : clients_) {
    if (c->reader.joinable()) c->reader.join();
    if (c->writer.joinable()) c->writer.join();
  }
  clients_.clear();
  loop_.stop();
}

// ---------------------------------------------------------------------------------------
// Sending: from the thread that made the lines; the writer thread for what must wait.

// The lines go out from the thread that made them (a reader's turn, a join, a console
// line): one send() with MSG_DONTWAIT to each client they touched, outside the lock. A
// client that keeps up takes its lines at once, and no writer thread wakes up: a paced
// line to 100 readers used to wake 100 writers, and on 2 cores a flood's turns kept them
// queued for the scheduler. What the kernel does not take now (a client that reads
// slowly) is its writer's, which may wait in send(). Lines that came for a client while
// another thread sent to it go in that thread's next pass (a flood's thread sends a paced
// line with its own), a few passes at most, then to the writers. Over TLS output() wakes
// the writers instead, and this has nothing to do.
void ThreadedServer::deliver(std::unique_lock<std::mutex>& lock) {
  if (touched_.empty()) return;
  std::unique_ptr<DirectSends> out;
  if (idle_sends_.empty()) {
    out = std::make_unique<DirectSends>();
  } else {
    out = std::move(idle_sends_.back());
    idle_sends_.pop_back();
  }
  constexpr int passes = 4;
  // A failed send's "left" notice and lines that came meanwhile touch clients again.
  for (int pass = 1; !touched_.empty(); ++pass) send_pass(lock, *out, pass >= passes);
  idle_sends_.push_back(std::move(out));
}

// One send to each touched client, outside the lock. `last`: what is still owed after it
// is the writers'.
void ThreadedServer::send_pass(std::unique_lock<std::mutex>& lock, DirectSends& out, bool last) {
  out.count = 0;
  for (ClientId id : touched_) {
    Client* c = find(id);
    Outbox* outbox = engine_.outbox(id);
    if (c == nullptr || c->sending || c->cut || outbox == nullptr || outbox->empty()) continue;
    if (out.count == out.sends.size()) out.sends.emplace_back();
    DirectSends::Send& send = out.sends[out.count++];
    send.client = c;
    send.sent = 0;
    send.failed = false;
    outbox->pieces(send.pieces, IOV_MAX, &send.keep);
    send.size = 0;
    for (std::string_view piece : send.pieces) send.size += piece.size();
    c->sending = true;  // its writer, and every other thread, leave it to us meanwhile
  }
  touched_.clear();
  lock.unlock();
  for (std::size_t i = 0; i < out.count; ++i) {
    DirectSends::Send& send = out.sends[i];
    try {
      send.sent = send.client->conn.send(send.pieces, MSG_DONTWAIT);
    } catch (const WouldBlockError&) {
      // Its send buffer is full: the writer thread waits for room.
    } catch (const SocketError&) {
      send.failed = true;  // EPIPE, ECONNRESET: its reader will find out too
    }
  }
  lock.lock();
  for (std::size_t i = 0; i < out.count; ++i) {
    DirectSends::Send& send = out.sends[i];
    Client& c = *send.client;
    send.keep.clear();
    c.sending = false;
    if (send.failed) {
      engine_.failed(c.id);
    } else {
      engine_.sent(c.id, send.sent);
    }
    const Outbox* outbox = engine_.outbox(c.id);
    const bool again = !last && !send.failed && send.sent == send.size;
    if (again && outbox != nullptr && !outbox->empty()) {
      touched_.push_back(c.id);  // lines came while we sent: the next pass
    }
    after_send(c, again);
  }
  engine_.enforce_total();  // --max-total-queue, now that these clients had their chance
}

// Under the lock, after a send to `c` by any thread: whoever waits for what it freed.
// What is still owed is its writer's, unless the sending thread goes on (`again`).
void ThreadedServer::after_send(Client& c, bool again) {
  const Outbox* outbox = engine_.outbox(c.id);
  const bool owed = outbox != nullptr && !outbox->empty();
  if ((owed && !again) || c.closing || c.cut) c.wake.notify_one();
  c.drained.notify_one();
  if (engine_.held() <= backlog_hold_threads) room_drained_.notify_all();
  if (c.reader_done && c.writer_done) signals_.wake();  // reap() skipped it while we sent
}

// ---------------------------------------------------------------------------------------
// A client's reader thread: its turn, then the lock goes to the others.

void ThreadedServer::read_loop(Client& c) {
  LeaveReason why = LeaveReason::error;
  try {
    why = read_until_gone(c);
  } catch (const SocketError&) {
    // A socket error (ECONNRESET...) ends this client only.
  }
  {
    std::unique_lock lock(mutex_);
    if (why == LeaveReason::error) engine_.failed(c.id);
    if (why == LeaveReason::idle) engine_.idle(c.id);  // "! idle for S s", then it leaves
    c.closing = true;
    c.reader_done = true;
    c.wake.notify_one();
    deliver(lock);  // its "left" notice
  }
  signals_.wake();  // the main thread joins us
}

// --ssl: the handshake, in this client's own thread (a slow one holds nobody else), then
// the room. False if it failed (said in one line; the client never joined).
bool ThreadedServer::handshake(Client& c) {
  try {
    c.conn.start_tls(*options_.tls_context, c.peer);
    c.conn.handshake_in_thread(options_.tls.handshake_bound());
  } catch (const SocketError& e) {
    error(fmt::format("client {} dropped: {}", c.peer, e.what()), errno_name(e.error_number()));
    return false;
  }
  std::unique_lock lock(mutex_);
  if (c.closing) return false;  // the server is shutting down
  if (!c.refusal) {
    c.refusal = full(options_, engine_.members());  // others may have joined meanwhile
    if (c.refusal) ++refused_after_handshake_;
  }
  if (c.refusal) {  // said inside TLS; it never joins
    lock.unlock();
    refuse(c.conn, c.peer, *c.refusal, framing_);
    return false;
  }
  engine_.join(c.id, c.peer);  // over TLS its writer and the others' send the welcome
  return true;
}

// Replies only it gets (/who's list of every member) pile up in its own outbox if it asks
// faster than its writer sends: it would be dropped "too slow" although it reads. So its
// reader takes no turn while half of --max-queue waits for it; TCP slows the asker.
void ThreadedServer::wait_for_own_outbox(Client& c, std::unique_lock<std::mutex>& lock) {
  c.drained.wait(lock, [&] { return c.closing || c.writer_done || !engine_.owes_much(c.id); });
}

LeaveReason ThreadedServer::read_until_gone(Client& c) {
  if (options_.tls_context && !handshake(c)) return LeaveReason::error;
  const std::size_t turn_bytes = EngineOptions{}.turn_bytes;
  std::vector<char> buffer(turn_bytes);
  const Timeout idle = options_.idle_timeout > 0
                           ? Timeout(std::chrono::duration<double>(options_.idle_timeout))
                           : Timeout();
  const int fd = c.conn.socket().fileno();
  for (;;) {
    // --idle-timeout: poll(2) with a deadline before each recv, as settimeout(S) does.
    if (idle && !wait_ready(fd, POLLIN, Deadline(idle))) return LeaveReason::idle;
    const std::size_t n = c.conn.receive(buffer.data(), buffer.size());
    arriving_.fetch_add(1);
    std::unique_lock lock(mutex_);
    if (arriving_.fetch_sub(1) == 1) room_drained_.notify_all();
    wait_for_own_outbox(c, lock);
    if (c.closing) return LeaveReason::quit;  // /quit, dropped, or shutting down
    if (n == 0) {
      engine_.end_of_stream(c.id);  // a last line without '\n' still counts, as for nc
      deliver(lock);
      return LeaveReason::closed;
    }
    engine_.received(c.id, {buffer.data(), n});
    deliver(lock);
    while (engine_.has_backlog(c.id)) {  // one turn at a time: the others get the lock
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
      wait_for_own_outbox(c, lock);
      // As on the event loops: the next turn of a flood waits while the room is behind,
      // and while others have something new to say.
      room_drained_.wait_for(lock, hold_at_most, [&] {
        return c.closing || (engine_.held() <= backlog_hold_threads && arriving_ == 0);
      });
      if (c.closing) return LeaveReason::quit;
      engine_.turn(c.id);
      deliver(lock);
    }
    if (c.closing) return LeaveReason::quit;
  }
}

// ---------------------------------------------------------------------------------------
// A client's writer thread: what the others could not send at once, with a send() that
// waits, outside the lock.

void ThreadedServer::write_loop(Client& c) {
  std::vector<std::string_view> pieces;
  std::vector<LineRef> keep;  // the lines being sent stay alive even if the outbox is cleared
  std::unique_lock lock(mutex_);
  for (;;) {
    // The predicate is what the tutorial's Condition.wait() lacked: a notify that comes
    // while we are busy sending is not lost, because the outbox still holds the data.
    Outbox* outbox = engine_.outbox(c.id);
    c.wake.wait(lock, [&] {
      outbox = engine_.outbox(c.id);
      return c.cut || (!c.sending && (c.closing || (outbox != nullptr && !outbox->empty())));
    });
    if (c.cut || outbox == nullptr || outbox->empty()) break;  // dropped, or all sent
    outbox->pieces(pieces, IOV_MAX, &keep);
    c.sending = true;
    lock.unlock();
    std::size_t sent = 0;
    bool failed = false;
    try {
      sent = c.conn.send(pieces);
    } catch (const SocketError&) {
      failed = true;  // EPIPE, ECONNRESET: the reader will find out too
    }
    lock.lock();
    c.sending = false;
    keep.clear();
    if (failed) {
      engine_.failed(c.id);
      deliver(lock);  // its "left" notice
      break;
    }
    engine_.sent(c.id, sent);
    after_send(c);
    engine_.enforce_total();  // --max-total-queue, now that this writer had its chance
    deliver(lock);
  }
  c.writer_done = true;
  c.drained.notify_one();
  const bool unstarted = c.unstarted;
  lock.unlock();
  // Wake the reader if it still waits in recv(): the conversation is over. (Not when its
  // threads never all started: admit() still has something to tell that client.)
  if (!unstarted) cut_off(c.conn.socket());
  writer_finished_.notify_all();
  signals_.wake();
}

}  // namespace

int run_group_threads(const GroupOptions& options, Socket listener, StopSignals& signals) {
  ThreadedServer server(options, std::move(listener), signals);
  return server.run();
}

}  // namespace sockchat::cli
