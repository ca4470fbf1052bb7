#include "cli/group_server.hpp"

#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
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
constexpr auto closing_grace = std::chrono::seconds(5);  // to send a leaving client its last lines

struct Client {
  Client(Socket s, int descriptor, ClientId client_id, std::string from, Decoder d)
      : socket(std::move(s)),
        fd(descriptor),
        id(client_id),
        address(std::move(from)),
        decoder(std::move(d)) {}

  Socket socket;
  int fd = -1;
  ClientId id = 0;
  std::string address;
  Decoder decoder;
  std::string outbox;          // bytes for this client not yet taken by send()
  std::size_t sent = 0;        // how much of outbox send() already took
  std::size_t counted = 0;     // its share of the server's queued_ total (pending() when last seen)
  Clock::time_point heard;     // the last time it sent anything (--idle-timeout)
  Clock::time_point close_by;  // closing: give up on the outbox after this
  bool closing = false;        // out of the room: close as soon as the outbox is sent
  bool closed = false;         // closed in this round; freed after it
  bool touched = false;        // its outbox grew in this round
  bool too_slow = false;       // its outbox passed --max-queue
  bool writable_wanted = false;

  std::size_t pending() const { return outbox.size() - sent; }
};

class GroupServer {
 public:
  GroupServer(const GroupOptions& options, Socket listener, StopSignals& signals);
  int run();

 private:
  // Events from the loop.
  void on_listener();
  void on_client(Client& c, unsigned events);
  void on_signal();
  void on_console();
  void after_round();
  void on_tick();
  // The steps.
  void admit(Socket socket, const Address& peer);
  void receive(Client& c);
  void end_of_stream(Client& c);
  void apply(const Outcome& outcome, std::string_view address = {});
  void queue(Client& c, std::string_view bytes);
  void flush(Client& c);
  void start_closing(Client& c);
  void close_now(Client& c);
  void flush_touched();
  void recount(Client& c);
  void drop(Client& c);
  void drop_slow_clients();
  void drop_largest_queues();
  void shut_down();
  Client* find(ClientId id);

  const GroupOptions& options_;
  const Framing framing_;
  const AccessList access_;
  ChatRoom room_;
  EventLoop loop_;
  Socket listener_;
  int listener_fd_ = -1;
  bool listener_paused_ = false;
  std::size_t closing_count_ = 0;  // clients sending their last lines (timed by the tick)
  StopSignals& signals_;
  ConsoleInput console_;
  SpareDescriptor spare_;
  std::unordered_map<ClientId, std::unique_ptr<Client>> clients_;
  // Clients closed in a round stay in dead_ until it ends, so these pointers stay valid.
  std::vector<Client*> touched_;  // outboxes to flush after this round
  std::vector<Client*> slow_;     // clients past --max-queue, to drop after this round
  std::vector<std::unique_ptr<Client>> dead_;
  ClientId next_id_ = 1;
  std::size_t queued_ = 0;  // every client's pending() summed, kept up to date by recount()
  Outcome outcome_;         // reused: its vectors keep their capacity
  std::array<char, 64 * 1024> buffer_;  // one receive buffer for every client
  GroupTotals totals_;
};

GroupServer::GroupServer(const GroupOptions& options, Socket listener, StopSignals& signals)
    : options_(options),
      framing_(options.framing_kind()),
      access_(options.access()),
      room_(options.room()),
      loop_(make_poller(options.io)),
      listener_(std::move(listener)),
      signals_(signals) {
  listener_fd_ = listener_.fileno();
}

int GroupServer::run() {
  loop_.add(listener_fd_, Readable, [this](unsigned) { on_listener(); });
  loop_.add(signals_.fd(), Readable, [this](unsigned) { on_signal(); });
  try {
    loop_.add(STDIN_FILENO, Readable, [this](unsigned) { on_console(); });
  } catch (const SocketError&) {
    // stdin is a regular file or /dev/null: epoll cannot watch those. No console then.
  }
  loop_.after_each_round([this] { after_round(); });
  loop_.every(tick_interval, [this] { on_tick(); });
  loop_.run();
  remove_unix_path(options_);
  totals_.messages = room_.messages();
  show_summary(totals_);
  return 0;
}

// ---------------------------------------------------------------------------------------
// New clients.

void GroupServer::on_listener() {
  const bool ok = accept_pending(
      listener_, spare_, framing_, totals_,
      [this](Socket socket, const Address& peer) { admit(std::move(socket), peer); });
  if (!ok) {
    // Out of descriptors even with the spare: stop watching the listener until a tick
    // finds one free again, rather than spin. Connected clients keep being served.
    loop_.modify(listener_fd_, 0);
    listener_paused_ = true;
  }
}

void GroupServer::admit(Socket socket, const Address& peer) {
  if (auto why = refusal(options_, access_, peer, room_.size())) {
    ++totals_.refused;
    return refuse(socket, peer, *why, framing_);
  }
  const int fd = socket.fileno();
  if (!loop_.accepts(fd)) {
    ++totals_.refused;
    return refuse(socket, peer,
                  fmt::format("server full (select() cannot watch descriptor {} >= FD_SETSIZE {}; "
                              "the server should use --io epoll)",
                              fd, FD_SETSIZE),
                  framing_);
  }
  socket.setblocking(false);
  set_nodelay(socket);
  auto client = std::make_unique<Client>(std::move(socket), fd, next_id_++, peer.to_string(),
                                         Decoder(framing_, options_.max_line));
  Client& c = *client;
  c.heard = Clock::now();
  clients_.emplace(c.id, std::move(client));
  loop_.add(fd, Readable, [this, &c](unsigned events) { on_client(c, events); });
  ++totals_.clients;
  outcome_.clear();
  room_.join(c.id, outcome_);
  apply(outcome_, c.address);
}

// ---------------------------------------------------------------------------------------
// Reading: bytes → lines → the room → outboxes.

void GroupServer::on_client(Client& c, unsigned events) {
  if ((events & Writable) != 0) flush(c);
  if ((events & Readable) != 0 && !c.closing) receive(c);
}

void GroupServer::receive(Client& c) {
  std::size_t n = 0;
  try {
    n = c.socket.recv(buffer_.data(), buffer_.size());
  } catch (const WouldBlockError&) {
    return;  // a spurious wake-up: nothing to read after all
  } catch (const SocketError&) {
    // ECONNRESET and friends: its half line dies with it.
    outcome_.clear();
    room_.leave(c.id, LeaveReason::error, outcome_);
    apply(outcome_);
    return close_now(c);
  }
  if (n == 0) return end_of_stream(c);
  c.heard = Clock::now();
  c.decoder.feed({buffer_.data(), n});
  outcome_.clear();
  while (auto frame = c.decoder.next()) {
    if (frame->too_long || frame->data.size() > options_.max_line) {
      room_.too_long(c.id, outcome_);
    } else if (framing_ == Framing::raw) {
      room_.receive(c.id, without_line_ending(frame->data), outcome_);
    } else {
      room_.receive(c.id, frame->data, outcome_);
    }
    if (outcome_.quit) break;  // /quit: whatever follows it is not said
  }
  apply(outcome_);
  if (outcome_.quit) start_closing(c);
}

void GroupServer::end_of_stream(Client& c) {
  // The client closed (or half-closed) its side. A last line without '\n' still counts,
  // as it does for nc; then it leaves, and gets what is queued for it before we close.
  outcome_.clear();
  const std::string last = c.decoder.finish();
  if (!last.empty()) room_.receive(c.id, without_line_ending(last), outcome_);
  room_.leave(c.id, LeaveReason::closed, outcome_);
  apply(outcome_);
  start_closing(c);
}

// ---------------------------------------------------------------------------------------
// Writing: outboxes, flushed once per round.

Client* GroupServer::find(ClientId id) {
  const auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void GroupServer::apply(const Outcome& outcome, std::string_view address) {
  for (const RoomEvent& event : outcome.events) {
    show(event, address);
    if (event.kind == RoomEvent::Kind::dropped) ++totals_.dropped;
  }
  for (const Delivery& d : outcome.deliveries) {
    const std::string bytes = wire(framing_, d.line);  // encoded once, however many hear it
    if (d.audience == Audience::one) {
      if (Client* c = find(d.client)) queue(*c, bytes);
      continue;
    }
    for (auto& [id, c] : clients_) {
      if (c->closing || (d.audience == Audience::others && id == d.client)) continue;
      queue(*c, bytes);
    }
  }
}

void GroupServer::queue(Client& c, std::string_view bytes) {
  if (c.too_slow) return;
  if (c.sent > 0 && c.sent >= c.outbox.size() / 2) {  // reclaim what send() already took
    c.outbox.erase(0, c.sent);
    c.sent = 0;
  }
  c.outbox.append(bytes);
  recount(c);
  if (c.pending() > options_.max_queue && !c.closing) {
    c.too_slow = true;  // dropped after this round: never in the middle of a fan-out
    slow_.push_back(&c);
    return;
  }
  if (!c.touched) {
    c.touched = true;
    touched_.push_back(&c);
  }
}

void GroupServer::flush(Client& c) {
  if (c.pending() > 0) {
    try {
      c.sent += c.socket.send(std::string_view(c.outbox).substr(c.sent));
      recount(c);
    } catch (const WouldBlockError&) {
      // The kernel's send buffer is full: wait for writability below.
    } catch (const SocketError&) {
      // EPIPE, ECONNRESET: it is gone. Its recv() will say so; stop writing to it.
      c.outbox.clear();
      c.sent = 0;
      recount(c);
      if (c.closing) return close_now(c);
    }
  }
  if (c.pending() == 0) {
    c.outbox.clear();
    c.sent = 0;
    // Give a burst's memory back: 10,000 idle clients must not each keep a big buffer.
    if (c.outbox.capacity() > 4096) std::string().swap(c.outbox);
    if (c.closing) return close_now(c);
  }
  // Ask for writability only while something waits to be written (modify() skips the
  // syscall when nothing changes). A leaving client is not read any more.
  c.writable_wanted = c.pending() > 0;
  loop_.modify(c.fd, (c.closing ? 0 : Readable) | (c.writable_wanted ? Writable : 0));
}

// The running total of queued bytes moves by the difference each time an outbox changes:
// O(1) per change, so no round ever has to add up every client's outbox.
void GroupServer::recount(Client& c) {
  queued_ = queued_ - c.counted + c.pending();
  c.counted = c.pending();
}

void GroupServer::after_round() {
  drop_slow_clients();
  flush_touched();
  // Only what send() could not take counts: a client that reads has an empty outbox now.
  if (queued_ > options_.max_total_queue) {
    drop_largest_queues();
    drop_slow_clients();  // the notices may have pushed someone past --max-queue
    flush_touched();      // and they are owed to everyone else
  }
  dead_.clear();
  // The tick checks idle clients, closing clients and a paused listener; with none of
  // those, there is nothing to wake up for.
  loop_.set_ticking(options_.idle_timeout > 0 || closing_count_ > 0 || listener_paused_);
}

void GroupServer::flush_touched() {
  for (Client* c : touched_) {
    c->touched = false;
    if (!c->closed && !c->writable_wanted) flush(*c);  // else the Writable event will do it
  }
  touched_.clear();
}

// Out of the room ("* NAME dropped (too slow)" to the others), and closed with whatever
// it had not read. A client already leaving is just closed: the room heard about it.
void GroupServer::drop(Client& c) {
  outcome_.clear();
  room_.leave(c.id, LeaveReason::too_slow, outcome_);
  close_now(c);
  apply(outcome_);
}

void GroupServer::drop_slow_clients() {
  // Dropping one tells the others, which may push another over the limit: repeat.
  while (!slow_.empty()) {
    Client* c = slow_.back();
    slow_.pop_back();
    if (!c->closed) drop(*c);
  }
}

// --max-total-queue: many clients that each stay under --max-queue may still hold too much
// together. The ones with the most queued are the ones not reading: drop them first, until
// the total is back under the bound. Sorting is O(N log N), but only when over the bound.
void GroupServer::drop_largest_queues() {
  const std::vector<Client*> largest = largest_queues_first(clients_);
  // Each drop queues one notice to everyone left: the same bytes for all, so the order holds.
  for (Client* c : largest) {
    if (queued_ <= options_.max_total_queue) break;
    if (!c->closed) drop(*c);
  }
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
  queued_ -= c.counted;  // its outbox dies with it
  c.counted = 0;
  loop_.remove(c.fd);  // before close: the descriptor number may be reused at once
  c.socket.close();
  c.closed = true;
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
  for (auto& [id, c] : clients_) {
    if (c->closing ? now >= c->close_by : (options_.idle_timeout > 0 && now - c->heard >= idle)) {
      expired.push_back(c.get());
    }
  }
  for (Client* c : expired) {
    if (c->closing) {
      close_now(*c);
      continue;
    }
    outcome_.clear();
    room_.idle(c->id, outcome_);  // "! idle for S s, disconnecting", and the others hear
    apply(outcome_);
    start_closing(*c);
  }
}

// ---------------------------------------------------------------------------------------
// The console and the signals.

void GroupServer::on_console() {
  std::vector<std::string> lines;
  const bool open = console_.read_lines(lines);
  outcome_.clear();
  for (const auto& line : lines) {
    room_.announce(line, outcome_);
    if (!line.empty()) emit({{"event", "message"}, {"name", "server"}, {"text", line}}, {});
  }
  apply(outcome_);
  if (!open) loop_.remove(STDIN_FILENO);  // end of input: the room goes on without it
}

void GroupServer::on_signal() {
  if (signals_.drain()) shut_down();
}

void GroupServer::shut_down() {
  outcome_.clear();
  room_.shutdown(outcome_);
  apply(outcome_);
  std::vector<Client*> everyone;
  for (auto& [id, c] : clients_) everyone.push_back(c.get());
  for (Client* c : everyone) {
    flush(*c);  // one last try; a client that is not reading loses what does not fit
    if (c->closed) continue;
    try {
      c->socket.shutdown(SHUT_WR);
    } catch (const SocketError&) {
    }
    close_now(*c);
  }
  loop_.stop();
}

}  // namespace

int run_group_event_loop(const GroupOptions& options, Socket listener, StopSignals& signals) {
  GroupServer server(options, std::move(listener), signals);
  return server.run();
}

}  // namespace sockchat::cli
