// room_engine.cpp — serve-group's engine (core/room_engine.hpp): a peer's bytes, in any
// framing, through the decoder and the room to what every other member reads on the wire.
// The fuzzer plays the server: it joins clients, hands the engine what recv() "returned",
// sends each reader's outbox in pieces of any size, and closes whom the engine says to.
//
// Input: byte 0 sets the framing (line, raw, length), --echo (bit 3) and how it ends
// (bit 4: a shutdown, else everyone closes); then a script of steps,
// each an operation byte, a client byte, and for bytes a length byte and the bytes.
// A client whose join byte is a multiple of 20 reads everything after every step; the
// others read only when a step says so, so --max-queue and --max-total-queue drop them. Properties:
//   - what a peer's bytes make another member read is signed by that peer: every line (cut
//     at '\n' and '\r', as a terminal shows it; every frame, for length framing) starts
//     with "<NAME>" or "* NAME ", or is the server's "* OTHER dropped (too slow)";
//   - no client's unsent output is over --max-queue once a step is done;
//   - when everyone is gone, the engine holds no byte and no connection (and, unless it was
//     shut down, no member).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/room_engine.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat;
using sockchat::fuzz::require;

constexpr int max_clients = 6;
constexpr std::size_t max_queue = 2048;

struct Server : RoomEngine::Hooks {
  std::vector<std::pair<ClientId, bool>> to_close;  // (client, flush its outbox first)
  std::vector<RoomEvent> events;                    // what the console shows
  void show(const RoomEvent& event, std::string_view) override { events.push_back(event); }
  void output(ClientId) override {}
  void close(ClientId id, bool flush_first) override { to_close.emplace_back(id, flush_first); }
};

struct Member {
  bool reads = true;
  Decoder wire;  // what it receives, cut back into lines as its client would
};

class Harness {
 public:
  Harness(Framing framing, bool echo)
      : framing_(framing), engine_(options(framing, echo), server_) {}

  void step(sockchat::fuzz::Input& in) {
    const std::uint8_t op = in.byte();
    const ClientId id = 1 + in.byte() % max_clients;
    const std::set<std::string> names_before = names();
    server_.events.clear();
    const std::string sender_before = engine_.room().name_of(id);
    switch (op % 10) {
      case 0:
        if (members_.count(id) == 0) join(id, op % 20 == 0);
        break;
      case 5:
        engine_.turn(id);
        break;
      case 6:
        engine_.end_of_stream(id);
        break;
      case 7:
        op & 16 ? engine_.failed(id) : engine_.idle(id);
        break;
      case 8:
        op & 16 ? engine_.shutdown() : engine_.announce(in.string());
        break;
      case 9:
        if (op & 16) {
          engine_.enforce_total();  // the server's writers had their chance
        } else {
          send(id, in.byte());  // a reader or not, this time it reads a little
        }
        break;
      default:
        engine_.received(id, in.string());
        if (op & 16) {
          for (int turns = 0; engine_.has_backlog(id) && turns < 64; ++turns) engine_.turn(id);
        }
    }
    // What this step made the readers read: from a client's own bytes, signed by it.
    const bool from_peer = op % 10 != 0 && op % 10 != 7 && op % 10 != 8 && op % 10 != 9;
    std::set<std::string> signers{sender_before};
    for (const RoomEvent& e : server_.events) {  // "/nick a\n/nick b\n/quit": a, b sign too
      if (e.kind == RoomEvent::Kind::nick && signers.count(e.name)) signers.insert(e.text);
    }
    read_all(from_peer && !sender_before.empty() ? id : 0, signers, names_before);
    close_requested();
    read_all(0, {}, {});
    for (const auto& [client, m] : members_) {
      const Outbox* box = engine_.outbox(client);
      require(box == nullptr || box->pending() <= max_queue, "an outbox is over --max-queue");
    }
  }

  // Everyone goes: by a shutdown (the room is not emptied then: the server exits), or
  // one by one, closed by the server (the room empties too).
  void finish(bool shutdown) {
    if (shutdown) engine_.shutdown();
    close_requested();
    for (ClientId id = 1; id <= max_clients; ++id) engine_.forget(id);
    close_requested();
    require(engine_.held() == 0, "bytes held after everyone left");
    require(engine_.connections() == 0, "a connection left over");
    require(engine_.stopping() || engine_.members() == 0, "a member left over with no connection");
  }

 private:
  static EngineOptions options(Framing framing, bool echo) {
    EngineOptions o;
    o.framing = framing;
    o.room = ChatRoom::Options{echo, 64, 1.0};
    o.max_queue = max_queue;
    o.max_total_queue = 3 * max_queue;
    o.turn_lines = 4;        // small turns: backlogs happen
    o.turn_lines_alone = 4;  // and the same whatever the clock says: a run is repeatable
    o.turn_deliveries = 16;
    return o;
  }

  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& [id, m] : members_) {
      if (!engine_.room().name_of(id).empty()) out.insert(engine_.room().name_of(id));
    }
    return out;
  }

  void join(ClientId id, bool reads) {
    members_.try_emplace(id, Member{reads, Decoder(wire_framing(), 1 << 20)});
    engine_.join(id, "127.0.0.1:" + std::to_string(40000 + id));
  }

  // Line and raw framing both send lines; length framing sends frames.
  Framing wire_framing() const {
    return framing_ == Framing::length ? Framing::length : Framing::line;
  }

  // send() takes up to `limit` bytes of the client's outbox (all of it for 0), in pieces
  // as sendmsg() would. Returns what its client read, cut into lines.
  std::vector<std::string> send(ClientId id, std::size_t limit) {
    std::vector<std::string> lines;
    Outbox* box = engine_.outbox(id);
    const auto m = members_.find(id);
    if (box == nullptr || m == members_.end()) return lines;
    std::vector<std::string_view> pieces;
    box->pieces(pieces, 8);
    std::string bytes;
    for (const auto piece : pieces) bytes.append(piece);
    if (limit != 0 && bytes.size() > limit) bytes.resize(limit);
    engine_.sent(id, bytes.size());
    m->second.wire.feed(bytes);
    while (auto frame = m->second.wire.next()) lines.push_back(frame->data);
    return lines;
  }

  // Every reader reads everything. Lines that `sender`'s step made the others read must be
  // signed by it (sender 0: the server spoke, nothing to check).
  void read_all(ClientId sender, const std::set<std::string>& signers,
                const std::set<std::string>& before) {
    for (const auto& [id, m] : members_) {
      if (!m.reads) continue;
      std::vector<std::string> lines;
      for (int rounds = 0; rounds < 64; ++rounds) {
        const Outbox* box = engine_.outbox(id);
        if (box == nullptr || box->empty()) break;
        for (auto& line : send(id, 0)) lines.push_back(std::move(line));
      }
      if (sender == 0 || id == sender) continue;
      for (const std::string& line : lines) check_signed(line, signers, before);
    }
  }

  void check_signed(std::string_view text, const std::set<std::string>& signers,
                    const std::set<std::string>& before) const {
    for (;;) {
      const std::size_t cut =
          framing_ == Framing::length ? std::string_view::npos : text.find_first_of("\r\n");
      const std::string_view line = text.substr(0, cut);
      require(signed_by(line, signers) || dropped_notice(line, before),
              "a member read a line its sender did not sign", line);
      if (cut == std::string_view::npos) return;
      text.remove_prefix(cut + 1);
    }
  }

  static bool signed_by(std::string_view line, const std::set<std::string>& names) {
    for (const std::string& name : names) {
      if (line.starts_with("<" + name + ">") || line.starts_with("* " + name + " ")) return true;
    }
    return false;
  }

  // A flood may push a slow member over --max-queue: the server then says so.
  static bool dropped_notice(std::string_view line, const std::set<std::string>& before) {
    for (const std::string& name : before) {
      if (line == "* " + name + " dropped (too slow)") return true;
    }
    return false;
  }

  // The engine asked to close these: flush (a reader reads what it is owed), then forget.
  void close_requested() {
    for (int rounds = 0; !server_.to_close.empty() && rounds < 64; ++rounds) {
      const auto [id, flush] = server_.to_close.front();
      server_.to_close.erase(server_.to_close.begin());
      if (flush && members_.count(id) && members_.at(id).reads) send(id, 0);
      engine_.forget(id);
      members_.erase(id);
    }
  }

  Framing framing_;
  Server server_;
  RoomEngine engine_;
  std::map<ClientId, Member> members_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const std::uint8_t flags = in.byte();
  const Framing framing = flags % 3 == 0   ? Framing::line
                          : flags % 3 == 1 ? Framing::raw
                                           : Framing::length;
  Harness harness(framing, (flags & 8) != 0);
  for (int steps = 0; !in.empty() && steps < 256; ++steps) harness.step(in);
  harness.finish((flags & 16) != 0);
  return 0;
}
