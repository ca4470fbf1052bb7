#include "cli/group_threads.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

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

struct Client {
  Socket socket;
  int fd = -1;
  ClientId id = 0;
  std::string address;
  // Guarded by the server's mutex:
  std::string outbox;
  std::size_t in_flight = 0;     // bytes the writer took from the outbox and is sending now
  std::size_t counted = 0;       // its share of the server's queued_ total
  std::condition_variable wake;  // the writer waits here for output or for the end
  bool closing = false;          // the writer sends what is left, then stops
  bool reader_done = false;
  bool writer_done = false;
  // Touched only by the main thread:
  std::thread reader;
  std::thread writer;
};

class ThreadedServer {
 public:
  ThreadedServer(const GroupOptions& options, Socket listener, StopSignals& signals);
  int run();

 private:
  // The main thread.
  void on_listener();
  void on_signal();
  void on_console();
  void admit(Socket socket, const Address& peer);
  bool start_threads(Client& c);
  void reap();
  void shut_down();
  // The client threads.
  void read_loop(Client& c);
  void write_loop(Client& c);
  LeaveReason read_until_gone(Client& c);
  bool handle(Client& c, Decoder& decoder);
  void finish_reading(Client& c, LeaveReason why);
  // Under mutex_.
  void apply(const Outcome& outcome, std::string_view address = {});
  void queue(Client& c, std::string_view bytes);
  void recount(Client& c);
  void drop(Client& c);
  void drop_largest_queues();
  void tell_about_slow_clients();

  const GroupOptions& options_;
  const Framing framing_;
  const AccessList access_;
  EventLoop loop_;
  Socket listener_;
  StopSignals& signals_;
  ConsoleInput console_;
  SpareDescriptor spare_;
  GroupTotals totals_;
  ClientId next_id_ = 1;

  std::mutex mutex_;  // guards room_, clients_, slow_, and every client's outbox and flags
  std::condition_variable writer_finished_;
  ChatRoom room_;
  std::unordered_map<ClientId, std::unique_ptr<Client>> clients_;
  std::vector<Client*> slow_;
  std::size_t queued_ = 0;  // every outbox and in-flight batch summed, kept by recount()
  bool stopping_ = false;   // shutting down: the room is told once, not once per leaver
};

ThreadedServer::ThreadedServer(const GroupOptions& options, Socket listener, StopSignals& signals)
    : options_(options),
      framing_(options.framing_kind()),
      access_(options.access()),
      loop_(make_poll_poller()),
      listener_(std::move(listener)),
      signals_(signals),
      room_(options.room()) {}

int ThreadedServer::run() {
  loop_.add(listener_.fileno(), Readable, [this](unsigned) { on_listener(); });
  loop_.add(signals_.fd(), Readable, [this](unsigned) { on_signal(); });
  loop_.add(STDIN_FILENO, Readable, [this](unsigned) { on_console(); });
  loop_.run();
  remove_unix_path(options_);
  totals_.messages = room_.messages();
  show_summary(totals_);
  return 0;
}

// ---------------------------------------------------------------------------------------
// The main thread: accept, console, signals, reaping.

void ThreadedServer::on_listener() {
  // No pause here when out of descriptors: the spare makes room, and a client thread that
  // ends wakes this loop anyway.
  accept_pending(listener_, spare_, framing_, totals_,
                 [this](Socket socket, const Address& peer) { admit(std::move(socket), peer); });
}

void ThreadedServer::admit(Socket socket, const Address& peer) {
  std::unique_lock lock(mutex_);
  if (auto why = refusal(options_, access_, peer, room_.size())) {
    lock.unlock();
    ++totals_.refused;
    return refuse(socket, peer, *why, framing_);
  }
  set_nodelay(socket);
  auto client = std::make_unique<Client>();
  Client& c = *client;
  c.fd = socket.fileno();
  c.socket = std::move(socket);
  c.id = next_id_++;
  c.address = peer.to_string();
  clients_.emplace(c.id, std::move(client));
  // Join before the threads start, so the reader's first line finds its sender in the room.
  Outcome outcome;
  room_.join(c.id, outcome);
  apply(outcome, c.address);
  lock.unlock();
  ++totals_.clients;
  if (!start_threads(c)) {
    cli::error("serve-group: cannot start a thread for " + peer.to_string() + "; client closed");
  }
}

bool ThreadedServer::start_threads(Client& c) {
  try {
    c.writer = std::thread([this, &c] { write_loop(c); });
    c.reader = std::thread([this, &c] { read_loop(c); });
    return true;
  } catch (const std::system_error&) {
    // Out of threads (EAGAIN): the writer, if it started, ends once closing is set.
    {
      std::lock_guard lock(mutex_);
      Outcome outcome;
      room_.leave(c.id, LeaveReason::error, outcome);
      apply(outcome);
      drop(c);
      c.reader_done = true;
      if (!c.writer.joinable()) c.writer_done = true;
    }
    signals_.wake();  // reap() frees it
    return false;
  }
}

void ThreadedServer::reap() {
  std::vector<std::unique_ptr<Client>> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      const bool done = it->second->reader_done && it->second->writer_done;
      if (done) {
        queued_ -= it->second->counted;  // 0 by now: its writer sent or cleared everything
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
    std::lock_guard lock(mutex_);
    Outcome outcome;
    for (const auto& line : lines) room_.announce(line, outcome);
    apply(outcome);
  }
  for (const auto& line : lines) {
    if (!line.empty()) emit({{"event", "message"}, {"name", "server"}, {"text", line}}, {});
  }
  if (!open) loop_.remove(STDIN_FILENO);
}

void ThreadedServer::shut_down() {
  std::unique_lock lock(mutex_);
  Outcome outcome;
  room_.shutdown(outcome);
  apply(outcome);
  stopping_ = true;
  for (auto& [id, c] : clients_) {
    c->closing = true;
    c->wake.notify_one();
  }
  auto all_sent = [&] {
    for (auto& [id, c] : clients_) {
      if (!c->writer_done) return false;
    }
    return true;
  };
  writer_finished_.wait_for(lock, shutdown_grace, all_sent);
  // A writer still blocked in send() has a client that is not reading: cut it off.
  for (auto& [id, c] : clients_) {
    if (!c->writer_done) cut_off(c->socket);
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
// A client's reader thread.

void ThreadedServer::read_loop(Client& c) {
  LeaveReason why = LeaveReason::error;
  try {
    why = read_until_gone(c);
  } catch (const std::exception&) {
    // A socket error (ECONNRESET...) ends this client only.
  }
  finish_reading(c, why);
}

LeaveReason ThreadedServer::read_until_gone(Client& c) {
  Decoder decoder(framing_, options_.max_line);
  std::vector<char> buffer(16 * 1024);
  const Timeout idle = options_.idle_timeout > 0
                           ? Timeout(std::chrono::duration<double>(options_.idle_timeout))
                           : Timeout();
  for (;;) {
    // --idle-timeout: poll(2) with a deadline before each recv, as settimeout(S) does.
    if (idle && !wait_ready(c.fd, POLLIN, Deadline(idle))) return LeaveReason::idle;
    const std::size_t n = c.socket.recv(buffer.data(), buffer.size());
    if (n == 0) {
      decoder.feed("\n");  // a last line without '\n' still counts, as for nc
      handle(c, decoder);
      return LeaveReason::closed;
    }
    decoder.feed({buffer.data(), n});
    if (!handle(c, decoder)) return LeaveReason::quit;
  }
}

// Gives every complete line to the room. False if the client said /quit.
bool ThreadedServer::handle(Client& c, Decoder& decoder) {
  std::lock_guard lock(mutex_);
  Outcome outcome;
  while (auto frame = decoder.next()) {
    if (frame->too_long || frame->data.size() > options_.max_line) {
      room_.too_long(c.id, outcome);
    } else if (framing_ == Framing::raw) {
      room_.receive(c.id, without_line_ending(frame->data), outcome);
    } else {
      room_.receive(c.id, frame->data, outcome);
    }
    if (outcome.quit) break;
  }
  apply(outcome);
  return !outcome.quit;
}

void ThreadedServer::finish_reading(Client& c, LeaveReason why) {
  {
    std::lock_guard lock(mutex_);
    Outcome outcome;
    if (stopping_) {
      // "* server shutting down" said it all.
    } else if (why == LeaveReason::idle) {
      room_.idle(c.id, outcome);  // "! idle for S s, disconnecting", then it leaves
    } else {
      room_.leave(c.id, why, outcome);  // nothing if it already left (/quit, dropped)
    }
    apply(outcome);
    c.closing = true;
    c.reader_done = true;
    c.wake.notify_one();
  }
  signals_.wake();  // the main thread joins us
}

// ---------------------------------------------------------------------------------------
// A client's writer thread.

void ThreadedServer::write_loop(Client& c) {
  std::unique_lock lock(mutex_);
  for (;;) {
    // The predicate is what the tutorial's Condition.wait() lacked: a notify that comes
    // while we are busy sending is not lost, because the outbox still holds the data.
    c.wake.wait(lock, [&] { return !c.outbox.empty() || c.closing; });
    if (c.outbox.empty()) break;  // closing, and everything is sent
    std::string batch;
    batch.swap(c.outbox);        // take it all: one sendall for everything queued
    c.in_flight = batch.size();  // still in memory, still counted, until sendall returns
    lock.unlock();
    bool sent = true;
    try {
      c.socket.sendall(batch);
    } catch (const SocketError&) {
      sent = false;  // EPIPE, ECONNRESET: the reader will find out too
    }
    lock.lock();
    c.in_flight = 0;
    if (!sent) {
      c.closing = true;
      c.outbox.clear();
    }
    recount(c);
    if (!sent) break;
  }
  c.writer_done = true;
  lock.unlock();
  // Wake the reader if it still waits in recv(): the conversation is over.
  cut_off(c.socket);
  writer_finished_.notify_all();
  signals_.wake();
}

// ---------------------------------------------------------------------------------------
// Deliveries, under mutex_.

void ThreadedServer::apply(const Outcome& outcome, std::string_view address) {
  // --max-total-queue is checked before new lines are queued, not after: the writers have
  // had a moment to take what was queued last time, so a client that reads is not counted
  // as behind just because its writer thread has not run yet (there are no rounds here).
  if (queued_ > options_.max_total_queue) {
    drop_largest_queues();
    tell_about_slow_clients();  // before these lines: the dropped must not be queued them
  }
  for (const RoomEvent& event : outcome.events) {
    show(event, address);
    if (event.kind == RoomEvent::Kind::dropped) ++totals_.dropped;
  }
  for (const Delivery& d : outcome.deliveries) {
    const std::string bytes = wire(framing_, d.line);
    if (d.audience == Audience::one) {
      const auto it = clients_.find(d.client);
      if (it != clients_.end()) queue(*it->second, bytes);
      continue;
    }
    for (auto& [id, c] : clients_) {
      if (d.audience == Audience::others && id == d.client) continue;
      if (room_.contains(id)) queue(*c, bytes);
    }
  }
  tell_about_slow_clients();
}

void ThreadedServer::tell_about_slow_clients() {
  // Dropping one tells the others, which may push another over the limit: repeat. In the
  // order they were dropped: largest first, for --max-total-queue.
  while (!slow_.empty()) {
    std::vector<Client*> dropping;
    dropping.swap(slow_);
    for (Client* c : dropping) {
      Outcome dropped;
      room_.leave(c->id, LeaveReason::too_slow, dropped);
      apply(dropped);
    }
  }
}

void ThreadedServer::queue(Client& c, std::string_view bytes) {
  if (c.writer_done) return;
  c.outbox.append(bytes);
  recount(c);
  if (c.outbox.size() > options_.max_queue && room_.contains(c.id)) {
    drop(c);
    slow_.push_back(&c);
    return;
  }
  c.wake.notify_one();
}

// The running total moves by the difference each time an outbox or a batch changes: O(1),
// so nobody ever adds up every client's outbox while the room's lock is held.
void ThreadedServer::recount(Client& c) {
  const std::size_t now = c.outbox.size() + c.in_flight;
  queued_ = queued_ - c.counted + now;
  c.counted = now;
}

void ThreadedServer::drop(Client& c) {
  c.outbox.clear();  // it will never read it
  c.in_flight = 0;   // nor the batch its writer holds: cut_off() makes that send fail
  recount(c);
  c.closing = true;
  c.wake.notify_one();
  // Its writer may be stuck in send() and its reader in recv(): shutdown wakes both.
  cut_off(c.socket);
}

// --max-total-queue: many clients that each stay under --max-queue may still hold too much
// together. The ones with the most queued are the ones not reading: drop them first, until
// the total is back under the bound. Sorting is O(N log N), but only when over the bound.
void ThreadedServer::drop_largest_queues() {
  const std::vector<Client*> largest = largest_queues_first(clients_);
  for (Client* c : largest) {
    if (queued_ <= options_.max_total_queue) break;
    drop(*c);
    if (room_.contains(c->id)) slow_.push_back(c);  // apply() tells the room, as for --max-queue
  }
}

}  // namespace

int run_group_threads(const GroupOptions& options, Socket listener, StopSignals& signals) {
  ThreadedServer server(options, std::move(listener), signals);
  return server.run();
}

}  // namespace sockchat::cli
