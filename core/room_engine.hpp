// room_engine.hpp — serve-group's engine, written once for every I/O model, with no I/O:
// bytes in → frames (framing.hpp) → ChatRoom → one shared line per delivery → outboxes
// (outbox.hpp) → the drop policy → events for the console.
//
// The servers (cli/group_server.cpp: epoll, poll, select; cli/group_threads.cpp: a thread
// per client) only wait, lock, and move bytes between sockets and this engine. They call
// in; the engine calls back through Hooks ("this outbox has output", "close this one").
// Hooks must not call into the engine: a server acts on them after the call returns.
//
// Fair rounds: received() handles a bounded number of a client's lines at a time; what is
// left waits (has_backlog()) for the client's next turn, and a server reads at most
// `turn_bytes` from it per turn, so a flood stays in the kernel, where TCP's flow control
// slows its sender, while everyone else gets a turn. The bound is on work, not lines: a
// line to 1,000 readers costs what 100 lines to 10 readers cost, so a turn handles
// `turn_deliveries` / readers lines, at least `turn_lines` and at most `turn_lines_max`
// (128 lines in a room of 100 or more, as many as 1,422 in a room of 10): no turn does
// more work than 128 lines to 100 readers, except that a turn is never under 128 lines.
// Larger turns relay a flood faster than readers read, and a talker's line waits behind
// more of it (measured: docs/benchmarks.md, "Fairness"); a lone sender in a small room
// needs fewer rounds.
//
// Nobody talking, nobody waiting: while no one else has said anything for `conversation`
// (a paste, a file or a flood into a quiet room), a turn is at least `turn_lines_alone`
// lines. Each turn ends in a send to every reader, and a send costs the kernel about the
// same for 5 KB as for 20 KB: four times fewer sends took a burst at 100 and 1,000
// members to 0.34-0.41x the CPU per delivery. The first line of someone who talks (a
// client with no backlog of its own for `conversation`) brings the small turns back, until
// that client floods in its turn (a burst's first recv looks like talk).
// Tests: tests/unit/test_room_engine.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/chat_room.hpp"
#include "core/framing.hpp"
#include "core/outbox.hpp"

namespace sockchat {

struct EngineOptions {
  Framing framing = Framing::line;
  ChatRoom::Options room;
  std::size_t max_queue = std::size_t{1} << 20;         // one client's unsent bytes, at most
  std::size_t max_total_queue = std::size_t{64} << 20;  // bytes of lines held, each once
  std::size_t turn_bytes = 64 * 1024;                   // read from one client per turn
  std::size_t turn_lines = 128;                         // its lines handled per turn, at least
  std::size_t turn_deliveries = 128 * 100;              // ... or as many as reach this many
  std::size_t turn_lines_max = 4096;                    // ... but never more
  std::size_t turn_lines_alone = 512;                   // at least, while nobody else talks
  std::chrono::milliseconds conversation{1000};         // "else talks": said a line this recently
  std::function<std::chrono::steady_clock::time_point()> clock = std::chrono::steady_clock::now;
};

struct EngineTotals {
  std::uint64_t clients = 0, refused = 0, dropped = 0, messages = 0;
};

class RoomEngine {
 public:
  class Hooks {
   public:
    virtual ~Hooks() = default;
    virtual void show(const RoomEvent& event, std::string_view address) = 0;  // the console
    virtual void output(ClientId id) = 0;  // its outbox was empty and has lines now
    // Its conversation is over: close it once its outbox is sent (flush_first), or now.
    virtual void close(ClientId id, bool flush_first) = 0;
  };

  RoomEngine(EngineOptions options, Hooks& hooks);

  void join(ClientId id, std::string address);  // welcome it, tell the others
  // What recv() returned; handles up to turn_budget() lines. The rest waits for turn().
  void received(ClientId id, std::string_view bytes);
  void turn(ClientId id);               // the next turn_budget() lines of its backlog
  std::size_t turn_budget() const;      // lines per turn, for the room's size and talk now
  bool has_backlog(ClientId id) const;  // complete lines wait: do not read it yet
  // Half of --max-queue is owed to it (its own /who answers, or a room it reads slowly):
  // take no turn and read nothing of it until it has read, or it asks its way to a drop.
  bool owes_much(ClientId id) const;
  void end_of_stream(ClientId id);  // recv() returned 0
  void failed(ClientId id);         // recv() or send() failed: closed now
  // Several found dead in one pass over the sockets: all are out before any notice goes,
  // so none is sent another's "left" (a thousand clients gone at once would otherwise
  // cost a million references, half a million of them to the dead).
  void failed(const std::vector<ClientId>& ids);
  void idle(ClientId id);                // silent too long (--idle-timeout)
  void announce(std::string_view text);  // a console line: "<server> TEXT"
  void shutdown();                       // "* server shutting down"; no chat line after it
  bool stopping() const { return stopping_; }

  // What is owed to a client (nullptr if unknown), and what send() took of it.
  Outbox* outbox(ClientId id);
  void sent(ClientId id, std::size_t bytes);
  // --max-total-queue: past it, drops the clients with the most unsent bytes first (ties:
  // the earliest joined). A server calls it when its writers had their chance.
  void enforce_total();
  void forget(ClientId id);  // the server closed it: its record and outbox go

  std::size_t held() const { return held_; }        // bytes of lines in outboxes, each line once
  std::uint64_t queued() const { return queued_; }  // references ever put in outboxes
  std::size_t members() const { return room_.size(); }
  std::size_t connections() const { return clients_.size(); }
  const EngineTotals& totals();
  void refused() { ++totals_.refused; }
  const ChatRoom& room() const { return room_; }

 private:
  struct Client {
    std::string address;
    Decoder decoder;
    Outbox outbox;
    bool closing = false;  // left the room: gets only what is queued for it already
    bool dropped = false;  // closed without its outbox
    bool too_slow = false;
    bool backlog = false;  // its last turn ran out of budget
    std::optional<std::chrono::steady_clock::time_point> backlog_at{};  // a turn last did then
  };
  Client* find(ClientId id);
  std::size_t budget_at(std::chrono::steady_clock::time_point now) const;
  void handle(ClientId id, Client& c);
  void say_lines(ClientId id, std::string_view text);
  void apply(const Outcome& outcome);  // → console, shared lines, outboxes; then the drops
  void deliver(const Delivery& d, const LineRef& line);
  void queue(ClientId id, Client& c, const LineRef& line);
  void drop_slow();
  void drop(ClientId id, Client& c, LeaveReason why);
  bool close_dropped(ClientId id, Client& c);  // first half of drop(): false if done before
  void end(ClientId id, Client& c);            // left the room: close once its outbox is sent

  EngineOptions options_;
  Hooks& hooks_;
  ChatRoom room_;
  std::unordered_map<ClientId, Client> clients_;
  std::vector<ClientId> slow_;  // past --max-queue: dropped once the fan-out is done
  Outcome outcome_;             // reused: its vectors keep their capacity
  Frame frame_;                 // reused: the line being handled, in memory kept between lines
  std::string_view address_;    // for the console's "joined from" event
  std::chrono::steady_clock::time_point talk_at_;  // the last line said by someone who talks
  ClientId talker_ = 0;                            // ... and who said it (0: nobody yet)
  std::size_t held_ = 0;
  std::uint64_t queued_ = 0;
  EngineTotals totals_;
  bool stopping_ = false;
};

// Bytes on the wire for one line of the room: "line\n", or a length-prefixed frame.
// Raw framing sends lines too: the tutorial's client prints whatever recv() returns.
std::string wire(Framing framing, std::string_view line);
void append_wire(std::string& out, Framing framing, std::string_view line);  // wire(), appended
std::size_t wire_size(Framing framing, std::string_view line);               // wire().size()

}  // namespace sockchat
