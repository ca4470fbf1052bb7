#include "core/chat_room.hpp"

#include <utility>

#include <fmt/format.h>

#include "core/names.hpp"
#include "core/text.hpp"

namespace sockchat {

namespace {

constexpr std::string_view help_text =
    "* commands: /nick NAME (rename), /who (who is here), /msg NAME TEXT (private), "
    "/me TEXT (action), /help, /quit; any other line is said to everyone";

// "/msg bob hi there" → {"/msg", "bob hi there"}: the first word and the rest.
std::pair<std::string_view, std::string_view> split_word(std::string_view text) {
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return {text, {}};
  std::string_view rest = text.substr(space + 1);
  while (rest.starts_with(' ')) rest.remove_prefix(1);
  return {text.substr(0, space), rest};
}

}  // namespace

void Outcome::clear() {
  for (Delivery& d : deliveries) keep(d.line);
  for (RoomEvent& e : events) keep(e.text);
  deliveries.clear();
  events.clear();
  quit = false;
}

void Outcome::keep(std::string& s) {
  // Short strings live inside the std::string itself: nothing to keep. And a bound, so
  // that one huge outcome (everyone leaving at once) does not stay in memory for good: a
  // turn's lines and events (at most 1,422 of each in a room of 10) fit under it.
  if (s.capacity() > std::string().capacity() && spare_.size() < 4096) {
    spare_.push_back(std::move(s));
  }
}

std::string Outcome::reuse() {
  if (spare_.empty()) return {};
  std::string s = std::move(spare_.back());
  spare_.pop_back();
  s.clear();  // the memory stays
  return s;
}

ChatRoom::ChatRoom() : ChatRoom(Options{}) {}

ChatRoom::ChatRoom(Options options) : options_(options) {}

const std::string& ChatRoom::name_of(ClientId id) const {
  static const std::string none;
  const auto it = names_.find(id);
  return it == names_.end() ? none : it->second;
}

std::string ChatRoom::next_guest_name() {
  // Someone may already have picked "guest7" with /nick: skip names in use.
  for (;;) {
    std::string name = fmt::format("guest{}", next_guest_++);
    if (!look_alike(name)) return name;
  }
}

std::optional<ClientId> ChatRoom::look_alike(std::string_view name,
                                             std::optional<ClientId> self) const {
  const auto same = by_name_.find(name_key(name));
  if (same != by_name_.end() && same->second != self) return same->second;
  const auto same_shape = by_shape_.find(name_shape_key(name));
  if (same_shape != by_shape_.end() && same_shape->second != self) return same_shape->second;
  return std::nullopt;
}

void ChatRoom::add_name(ClientId id, std::string_view name) {
  by_name_[name_key(name)] = id;
  by_shape_[name_shape_key(name)] = id;
}

void ChatRoom::remove_name(std::string_view name) {
  by_name_.erase(name_key(name));
  by_shape_.erase(name_shape_key(name));
}

std::string ChatRoom::join(ClientId id, Outcome& out) {
  if (contains(id)) return name_of(id);
  std::string name = next_guest_name();
  names_[id] = name;
  add_name(id, name);
  out.deliveries.push_back(
      {Audience::one, id, fmt::format("* welcome, {}; /help lists commands", name)});
  out.deliveries.push_back({Audience::others, id, fmt::format("* {} joined", name)});
  out.events.push_back({RoomEvent::Kind::joined, name, {}});
  return name;
}

void ChatRoom::leave(ClientId id, LeaveReason why, Outcome& out) {
  const auto it = names_.find(id);
  if (it == names_.end()) return;
  const std::string name = it->second;
  remove_name(name);
  names_.erase(it);
  switch (why) {
    case LeaveReason::too_slow:
      out.deliveries.push_back(
          {Audience::others, id, fmt::format("* {} dropped (too slow)", name)});
      out.events.push_back({RoomEvent::Kind::dropped, name, "too slow"});
      return;
    case LeaveReason::idle:
      out.deliveries.push_back({Audience::others, id, fmt::format("* {} left (idle)", name)});
      out.events.push_back({RoomEvent::Kind::left, name, "idle"});
      return;
    default:
      out.deliveries.push_back({Audience::others, id, fmt::format("* {} left", name)});
      out.events.push_back(
          {RoomEvent::Kind::left, name, why == LeaveReason::quit ? "quit" : "closed"});
  }
}

void ChatRoom::receive(ClientId id, std::string_view line, Outcome& out) {
  if (!contains(id) || line.empty()) return;                        // an empty line says nothing
  if (line.starts_with("//")) return say(id, line.substr(1), out);  // "//x" says "/x"
  if (line.starts_with('/')) return command(id, line, out);
  say(id, line, out);
}

void ChatRoom::say(ClientId id, std::string_view text, Outcome& out) {
  const std::string& name = name_of(id);
  ++messages_;
  // "<NAME> text", appended rather than fmt::format()ted: a burst says millions of lines.
  std::string line = out.reuse();
  line.append("<").append(name).append("> ").append(text);
  out.deliveries.push_back({public_audience(), id, std::move(line)});
  std::string said = out.reuse();
  said.append(text);
  out.events.push_back({RoomEvent::Kind::message, name, std::move(said)});
}

void ChatRoom::command(ClientId id, std::string_view line, Outcome& out) {
  const auto [word, args] = split_word(line);
  const std::string verb = ascii_lower(word);  // "/NICK" is /nick
  if (verb == "/nick") return nick(id, args, out);
  if (verb == "/who") return who(id, out);
  if (verb == "/msg") return private_message(id, args, out);
  if (verb == "/me") return action(id, args, out);
  if (verb == "/help") return out.deliveries.push_back({Audience::one, id, std::string(help_text)});
  if (verb == "/quit") {
    out.deliveries.push_back({Audience::one, id, fmt::format("* bye, {}", name_of(id))});
    out.quit = true;
    return leave(id, LeaveReason::quit, out);
  }
  out.deliveries.push_back(
      {Audience::one, id, fmt::format("! unknown command {} (try /help)", word)});
}

void ChatRoom::nick(ClientId id, std::string_view name, Outcome& out) {
  while (name.ends_with(' ')) name.remove_suffix(1);
  if (name.empty()) {
    return out.deliveries.push_back({Audience::one, id, "! usage: /nick NAME"});
  }
  if (const std::string problem = name_problem(name); !problem.empty()) {
    return out.deliveries.push_back({Audience::one, id, "! invalid name: " + problem});
  }
  if (const auto taken = look_alike(name, id)) {
    const std::string& other = name_of(*taken);
    // The same name in other letter case is taken; a look-alike is refused as one.
    return out.deliveries.push_back(
        {Audience::one, id,
         name_fold(other) == name_fold(name)
             ? std::string("! name taken")
             : fmt::format("! name taken: it looks like {}, who is here", other)});
  }
  std::string& current = names_[id];
  if (current == name) {
    return out.deliveries.push_back({Audience::one, id, fmt::format("! you are already {}", name)});
  }
  remove_name(current);
  add_name(id, name);
  const std::string old = std::exchange(current, std::string(name));
  // Everyone, the renamed client included: it is the confirmation that the name is taken.
  out.deliveries.push_back(
      {Audience::everyone, id, fmt::format("* {} is now known as {}", old, current)});
  out.events.push_back({RoomEvent::Kind::nick, old, current});
}

void ChatRoom::who(ClientId id, Outcome& out) {
  std::string line = fmt::format("* {} online:", names_.size());
  const char* separator = " ";
  for (const auto& [member, name] : names_) {
    line.append(separator).append(name);
    separator = ", ";
  }
  out.deliveries.push_back({Audience::one, id, std::move(line)});
}

void ChatRoom::private_message(ClientId id, std::string_view args, Outcome& out) {
  const auto [to, text] = split_word(args);
  if (to.empty() || text.empty()) {
    return out.deliveries.push_back({Audience::one, id, "! usage: /msg NAME TEXT"});
  }
  const auto found = by_name_.find(name_key(to));
  if (found == by_name_.end()) {
    return out.deliveries.push_back({Audience::one, id, fmt::format("! no such name: {}", to)});
  }
  ++messages_;
  out.deliveries.push_back(
      {Audience::one, found->second, fmt::format("<{}> (private) {}", name_of(id), text)});
}

void ChatRoom::action(ClientId id, std::string_view text, Outcome& out) {
  if (text.empty()) return out.deliveries.push_back({Audience::one, id, "! usage: /me TEXT"});
  const std::string& name = name_of(id);
  ++messages_;
  out.deliveries.push_back({public_audience(), id, fmt::format("* {} {}", name, text)});
  out.events.push_back({RoomEvent::Kind::action, name, std::string(text)});
}

void ChatRoom::too_long(ClientId id, Outcome& out) {
  if (!contains(id)) return;
  out.deliveries.push_back(
      {Audience::one, id, fmt::format("! line too long (max {} bytes)", options_.max_line)});
}

void ChatRoom::idle(ClientId id, Outcome& out) {
  if (!contains(id)) return;
  out.deliveries.push_back(
      {Audience::one, id, fmt::format("! idle for {:g} s, disconnecting", options_.idle_timeout)});
  leave(id, LeaveReason::idle, out);
}

void ChatRoom::announce(std::string_view text, Outcome& out) {
  if (text.empty()) return;
  ++messages_;
  out.deliveries.push_back({Audience::everyone, 0, fmt::format("<server> {}", text)});
}

void ChatRoom::shutdown(Outcome& out) {
  out.deliveries.push_back({Audience::everyone, 0, "* server shutting down"});
}

}  // namespace sockchat
