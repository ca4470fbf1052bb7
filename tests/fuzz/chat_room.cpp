// chat_room.cpp — ChatRoom's commands and names (core/chat_room.hpp), driven as a hostile
// group of up to six clients would: joins, leaves, any line, any command, any name.
//
// Input: a script. Byte 0 sets the options (bit 0 --echo); then each step is an operation
// byte, a client byte, and for a line its length byte and bytes. After every step the room must
// still keep its rules:
//   - its members are the clients that joined and have not left, each under a valid name,
//     no two names with the same key, none that passes for the server;
//   - what a client's line makes others read carries that client's name: it starts with
//     "<NAME>" or "* NAME ", never with "<server>", another name, or a bare notice;
//   - a delivery goes to a member (or to the client just leaving, its last words).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/chat_room.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using namespace sockchat;
using sockchat::fuzz::require;

constexpr int max_clients = 6;

// Does this line, shown to others, carry one of `names` as its sender?
bool signed_by(std::string_view line, const std::set<std::string>& names) {
  for (const std::string& name : names) {
    if (line.starts_with("<" + name + ">") || line.starts_with("* " + name + " ")) return true;
  }
  return false;
}

void check_members(const ChatRoom& room, const std::set<ClientId>& joined) {
  require(room.size() == joined.size(), "room size differs from the clients that joined");
  std::set<std::string> keys;
  for (const ClientId id : joined) {
    const std::string& name = room.name_of(id);
    require(room.contains(id), "a client that joined is not a member");
    require(valid_name(name), "a member's name is not a valid name", name);
    require(name_key(name) != name_key("server"), "a member passes for the server", name);
    require(keys.insert(name_key(name)).second, "two members share a name key", name);
  }
}

// What `sender`'s line made the room say: to others, only lines signed by the sender. The
// room is given one line at a time (room_engine.cpp fuzzes how a message becomes lines).
void check_signed(const Outcome& out, ClientId sender, const std::set<std::string>& names) {
  for (const Delivery& d : out.deliveries) {
    const bool to_others = d.audience != Audience::one || d.client != sender;
    if (to_others)
      require(signed_by(d.line, names), "others read a line its sender did not sign", d.line);
  }
}

void check_recipients(const Outcome& out, const ChatRoom& room, ClientId acting) {
  for (const Delivery& d : out.deliveries) {
    require(!d.line.empty(), "an empty delivery");
    if (d.audience == Audience::one) {
      require(room.contains(d.client) || d.client == acting, "a delivery to a non-member");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sockchat::fuzz::Input in(data, size);
  const std::uint8_t flags = in.byte();
  ChatRoom room(ChatRoom::Options{(flags & 1) != 0, 64, 1.5});
  std::set<ClientId> joined;
  for (int steps = 0; !in.empty() && steps < 256; ++steps) {
    const std::uint8_t op = in.byte();
    const ClientId id = 1 + in.byte() % max_clients;
    const std::set<std::string> before{room.name_of(id)};
    Outcome out;
    switch (op % 8) {
      case 0:
        room.join(id, out);
        joined.insert(id);
        break;
      case 1:
        room.leave(id, static_cast<LeaveReason>(op / 8 % 5), out);
        joined.erase(id);
        break;
      case 6:
        if (op & 8) {
          room.idle(id, out);
          joined.erase(id);
        } else {
          room.too_long(id, out);
        }
        break;
      case 7:
        if (op & 8) {
          room.shutdown(out);
        } else {
          room.announce(in.string(), out);
        }
        break;
      default: {  // most steps are a line from a client
        room.receive(id, in.string(), out);
        if (out.quit) joined.erase(id);
        std::set<std::string> names = before;
        names.insert(room.name_of(id));  // after /nick, the line names the new name too
        names.erase("");
        if (!before.begin()->empty()) check_signed(out, id, names);
      }
    }
    check_recipients(out, room, id);
    check_members(room, joined);
  }
  return 0;
}
