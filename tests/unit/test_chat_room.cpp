// The group chat's rules, driven without any socket: names, guest numbering, every
// command, who receives what, renames and collisions, /msg to an unknown name, /quit,
// and the length limit's message.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "core/chat_room.hpp"

using namespace sockchat;

namespace {

// A room with members 1..n, recording what each would receive (deliveries expanded the
// way a server does).
struct Room {
  explicit Room(int n = 0, ChatRoom::Options options = {}) : room(options) {
    for (int i = 1; i <= n; ++i) join(i);
  }

  std::string join(ClientId id) {
    Outcome out;
    std::string name = room.join(id, out);
    members.insert(id);
    deliver(out);
    return name;
  }
  void say(ClientId id, std::string_view line) {
    Outcome out;
    room.receive(id, line, out);
    quit = out.quit;
    deliver(out);
  }
  void leave(ClientId id, LeaveReason why) {
    Outcome out;
    room.leave(id, why, out);
    members.erase(id);
    deliver(out);
  }
  void deliver(const Outcome& out) {
    events.insert(events.end(), out.events.begin(), out.events.end());
    for (const Delivery& d : out.deliveries) {
      if (d.audience == Audience::one) {
        inbox[d.client].push_back(d.line);
        continue;
      }
      for (ClientId m : members) {
        if (d.audience == Audience::everyone || m != d.client) inbox[m].push_back(d.line);
      }
    }
  }
  // Takes (and forgets) what `id` received so far.
  std::vector<std::string> take(ClientId id) { return std::exchange(inbox[id], {}); }
  void clear() {
    inbox.clear();
    events.clear();
  }

  ChatRoom room;
  std::set<ClientId> members;
  std::map<ClientId, std::vector<std::string>> inbox;
  std::vector<RoomEvent> events;
  bool quit = false;
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("new clients are guest1, guest2... welcomed, and announced to the others", "[room]") {
  Room r;
  CHECK(r.join(10) == "guest1");
  CHECK(r.join(20) == "guest2");
  CHECK(r.take(10) == Lines{"* welcome, guest1; /help lists commands", "* guest2 joined"});
  CHECK(r.take(20) == Lines{"* welcome, guest2; /help lists commands"});
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[1].kind == RoomEvent::Kind::joined);
  CHECK(r.events[1].name == "guest2");
}

TEST_CASE("guest numbers skip a name someone picked with /nick", "[room][nick]") {
  Room r(1);
  r.say(1, "/nick guest2");
  CHECK(r.join(2) == "guest3");
}

TEST_CASE("a message goes to everyone but its sender, prefixed once", "[room]") {
  Room r(3);
  r.clear();
  r.say(1, "hello 你好");
  CHECK(r.take(1).empty());
  CHECK(r.take(2) == Lines{"<guest1> hello 你好"});
  CHECK(r.take(3) == Lines{"<guest1> hello 你好"});
  CHECK(r.room.messages() == 1);
}

TEST_CASE("a cleared outcome's strings are used again, emptied", "[room]") {
  ChatRoom room;
  Outcome out;
  room.join(1, out);
  room.join(2, out);
  out.clear();
  const std::string text(100, 'x');  // longer than a string holds without the heap
  room.receive(1, text, out);
  REQUIRE(out.deliveries.size() == 1);
  const char* line_memory = out.deliveries[0].line.data();
  const char* event_memory = out.events[0].text.data();
  out.clear();
  room.receive(1, "hi", out);  // the same memory, emptied: no new allocation
  CHECK(out.deliveries[0].line == "<guest1> hi");
  CHECK(out.events[0].text == "hi");
  CHECK((out.deliveries[0].line.data() == line_memory ||
         out.deliveries[0].line.data() == event_memory));
  for (int i = 0; i < 8; ++i) CHECK(out.reuse().empty());  // whatever is left: empty too
}

TEST_CASE("echo mode (--echo) sends a message back to its sender too", "[room]") {
  Room r(2, {true, 4096, 0});
  r.clear();
  r.say(1, "hi");
  CHECK(r.take(1) == Lines{"<guest1> hi"});
  CHECK(r.take(2) == Lines{"<guest1> hi"});
}

TEST_CASE("bytes are relayed as they are: invalid UTF-8 and NUL included", "[room]") {
  Room r(2);
  r.clear();
  const std::string odd("a\xff\xfe\0b", 5);
  r.say(1, odd);
  CHECK(r.take(2) == Lines{"<guest1> " + odd});
}

TEST_CASE("an empty line says nothing; //text says /text", "[room]") {
  Room r(2);
  r.clear();
  r.say(1, "");
  r.say(1, "//not a command");
  CHECK(r.take(2) == Lines{"<guest1> /not a command"});
}

TEST_CASE("/nick renames, and everyone hears it", "[room][nick]") {
  Room r(2);
  r.clear();
  r.say(1, "/nick alice");
  CHECK(r.take(1) == Lines{"* guest1 is now known as alice"});
  CHECK(r.take(2) == Lines{"* guest1 is now known as alice"});
  CHECK(r.room.name_of(1) == "alice");
  REQUIRE(r.events.back().kind == RoomEvent::Kind::nick);
  CHECK(r.events.back().text == "alice");
  r.say(1, "hi");
  CHECK(r.take(2) == Lines{"<alice> hi"});
}

TEST_CASE("/nick refuses a taken name, ignoring case", "[room][nick]") {
  Room r(2);
  r.say(1, "/nick alice");
  r.clear();
  r.say(2, "/nick Alice");
  CHECK(r.take(2) == Lines{"! name taken"});
  CHECK(r.take(1).empty());
  CHECK(r.room.name_of(2) == "guest2");
}

TEST_CASE("/nick frees the old name for others", "[room][nick]") {
  Room r(2);
  r.say(1, "/nick alice");
  r.say(1, "/nick robert");
  r.clear();
  r.say(2, "/nick alice");
  CHECK(r.take(2) == Lines{"* guest2 is now known as alice"});
}

TEST_CASE("/nick checks the name's rules", "[room][nick]") {
  Room r(1);
  r.clear();
  for (const char* bad : {"/nick a b", "/nick server", "/nick ab\x1b[2J"}) {
    r.say(1, bad);
    const auto got = r.take(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].starts_with("! invalid name"));
  }
  r.say(1, "/nick");
  CHECK(r.take(1) == Lines{"! usage: /nick NAME"});
  r.say(1, "/nick " + std::string(33, 'x'));
  CHECK(r.take(1)[0].starts_with("! invalid name"));
  r.say(1, "/nick guest1");
  CHECK(r.take(1) == Lines{"! you are already guest1"});
}

TEST_CASE("valid_name: 1 to 32 characters, no spaces or controls", "[room][nick]") {
  CHECK(valid_name("a"));
  CHECK(valid_name(std::string(32, 'x')));
  CHECK_FALSE(valid_name(std::string(33, 'x')));
  CHECK(valid_name("王小明"));                      // 3 characters, 9 bytes
  CHECK(valid_name(std::string(32 * 3 / 3, 'y')));  // characters, not bytes, are counted
  std::string chinese;
  for (int i = 0; i < 32; ++i) chinese += "字";
  CHECK(valid_name(chinese));
  CHECK_FALSE(valid_name(chinese + "字"));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name("a b"));
  CHECK_FALSE(valid_name("tab\there"));
  CHECK_FALSE(valid_name("del\x7f"));
  CHECK_FALSE(valid_name("c1\xc2\x85"));  // U+0085, a C1 control
  CHECK_FALSE(valid_name("bad\xff"));     // not UTF-8
  CHECK_FALSE(valid_name("Server"));
  CHECK(name_key("AbC") == name_key("abc"));
}

// Names a reader can trust (Unicode TR39): nobody may look like the server, a notice, or
// another member. Each refusal is one "! invalid name: WHY" line to the sender alone.
TEST_CASE("names that would pass for the server are refused", "[room][nick]") {
  for (const char* bad : {
           "server",
           "Server",
           "SERVER",
           "\u0455erver",                           // Cyrillic dze: ѕerver
           "\uFF53erver",                           // fullwidth: ｓerver
           "\uFF33\uFF25\uFF32\uFF36\uFF25\uFF32",  // ＳＥＲＶＥＲ
           "\u0455\u0435rv\u0435r",                 // Cyrillic ѕ and е: mixed scripts
           "<server>",
           "server:",
           "serv\u0435r",
       }) {
    INFO(bad);
    CHECK_FALSE(valid_name(bad));
  }
  CHECK(name_problem("\uFF53erver") == "it looks like \"server\", the console's name");
  CHECK(name_problem("servers").empty());  // a different word is fine
}

TEST_CASE("names with <, > or :, or starting with * or !, are refused", "[room][nick]") {
  for (const char* bad : {"<bob>", "a<b", "b>", "bob:", "x:y", "*", "*bob", "!bob", "!"}) {
    INFO(bad);
    CHECK_FALSE(valid_name(bad));
  }
  CHECK(name_problem("bob:") ==
        "no '<', '>' or ':' (they would make it look like a line's sender)");
  CHECK(name_problem("*bob") ==
        "it may not start with '*' or '!' (they would make it look like a notice or an error)");
  CHECK(valid_name("bob*"));
  CHECK(valid_name("bob!"));
}

TEST_CASE("a name needs a letter or a digit", "[room][nick]") {
  for (const char* bad : {"^_^", "...", "-", "()", "\u3002\u3002", "\U0001F600"}) {
    INFO(bad);
    CHECK(name_problem(bad) == "it needs a letter or a digit");
  }
  CHECK(valid_name("42"));
  CHECK(valid_name("a_b"));
}

TEST_CASE("mixed-script names are refused, saying which scripts", "[room][nick]") {
  CHECK(name_problem("\u0430lice") == "mixes scripts (Cyrillic, Latin): use one");  // аlice
  CHECK(name_problem("b\u03BFb") == "mixes scripts (Greek, Latin): use one");       // bοb
  CHECK_FALSE(valid_name("1\u0663"));  // ASCII 1 beside an Arabic-Indic 3
}

TEST_CASE("names in one script stay welcome", "[room][nick]") {
  for (const char* good : {
           "\u5C0F\u660E",                    // 小明
           "\u0418\u0432\u0430\u043D",        // Иван
           "Jos\u00E9",                       // José
           "\uAE40\uBBFC\uC900",              // 김민준
           "\u5C71\u7530\u305F\u308D\u3046",  // 山田たろう: Han with kana, as Japanese is written
           "alice",
           "bob_2",
           "guest7",
       }) {
    INFO(good);
    CHECK(name_problem(good).empty());
  }
}

TEST_CASE("look-alikes share a key; the same name in other case is the same name", "[room][nick]") {
  CHECK(name_key("alice") == name_key("\u0430lice"));
  CHECK(name_key("alice") == name_key("ALICE"));
  CHECK(name_key("alice") == name_key("\uFF41lice"));  // fullwidth ａ
  CHECK(name_key("mallory") == name_key("rnallory"));  // rn reads as m
  CHECK(name_key("alice") != name_key("bob"));
  CHECK(name_fold("Alice") == name_fold("alice"));
  CHECK(name_fold("\u0430lice") != name_fold("alice"));
}

TEST_CASE("/nick refuses a look-alike of a member present, naming who", "[room][nick]") {
  Room r(3);
  r.say(1, "/nick alice");
  r.say(3, "/nick scope");
  r.clear();
  r.say(2, "/nick \u0430lice");  // аlice: Cyrillic а, Latin lice
  CHECK(r.take(2) == Lines{"! invalid name: mixes scripts (Cyrillic, Latin): use one"});
  r.say(2, "/nick \uFF41lice");  // ａlice: fullwidth is the same name typed wider
  CHECK(r.take(2) == Lines{"! name taken"});
  r.say(2, "/nick \u0455\u0441\u043E\u0440\u0435");  // ѕсоре, every letter Cyrillic
  CHECK(r.take(2) == Lines{"! name taken: it looks like scope, who is here"});
  r.say(2, "/nick rnallory");  // nobody is mallory: nothing to mistake it for
  CHECK(r.take(2) == Lines{"* guest2 is now known as rnallory"});
  CHECK(r.take(1) == Lines{"* guest2 is now known as rnallory"});
  r.say(1, "/nick mallory");
  CHECK(r.take(1) == Lines{"! name taken: it looks like rnallory, who is here"});
  CHECK(r.room.name_of(1) == "alice");
  r.say(1, "/nick Alice");  // her own name in other case: a rename, not a look-alike
  CHECK(r.take(1) == Lines{"* alice is now known as Alice"});
}

TEST_CASE("/nick refuses a look-alike across letter case and digits", "[room][nick]") {
  Room r(4);
  r.say(1, "/nick Alice");
  r.say(3, "/nick Olive");
  r.clear();
  r.say(2, "/nick AIice");  // capital I, small l: they read alike
  CHECK(r.take(2) == Lines{"! name taken: it looks like Alice, who is here"});
  r.say(2, "/nick 0live");  // a zero for an O
  CHECK(r.take(2) == Lines{"! name taken: it looks like Olive, who is here"});
  r.say(2, "/nick ALICE");  // her name in other case
  CHECK(r.take(2) == Lines{"! name taken"});
  r.say(4, "/nick aiice");  // folded, I is i: nobody reads it as Alice
  CHECK(r.take(4) == Lines{"* guest4 is now known as aiice"});
}

TEST_CASE("/msg finds a member by how the name looks", "[room][msg]") {
  Room r(2);
  r.say(1, "/nick alice");
  r.clear();
  r.say(2, "/msg ALICE hi");
  CHECK(r.take(1) == Lines{"<guest2> (private) hi"});
}

TEST_CASE("after /nick server: is refused, /me cannot forge a server notice", "[room][nick]") {
  Room r(2);
  r.clear();
  r.say(1, "/nick server:");
  CHECK(r.take(1)[0].starts_with("! invalid name: "));
  r.say(1, "/me left");
  CHECK(r.take(2) == Lines{"* guest1 left"});  // the name shows who speaks, never "server:"
}

TEST_CASE("/who lists every name in one notice, to the asker only", "[room][who]") {
  Room r(3);
  r.say(2, "/nick bob");
  r.clear();
  r.say(3, "/who");
  CHECK(r.take(3) == Lines{"* 3 online: guest1, bob, guest3"});
  CHECK(r.take(1).empty());
}

TEST_CASE("/msg reaches its addressee alone", "[room][msg]") {
  Room r(3);
  r.say(2, "/nick bob");
  r.clear();
  r.say(1, "/msg BOB psst, hi");
  CHECK(r.take(2) == Lines{"<guest1> (private) psst, hi"});
  CHECK(r.take(1).empty());
  CHECK(r.take(3).empty());
}

TEST_CASE("/msg to an unknown name, or without text, is an error", "[room][msg]") {
  Room r(2);
  r.clear();
  r.say(1, "/msg nobody hi");
  CHECK(r.take(1) == Lines{"! no such name: nobody"});
  r.say(1, "/msg guest2");
  CHECK(r.take(1) == Lines{"! usage: /msg NAME TEXT"});
  CHECK(r.take(2).empty());
}

TEST_CASE("/me is an action for the others", "[room][me]") {
  Room r(2);
  r.clear();
  r.say(1, "/me waves");
  CHECK(r.take(2) == Lines{"* guest1 waves"});
  CHECK(r.take(1).empty());
  r.say(1, "/me");
  CHECK(r.take(1) == Lines{"! usage: /me TEXT"});
}

TEST_CASE("/help answers the asker with one notice", "[room][help]") {
  Room r(2);
  r.clear();
  r.say(1, "/help");
  const auto got = r.take(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].starts_with("* commands: /nick NAME"));
  CHECK(got[0].find("/quit") != std::string::npos);
  CHECK(r.take(2).empty());
}

TEST_CASE("/quit says goodbye, leaves, and asks the server to close", "[room][quit]") {
  Room r(2);
  r.clear();
  r.say(1, "/quit");
  CHECK(r.quit);
  CHECK(r.take(1) == Lines{"* bye, guest1"});
  CHECK(r.take(2) == Lines{"* guest1 left"});
  CHECK_FALSE(r.room.contains(1));
}

TEST_CASE("an unknown command is named in the error", "[room]") {
  Room r(1);
  r.clear();
  r.say(1, "/dance now");
  CHECK(r.take(1) == Lines{"! unknown command /dance (try /help)"});
  r.say(1, "/WHO");  // commands ignore case
  CHECK(r.take(1) == Lines{"* 1 online: guest1"});
}

TEST_CASE("leaving tells the others why, and frees the name", "[room][leave]") {
  Room r(3);
  r.say(1, "/nick alice");
  r.say(2, "/nick bob");
  r.clear();
  r.leave(1, LeaveReason::closed);
  r.leave(2, LeaveReason::too_slow);
  CHECK(r.take(3) == Lines{"* alice left", "* bob dropped (too slow)"});
  CHECK(r.room.size() == 1);
  r.say(3, "/nick alice");
  CHECK(r.room.name_of(3) == "alice");
  r.leave(99, LeaveReason::closed);  // unknown: nothing happens
  CHECK(r.room.size() == 1);
}

TEST_CASE("too long and idle: the limits are explained with their values", "[room][limits]") {
  Room r(2, {false, 100, 2.5});
  r.clear();
  Outcome out;
  r.room.too_long(1, out);
  r.deliver(out);
  CHECK(r.take(1) == Lines{"! line too long (max 100 bytes)"});
  CHECK(r.room.contains(1));  // it stays
  out.clear();
  r.room.idle(1, out);
  r.deliver(out);
  CHECK(r.take(1) == Lines{"! idle for 2.5 s, disconnecting"});
  CHECK(r.take(2) == Lines{"* guest1 left (idle)"});
  CHECK_FALSE(r.room.contains(1));
}

TEST_CASE("the console speaks as <server>; shutdown reaches everyone", "[room]") {
  Room r(2);
  r.clear();
  Outcome out;
  r.room.announce("class starts", out);
  r.room.shutdown(out);
  r.deliver(out);
  CHECK(r.take(1) == Lines{"<server> class starts", "* server shutting down"});
  CHECK(r.take(2) == Lines{"<server> class starts", "* server shutting down"});
}

TEST_CASE("lines from a client that is not in the room are ignored", "[room]") {
  Room r(1);
  r.clear();
  r.say(42, "hello");
  CHECK(r.take(1).empty());
  CHECK(r.room.messages() == 0);
}
