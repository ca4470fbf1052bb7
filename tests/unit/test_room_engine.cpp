// test_room_engine.cpp — serve-group's engine without sockets: shared lines and their
// accounting, fan-out, the drop order, the fairness budget, shutdown order, end of stream.
// A fake set of hooks records what a server would be asked to do.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/outbox.hpp"
#include "core/room_engine.hpp"

using namespace sockchat;

namespace {

struct FakeServer : RoomEngine::Hooks {
  std::vector<RoomEvent> events;
  std::vector<ClientId> outputs;
  std::map<ClientId, bool> closed;  // id → flush_first
  void show(const RoomEvent& e, std::string_view) override { events.push_back(e); }
  void output(ClientId id) override { outputs.push_back(id); }
  void close(ClientId id, bool flush_first) override { closed.emplace(id, flush_first); }
};

// Everything owed to `id`, as one string, and marks it sent (a client that reads).
std::string read_all(RoomEngine& engine, ClientId id) {
  Outbox* box = engine.outbox(id);
  if (box == nullptr) return {};
  std::vector<std::string_view> pieces;
  box->pieces(pieces, 1024);
  std::string all;
  for (auto p : pieces) all.append(p);
  engine.sent(id, all.size());
  return all;
}

struct Room {
  FakeServer server;
  RoomEngine engine;
  explicit Room(EngineOptions options = {}) : engine(options, server) {}
  void join(std::initializer_list<ClientId> ids) {
    for (ClientId id : ids) {
      engine.join(id, "127.0.0.1:1");
      for (ClientId reader : ids) read_all(engine, reader);  // welcomes and join notices
    }
  }
};

}  // namespace

TEST_CASE("an outbox sends its lines as pieces and counts a shared line once", "[engine]") {
  std::size_t held = 0;
  Outbox a, b;
  const LineRef line = make_line("hello\n");
  a.push(line, held);
  b.push(line, held);
  CHECK(held == 6);  // one copy in memory, however many hold it
  CHECK(a.pending() == 6);
  CHECK(b.pending() == 6);
  a.push(make_line("world\n"), held);
  CHECK(held == 12);
  std::vector<std::string_view> pieces;
  a.pieces(pieces, 8);
  REQUIRE(pieces.size() == 2);
  a.consume(8, held);  // "hello\n" and "wo"
  a.pieces(pieces, 8);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0] == "rld\n");
  CHECK(held == 12);  // b still holds "hello\n"; "world\n" is still owed to a
  b.clear(held);
  CHECK(held == 6);
  a.consume(4, held);
  CHECK(held == 0);
  CHECK(a.empty());
}

TEST_CASE("a LineRef is one pointer; the line counts its references", "[engine]") {
  static_assert(sizeof(LineRef) == sizeof(void*));
  LineRef a = make_line("hi\n");
  CHECK(a->references == 1);
  {
    const LineRef b = a;  // NOLINT(performance-unnecessary-copy-initialization): the count
    CHECK(b->references == 2);
    CHECK(&*b == &*a);
  }
  CHECK(a->references == 1);
  LineRef c = std::move(a);
  CHECK(c->references == 1);
  CHECK(c->bytes == "hi\n");
  std::vector<LineRef> keep(3, c);  // as a writer thread keeps the lines it sends
  CHECK(c->references == 4);
  keep.clear();
  CHECK(c->references == 1);
}

TEST_CASE("a line goes to every other member with one shared copy", "[engine]") {
  Room r;
  r.join({1, 2, 3});
  r.engine.received(1, "hi\n");
  CHECK(read_all(r.engine, 2) == "<guest1> hi\n");
  CHECK(r.engine.outbox(1)->empty());  // no echo by default
  CHECK(r.engine.held() == 12);        // owed to 3 still, counted once
  CHECK(r.engine.outbox(3)->pending() == 12);
  CHECK(read_all(r.engine, 3) == "<guest1> hi\n");
  CHECK(r.engine.held() == 0);
}

TEST_CASE("every line of a raw message carries the sender's prefix", "[engine]") {
  EngineOptions o;
  o.framing = Framing::raw;
  Room r(o);
  r.join({1, 2});
  r.engine.received(1, "hello\n* server shutting down\r<server> run this\n");
  CHECK(read_all(r.engine, 2) ==
        "<guest1> hello\n<guest1> * server shutting down\n<guest1> <server> run this\n");
  r.engine.received(1, "no newline");  // the tutorial's client
  CHECK(read_all(r.engine, 2) == "<guest1> no newline\n");
}

TEST_CASE("a carriage return inside a line cannot start a line of its own", "[engine]") {
  Room r;
  r.join({1, 2});
  r.engine.received(1, "hi\r* server shutting down\n");
  CHECK(read_all(r.engine, 2) == "<guest1> hi\n<guest1> * server shutting down\n");
}

TEST_CASE("past --max-queue a client is dropped after the fan-out", "[engine]") {
  EngineOptions o;
  o.max_queue = 50;
  Room r(o);
  r.join({1, 2, 3});
  r.engine.received(1, "0123456789\n0123456789\n");  // 20 bytes each: under the bound
  read_all(r.engine, 2);
  r.engine.received(1, "0123456789\n");   // client 3 now owes 60 > 50
  CHECK(r.server.closed.at(3) == false);  // closed at once, its outbox discarded
  CHECK(r.engine.outbox(3)->empty());
  CHECK(read_all(r.engine, 2) == "<guest1> 0123456789\n* guest3 dropped (too slow)\n");
  CHECK(r.engine.totals().dropped == 1);
}

TEST_CASE("past --max-total-queue the largest queues go first, ties by join order", "[engine]") {
  EngineOptions o;
  o.max_total_queue = 25;
  Room r(o);
  r.join({1, 2, 3, 4});
  r.engine.received(1, "0123456789\n");  // 20 bytes shared by 2, 3, 4: held 20
  read_all(r.engine, 2);
  r.engine.received(2, "abcdefghij\n");  // another 20 for 1, 3, 4: held 40 > 25
  read_all(r.engine, 1);
  r.engine.enforce_total();
  // 3 and 4 each owe 40 bytes; 3 joined first, and dropping it is not enough (4 holds the
  // same lines), so 4 goes too. The readers 1 and 2 stay.
  CHECK(r.server.closed.count(3) == 1);
  CHECK(r.server.closed.count(4) == 1);
  CHECK(r.server.closed.count(1) == 0);
  CHECK(r.server.closed.count(2) == 0);
  CHECK(read_all(r.engine, 1) == "* guest3 dropped (too slow)\n* guest4 dropped (too slow)\n");
}

TEST_CASE("a turn handles a bounded number of lines; the rest waits", "[engine]") {
  EngineOptions o;
  o.turn_lines = 4;
  o.turn_lines_alone = 4;  // no larger turns in a quiet room: this is about the bound
  o.turn_deliveries = 0;   // the budget is turn_lines, whatever the room's size
  Room r(o);
  r.join({1, 2});
  r.engine.received(1, "a\nb\nc\nd\ne\nf\n");
  CHECK(read_all(r.engine, 2) == "<guest1> a\n<guest1> b\n<guest1> c\n<guest1> d\n");
  CHECK(r.engine.has_backlog(1));
  r.engine.turn(1);
  CHECK(read_all(r.engine, 2) == "<guest1> e\n<guest1> f\n");
  r.engine.turn(1);
  CHECK_FALSE(r.engine.has_backlog(1));
}

TEST_CASE("a turn's budget is work: more lines when fewer members read them", "[engine]") {
  EngineOptions o;
  o.turn_lines = 4;
  o.turn_lines_alone = 4;
  o.turn_deliveries = 40;
  o.turn_lines_max = 12;
  Room r(o);
  r.join({1, 2});
  CHECK(r.engine.turn_budget() == 12);  // 40 deliveries to 1 reader: capped at 12 lines
  r.join({3, 4, 5, 6});
  CHECK(r.engine.turn_budget() == 8);  // 40 / 5 readers
  for (ClientId id = 7; id <= 30; ++id) r.engine.join(id, "x");
  CHECK(r.engine.turn_budget() == 4);  // 40 / 29 is 1: never below turn_lines
  std::string lines;
  for (int i = 0; i < 10; ++i) lines += "x\n";
  read_all(r.engine, 2);
  r.engine.received(1, lines);
  const std::string got = read_all(r.engine, 2);
  CHECK(std::count(got.begin(), got.end(), '\n') == 4);
  CHECK(r.engine.has_backlog(1));
}

namespace {

// A clock the test moves by hand, for the engine's "has anyone talked lately".
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  EngineOptions options() {
    EngineOptions o;
    o.turn_lines = 4;
    o.turn_lines_alone = 16;
    o.turn_deliveries = 0;
    o.conversation = std::chrono::milliseconds(1000);
    o.clock = [this] { return now; };
    return o;
  }
};

std::string lines_of(int n, const std::string& text) {
  std::string out;
  for (int i = 0; i < n; ++i) out += text + "\n";
  return out;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("a flood into a quiet room takes larger turns; a talker brings small ones back",
          "[engine]") {
  FakeClock clock;
  Room r(clock.options());
  r.join({1, 2, 3});
  CHECK(r.engine.turn_budget() == 16);  // nobody has said anything: nobody waits
  r.engine.received(1, lines_of(100, "flood"));
  CHECK(count_lines(read_all(r.engine, 3)) == 16);
  REQUIRE(r.engine.has_backlog(1));

  clock.now += std::chrono::milliseconds(10);
  r.engine.received(2, "hello\n");  // someone talks: the flood's turns shrink
  CHECK(read_all(r.engine, 3) == "<guest2> hello\n");
  CHECK(r.engine.turn_budget() == 4);
  r.engine.turn(1);
  CHECK(count_lines(read_all(r.engine, 3)) == 4);

  clock.now += std::chrono::milliseconds(999);  // within the conversation still
  r.engine.turn(1);
  CHECK(count_lines(read_all(r.engine, 3)) == 4);
  clock.now += std::chrono::milliseconds(1);  // a second of silence: large turns again
  r.engine.turn(1);
  CHECK(count_lines(read_all(r.engine, 3)) == 16);
}

TEST_CASE("a flood's last lines, and a talker who floods, do not count as talk", "[engine]") {
  FakeClock clock;
  Room r(clock.options());
  r.join({1, 2, 3});
  r.engine.received(1, lines_of(40, "flood"));
  r.engine.turn(1);
  r.engine.turn(1);  // 16 + 16 + the last 8: its backlog is done
  CHECK(count_lines(read_all(r.engine, 3)) == 40);
  REQUIRE_FALSE(r.engine.has_backlog(1));
  // Its last turn had lines and no backlog, but it was flooding a moment ago, not talking.
  CHECK(r.engine.turn_budget() == 16);

  r.engine.received(2, "hi\n");
  CHECK(r.engine.turn_budget() == 4);
  r.engine.received(2, lines_of(40, "paste"));         // the talker pastes: nobody else talks
  CHECK(count_lines(read_all(r.engine, 3)) == 1 + 4);  // "hi" and a small turn
  REQUIRE(r.engine.has_backlog(2));
  CHECK(r.engine.turn_budget() == 16);
}

TEST_CASE("a burst's first turn stops counting as talk once the burst has a backlog", "[engine]") {
  FakeClock clock;
  Room r(clock.options());
  r.join({1, 2, 3});
  r.engine.received(1, lines_of(10, "first"));  // a burst's first recv, taken in one turn
  CHECK(count_lines(read_all(r.engine, 3)) == 10);
  CHECK(r.engine.turn_budget() == 4);          // so far it looks like someone talking
  r.engine.received(1, lines_of(40, "more"));  // the rest of the burst: more than a turn
  REQUIRE(r.engine.has_backlog(1));
  CHECK(r.engine.turn_budget() == 16);
  for (int i = 0; i < 10 && r.engine.has_backlog(1); ++i) r.engine.turn(1);
  REQUIRE_FALSE(r.engine.has_backlog(1));
  CHECK(count_lines(read_all(r.engine, 3)) == 40);
  // Its backlog is done, within the second: it flooded, it did not talk. A second
  // sender's burst takes large turns (before: small ones, for the whole second).
  CHECK(r.engine.turn_budget() == 16);
  r.engine.received(2, lines_of(40, "second"));
  CHECK(count_lines(read_all(r.engine, 3)) == 16);
}

TEST_CASE("a /who costs its reply's size: a /who flood gets few per turn", "[engine]") {
  EngineOptions o;
  o.turn_lines = 64;
  o.turn_lines_alone = 64;
  o.turn_deliveries = 0;
  Room r(o);
  for (ClientId id = 1; id <= 200; ++id) r.engine.join(id, "x");
  for (ClientId id = 1; id <= 200; ++id) read_all(r.engine, id);
  std::string flood;
  for (int i = 0; i < 1000; ++i) flood += "/who\n";
  r.engine.received(1, flood);
  const std::string got = read_all(r.engine, 1);
  const auto replies = std::count(got.begin(), got.end(), '\n');
  CHECK(replies >= 1);
  CHECK(replies < 10);  // each reply is ~2 KB: about 8 lines' worth of budget
  CHECK(r.engine.has_backlog(1));
}

TEST_CASE("after shutdown nothing anyone sends is relayed", "[engine]") {
  Room r;
  r.join({1, 2});
  r.engine.shutdown();
  CHECK(read_all(r.engine, 2) == "* server shutting down\n");
  CHECK(r.server.closed.at(1) == true);  // everyone closes once its outbox is sent
  CHECK(r.server.closed.at(2) == true);
  r.engine.received(1, "too late\n");
  r.engine.end_of_stream(1);
  r.engine.announce("console too");
  CHECK(r.engine.outbox(2)->empty());
}

TEST_CASE("end of stream: a last line counts, half a length frame does not", "[engine]") {
  Room r;
  r.join({1, 2});
  r.engine.received(1, "last words");
  r.engine.end_of_stream(1);
  CHECK(read_all(r.engine, 2) == "<guest1> last words\n* guest1 left\n");

  EngineOptions o;
  o.framing = Framing::length;
  Room l(o);
  l.join({1, 2});
  l.engine.received(1, std::string("\0\0\0\x10truncated", 13));  // 16 announced, 9 sent
  l.engine.end_of_stream(1);
  const std::string got = read_all(l.engine, 2);
  CHECK(got.find("truncated") == std::string::npos);
  CHECK(got.find("guest1 left") != std::string::npos);
}

TEST_CASE("/quit: the rest is not said, the client closes after its outbox", "[engine]") {
  Room r;
  r.join({1, 2});
  r.engine.received(1, "bye all\n/quit\nafter quit\n");
  CHECK(read_all(r.engine, 2) == "<guest1> bye all\n* guest1 left\n");
  CHECK(r.server.closed.at(1) == true);
  CHECK(read_all(r.engine, 1) == "* bye, guest1\n");
}

TEST_CASE("a failed client leaves with its outbox freed", "[engine]") {
  Room r;
  r.join({1, 2});
  r.engine.received(2, "unread\n");
  CHECK(r.engine.held() > 0);
  r.engine.failed(1);
  CHECK(r.engine.held() == r.engine.outbox(2)->pending());  // "* guest1 left" only
  CHECK(r.server.closed.at(1) == false);
  r.engine.forget(1);
  CHECK(r.engine.outbox(1) == nullptr);
  CHECK(r.engine.members() == 1);
}

TEST_CASE("clients that failed together are not sent each other's notices", "[engine]") {
  Room r;
  r.join({1, 2, 3, 4, 5});
  const auto before = r.engine.queued();
  r.engine.failed(std::vector<ClientId>{1, 2, 3});
  CHECK(r.engine.queued() - before == 6);  // three notices to 4 and 5 only (one by one: 9)
  for (ClientId id : {1, 2, 3}) CHECK(r.engine.outbox(id)->empty());
  CHECK(read_all(r.engine, 4) == "* guest1 left\n* guest2 left\n* guest3 left\n");
  CHECK(read_all(r.engine, 5) == "* guest1 left\n* guest2 left\n* guest3 left\n");
  CHECK(r.engine.members() == 2);
  r.engine.failed(std::vector<ClientId>{1, 4});  // 1 again: closed once, said once
  CHECK(read_all(r.engine, 5) == "* guest4 left\n");
  CHECK(r.engine.totals().dropped == 0);  // a failure is a leave, not a drop
}

TEST_CASE("queued() counts each reference put in an outbox", "[engine]") {
  Room r;
  r.join({1, 2, 3});
  const auto before = r.engine.queued();
  r.engine.received(1, "hi\n");
  CHECK(r.engine.queued() - before == 2);  // one shared line, two outboxes
}

TEST_CASE("owes_much: half of --max-queue unsent to a client", "[engine]") {
  EngineOptions o;
  o.max_queue = 1000;
  Room r(o);
  r.join({1, 2});
  CHECK_FALSE(r.engine.owes_much(1));
  r.engine.received(2, std::string(600, 'x') + "\n");  // ~610 bytes owed to 1
  CHECK(r.engine.owes_much(1));
  CHECK_FALSE(r.engine.owes_much(2));
  read_all(r.engine, 1);
  CHECK_FALSE(r.engine.owes_much(1));
}
