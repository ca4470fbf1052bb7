// chat_room.hpp — the group chat's rules, with no sockets: names, commands, who hears what.
//
// The server turns bytes into lines (framing.hpp) and lines into calls here; the room
// answers with Deliveries ("send this line to this client, or to everyone but him") and
// Events (what the console shows). Because nothing here touches a descriptor, every rule
// is tested directly (tests/unit/test_chat_room.cpp), and the four I/O models of
// serve-group (epoll, poll, select, threads) share it unchanged.
//
// Lines from the server:  <NAME> TEXT   a message;   * TEXT   a notice;   ! TEXT   an error.
// Commands: /nick NAME, /who, /msg NAME TEXT, /me TEXT, /help, /quit. Which names are
// allowed, and which count as the same, is names.hpp's rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/names.hpp"

namespace sockchat {

using ClientId = std::uint64_t;

// Who receives a line: one client, every member but one, or every member.
enum class Audience { one, others, everyone };

struct Delivery {
  Audience audience = Audience::one;
  ClientId client = 0;  // the one (Audience::one) or the one left out (Audience::others)
  std::string line;     // without framing: the server adds '\n' or a length prefix
};

// What happened, for the server's console (human text or --json events).
struct RoomEvent {
  enum class Kind { joined, left, message, action, nick, dropped };
  Kind kind;
  std::string name;  // who; for nick, the old name
  std::string text;  // message/action text, the new name, or why someone left
};

enum class LeaveReason { closed, quit, idle, too_slow, error };

// The room's answer to one call. The server applies it: deliveries go to outboxes.
struct Outcome {
  std::vector<Delivery> deliveries;
  std::vector<RoomEvent> events;
  bool quit = false;  // the client asked to leave (/quit): close it once its outbox is sent
  void clear();       // keeps the strings' memory for reuse()
  // An empty string with the memory of one clear() let go. A burst says a million lines,
  // each a delivery and an event: an allocation and a free for each of their strings were
  // a seventh of the server's time in a room of 10 (perf).
  std::string reuse();

 private:
  void keep(std::string& s);
  std::vector<std::string> spare_;
};

class ChatRoom {
 public:
  struct Options {
    bool echo = false;            // --echo: a sender hears its own messages too
    std::size_t max_line = 4096;  // --max-line, quoted in "! line too long"
    double idle_timeout = 0;      // --idle-timeout, quoted in "! idle for S s"
  };
  ChatRoom();
  explicit ChatRoom(Options options);

  // A new client: named guest<N>, welcomed, announced to the others. Returns its name.
  std::string join(ClientId id, Outcome& out);
  // The client is gone (or going): the others hear why. Unknown ids are ignored.
  void leave(ClientId id, LeaveReason why, Outcome& out);
  // One complete line from a client: a message, or a command if it starts with '/'.
  void receive(ClientId id, std::string_view line, Outcome& out);
  // The client sent a line over max_line: it was discarded, and the client is told.
  void too_long(ClientId id, Outcome& out);
  // The client is about to be disconnected for silence (the server closes it after this).
  void idle(ClientId id, Outcome& out);
  // The server's console said something: "<server> TEXT" to everyone.
  void announce(std::string_view text, Outcome& out);
  // "* server shutting down" to everyone.
  void shutdown(Outcome& out);

  bool contains(ClientId id) const { return names_.count(id) != 0; }
  const std::string& name_of(ClientId id) const;  // "" if not a member
  std::size_t size() const { return names_.size(); }
  std::uint64_t messages() const { return messages_; }  // chat lines relayed so far

 private:
  void command(ClientId id, std::string_view line, Outcome& out);
  void nick(ClientId id, std::string_view name, Outcome& out);
  void who(ClientId id, Outcome& out);
  void private_message(ClientId id, std::string_view args, Outcome& out);
  void action(ClientId id, std::string_view text, Outcome& out);
  void say(ClientId id, std::string_view text, Outcome& out);
  std::string next_guest_name();
  // A member (other than `self`) whose name a reader could take for `name`, if any.
  std::optional<ClientId> look_alike(std::string_view name,
                                     std::optional<ClientId> self = std::nullopt) const;
  void add_name(ClientId id, std::string_view name);  // into both indexes
  void remove_name(std::string_view name);
  Audience public_audience() const { return options_.echo ? Audience::everyone : Audience::others; }

  Options options_;
  std::map<ClientId, std::string> names_;               // ordered by id: join order, for /who
  std::unordered_map<std::string, ClientId> by_name_;   // by name_key: look-alikes collide
  std::unordered_map<std::string, ClientId> by_shape_;  // by name_shape_key: AIice, Alice
  std::uint64_t next_guest_ = 1;
  std::uint64_t messages_ = 0;
};

}  // namespace sockchat
