#include "core/chat_room.hpp"

#include <utility>

#include <fmt/format.h>

#include "core/text.hpp"

namespace sockchat {

namespace {

constexpr std::size_t max_name_chars = 32;

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

std::size_t utf8_chars(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The code point starting at text[i] and its length; `text` is valid UTF-8 (checked first).
std::pair<char32_t, std::size_t> code_point(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  char32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  }
  return {cp, n};
}

// Characters a name must not have because a reader cannot see them for what they are:
// controls (C0, DEL, C1), every kind of space (U+00A0, U+3000...), zero-width and bidi
// formatting characters (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069: "x\u202Ey" displays
// reversed), blank fillers and tag characters. See Unicode's Default_Ignorable_Code_Point
// and White_Space properties, and Unicode TR #36 "Security Considerations".
bool invisible_or_space(char32_t cp) {
  if (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0)) return true;  // C0, space, DEL, C1, NBSP
  if (cp == 0xAD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160) return true;
  if (cp == 0x1680 || cp == 0x180E || cp == 0x3000 || cp == 0x3164 || cp == 0xFEFF) return true;
  if (cp >= 0x2000 && cp <= 0x200F) return true;  // spaces, zero-width, LRM/RLM
  if (cp >= 0x2028 && cp <= 0x202F) return true;  // line/paragraph separators, bidi, NNBSP
  if (cp >= 0x205F && cp <= 0x206F) return true;  // math space, word joiner, bidi isolates
  if (cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB)) return true;  // fillers, annotations
  return cp >= 0xE0000 && cp <= 0xE0FFF;  // tags and variation selectors supplement
}

bool has_control_or_space(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto [cp, n] = code_point(text, i);
    if (invisible_or_space(cp)) return true;
    i += n;
  }
  return false;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || !valid_utf8(name) || has_control_or_space(name)) return false;
  return utf8_chars(name) <= max_name_chars && name_key(name) != "server";
}

std::string name_key(std::string_view name) {
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

void Outcome::clear() {
  deliveries.clear();
  events.clear();
  quit = false;
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
    if (by_name_.count(name_key(name)) == 0) return name;
  }
}

std::string ChatRoom::join(ClientId id, Outcome& out) {
  if (contains(id)) return name_of(id);
  std::string name = next_guest_name();
  names_[id] = name;
  by_name_[name_key(name)] = id;
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
  by_name_.erase(name_key(name));
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
  out.deliveries.push_back({public_audience(), id, fmt::format("<{}> {}", name, text)});
  out.events.push_back({RoomEvent::Kind::message, name, std::string(text)});
}

void ChatRoom::command(ClientId id, std::string_view line, Outcome& out) {
  const auto [word, args] = split_word(line);
  const std::string verb = name_key(word);  // commands ignore case: /NICK works too
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
  if (!valid_name(name)) {
    return out.deliveries.push_back(
        {Audience::one, id,
         "! invalid name (1-32 characters, no spaces or control characters, not \"server\")"});
  }
  const std::string key = name_key(name);
  const auto taken = by_name_.find(key);
  if (taken != by_name_.end() && taken->second != id) {
    return out.deliveries.push_back({Audience::one, id, "! name taken"});
  }
  std::string& current = names_[id];
  if (current == name) {
    return out.deliveries.push_back({Audience::one, id, fmt::format("! you are already {}", name)});
  }
  by_name_.erase(name_key(current));
  by_name_[key] = id;
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
