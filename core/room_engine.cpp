#include "core/room_engine.hpp"

#include <algorithm>
#include <utility>

namespace sockchat {

void append_wire(std::string& out, Framing framing, std::string_view line) {
  if (framing == Framing::length) {
    out += encode(Framing::length, line);
    return;
  }
  out.append(line).append(1, '\n');
}

std::size_t wire_size(Framing framing, std::string_view line) {
  return line.size() + (framing == Framing::length ? 4 : 1);  // a 4-byte length, or '\n'
}

std::string wire(Framing framing, std::string_view line) {
  std::string out;
  out.reserve(wire_size(framing, line));
  append_wire(out, framing, line);
  return out;
}

RoomEngine::RoomEngine(EngineOptions options, Hooks& hooks)
    : options_(std::move(options)), hooks_(hooks), room_(options_.room) {}

RoomEngine::Client* RoomEngine::find(ClientId id) {
  const auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

const EngineTotals& RoomEngine::totals() {
  totals_.messages = room_.messages();
  return totals_;
}

// ---------------------------------------------------------------------------------------
// Coming and going.

void RoomEngine::join(ClientId id, std::string address) {
  auto [it, fresh] = clients_.try_emplace(
      id, Client{std::move(address), Decoder(options_.framing, options_.room.max_line), {}});
  if (!fresh) return;
  ++totals_.clients;
  outcome_.clear();
  address_ = it->second.address;
  room_.join(id, outcome_);
  apply(outcome_);
  address_ = {};
}

void RoomEngine::end(ClientId id, Client& c) {
  if (c.closing) return;
  c.closing = true;
  hooks_.close(id, true);
}

void RoomEngine::end_of_stream(ClientId id) {
  Client* c = find(id);
  if (c == nullptr || c->closing || c->dropped) return;
  outcome_.clear();
  if (!stopping_) {
    // A last line without '\n' still counts, as it does for nc. Half a length frame does
    // not: finish() gives "" for it.
    const std::string last = c->decoder.finish();
    if (!last.empty()) say_lines(id, last);
    room_.leave(id, LeaveReason::closed, outcome_);
  }
  apply(outcome_);
  end(id, *c);
}

void RoomEngine::failed(ClientId id) {
  Client* c = find(id);
  if (c != nullptr && !c->dropped) drop(id, *c, LeaveReason::error);
}

void RoomEngine::failed(const std::vector<ClientId>& ids) {
  std::vector<ClientId> gone;
  for (ClientId id : ids) {
    Client* c = find(id);
    if (c != nullptr && close_dropped(id, *c)) gone.push_back(id);  // queue() skips them now
  }
  if (stopping_) return;
  Outcome out;
  for (ClientId id : gone) room_.leave(id, LeaveReason::error, out);
  apply(out);
}

void RoomEngine::idle(ClientId id) {
  Client* c = find(id);
  if (c == nullptr || c->closing || c->dropped || stopping_) return;
  outcome_.clear();
  room_.idle(id, outcome_);  // "! idle for S s, disconnecting", and the others hear
  apply(outcome_);
  end(id, *c);
}

void RoomEngine::forget(ClientId id) {
  Client* c = find(id);
  if (c == nullptr) return;
  if (room_.contains(id) && !stopping_) {  // closed without a word from the server: say so
    Outcome out;
    room_.leave(id, LeaveReason::closed, out);
    apply(out);
  }
  c->outbox.clear(held_);
  clients_.erase(id);
}

// ---------------------------------------------------------------------------------------
// Input, in fair turns.

void RoomEngine::received(ClientId id, std::string_view bytes) {
  Client* c = find(id);
  if (c == nullptr || c->closing || c->dropped || stopping_) return;  // nothing more is said
  c->decoder.feed(bytes);
  handle(id, *c);
}

void RoomEngine::turn(ClientId id) {
  Client* c = find(id);
  if (c == nullptr || c->closing || c->dropped || stopping_) return;
  handle(id, *c);
}

std::size_t RoomEngine::turn_budget() const {
  return budget_at(options_.clock());
}

std::size_t RoomEngine::budget_at(std::chrono::steady_clock::time_point now) const {
  const std::size_t readers = std::max<std::size_t>(room_.size(), 2) - 1;
  // Someone talks when they said a line lately and have not flooded since: a flood's first
  // turn, before it has a backlog, looks like talk (then two senders' bursts would take
  // small turns for a whole second).
  const auto it = clients_.find(talker_);
  const bool flooded_since =
      it != clients_.end() && it->second.backlog_at && *it->second.backlog_at >= talk_at_;
  const bool talks =
      it != clients_.end() && !flooded_since && now - talk_at_ < options_.conversation;
  const std::size_t least = talks ? options_.turn_lines : options_.turn_lines_alone;
  return std::clamp(options_.turn_deliveries / readers, least,
                    std::max(least, options_.turn_lines_max));
}

bool RoomEngine::owes_much(ClientId id) const {
  const auto it = clients_.find(id);
  return it != clients_.end() && it->second.outbox.pending() > options_.max_queue / 2;
}

bool RoomEngine::has_backlog(ClientId id) const {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return false;
  const Client& c = it->second;
  return c.backlog && !c.closing && !c.dropped && !stopping_;
}

// Up to `budget` lines. A reply to the sender alone (/who is one line naming every member)
// costs one line per 256 bytes more: no command buys unbounded work in one turn.
void RoomEngine::handle(ClientId id, Client& c) {
  const auto now = options_.clock();
  const std::size_t budget = budget_at(now);
  outcome_.clear();
  std::size_t spent = 0;
  while (spent < budget && c.decoder.next(frame_)) {
    const std::size_t before = outcome_.deliveries.size();
    if (frame_.too_long || frame_.data.size() > options_.room.max_line) {
      room_.too_long(id, outcome_);
    } else {
      say_lines(id, frame_.data);
    }
    ++spent;
    for (std::size_t i = before; i < outcome_.deliveries.size(); ++i) {
      const Delivery& d = outcome_.deliveries[i];
      if (d.audience == Audience::one && d.client == id) spent += d.line.size() / 256;
    }
    if (outcome_.quit) break;  // /quit: whatever follows it is not said
  }
  c.backlog = spent >= budget;  // maybe more lines: they wait for its next turn
  if (c.backlog) {
    c.backlog_at = now;
  } else if (spent > 0 && (!c.backlog_at || now - *c.backlog_at >= options_.conversation)) {
    talk_at_ = now;  // a line from someone not flooding: small turns for a while
    talker_ = id;
  }
  apply(outcome_);
  if (outcome_.quit) end(id, c);
}

// A '\r' or '\n' inside a message starts a new line on a member's terminal, one that would
// not carry the sender's prefix ("hi\n* server shutting down"). So each line of a message
// is said on its own, with its own "<NAME> ". Raw framing's messages are whatever recv()
// returned, with or without newlines; a length frame is one message, shown as one.
void RoomEngine::say_lines(ClientId id, std::string_view text) {
  if (options_.framing == Framing::length) return room_.receive(id, text, outcome_);
  while (!text.empty() && !outcome_.quit) {
    // A loop, not find_first_of("\r\n"): that calls memchr on the set for every byte.
    const auto stop =
        std::find_if(text.begin(), text.end(), [](char ch) { return ch == '\r' || ch == '\n'; });
    const auto end = static_cast<std::size_t>(stop - text.begin());
    room_.receive(id, text.substr(0, end), outcome_);  // an empty line says nothing
    text.remove_prefix(std::min(end + 1, text.size()));
  }
}

void RoomEngine::announce(std::string_view text) {
  if (stopping_) return;
  outcome_.clear();
  room_.announce(text, outcome_);
  apply(outcome_);
}

void RoomEngine::shutdown() {
  if (stopping_) return;
  outcome_.clear();
  room_.shutdown(outcome_);
  apply(outcome_);
  stopping_ = true;  // from now on nothing anyone sends is relayed
  for (auto& [id, c] : clients_) {
    if (!c.dropped) end(id, c);
  }
}

// ---------------------------------------------------------------------------------------
// Output: one shared line per delivery, a reference in each outbox.

void RoomEngine::apply(const Outcome& outcome) {
  for (const RoomEvent& event : outcome.events) {
    hooks_.show(event, address_);
    if (event.kind == RoomEvent::Kind::dropped) ++totals_.dropped;
  }
  const auto& all = outcome.deliveries;
  for (std::size_t i = 0; i < all.size();) {
    // A run of lines for the same audience (a sender's burst) becomes one shared piece:
    // the same bytes in the same order for every recipient, pushed once per recipient.
    std::size_t next = i + 1, size = wire_size(options_.framing, all[i].line);
    while (all[i].audience != Audience::one && next < all.size() &&
           all[next].audience == all[i].audience && all[next].client == all[i].client) {
      size += wire_size(options_.framing, all[next++].line);
    }
    std::string bytes;
    bytes.reserve(size);  // one allocation, not one per doubling
    for (std::size_t k = i; k < next; ++k) append_wire(bytes, options_.framing, all[k].line);
    deliver(all[i], make_line(std::move(bytes)));  // built once for all its recipients
    i = next;
  }
  drop_slow();
}

void RoomEngine::deliver(const Delivery& d, const LineRef& line) {
  if (d.audience == Audience::one) {
    if (Client* c = find(d.client)) queue(d.client, *c, line);
    return;
  }
  for (auto& [id, c] : clients_) {
    if (d.audience == Audience::others && id == d.client) continue;
    if (!c.closing && room_.contains(id)) queue(id, c, line);
  }
}

void RoomEngine::queue(ClientId id, Client& c, const LineRef& line) {
  if (c.dropped || c.too_slow) return;
  const bool was_empty = c.outbox.empty();
  c.outbox.push(line, held_);
  ++queued_;
  if (c.outbox.pending() > options_.max_queue && !c.closing) {
    c.too_slow = true;  // dropped once this fan-out is done, never in the middle of it
    slow_.push_back(id);
    return;
  }
  if (was_empty) hooks_.output(id);
}

void RoomEngine::sent(ClientId id, std::size_t bytes) {
  if (Client* c = find(id)) c->outbox.consume(bytes, held_);
}

// Out of the room ("* NAME dropped (too slow)" to the others) and closed with whatever it
// had not read. A client already leaving is just closed: the room heard about it.
void RoomEngine::drop(ClientId id, Client& c, LeaveReason why) {
  if (!close_dropped(id, c) || stopping_) return;
  Outcome out;  // apply() may be running on outcome_ further up
  room_.leave(id, why, out);
  apply(out);
}

bool RoomEngine::close_dropped(ClientId id, Client& c) {
  if (c.dropped) return false;
  c.dropped = true;
  c.outbox.clear(held_);
  hooks_.close(id, false);
  return true;
}

void RoomEngine::drop_slow() {
  // Dropping one tells the others, which may push another over the limit: drop() applies
  // its notice, which comes back here.
  while (!slow_.empty()) {
    const ClientId id = slow_.back();
    slow_.pop_back();
    Client* c = find(id);
    if (c != nullptr && !c->dropped) drop(id, *c, LeaveReason::too_slow);
  }
}

// Many clients that each stay under --max-queue may hold too much together. The ones with
// the most unsent are the ones not reading: drop them first, until the total is back
// under the bound. Sorting is O(N log N), but only when over the bound.
void RoomEngine::enforce_total() {
  if (held_ <= options_.max_total_queue) return;
  std::vector<std::pair<std::size_t, ClientId>> largest;
  for (const auto& [id, c] : clients_) {
    if (!c.dropped && c.outbox.pending() > 0) largest.emplace_back(c.outbox.pending(), id);
  }
  std::sort(largest.begin(), largest.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (const auto& [pending, id] : largest) {
    if (held_ <= options_.max_total_queue) break;
    Client* c = find(id);
    if (c != nullptr && !c->dropped) drop(id, *c, LeaveReason::too_slow);
  }
}

Outbox* RoomEngine::outbox(ClientId id) {
  Client* c = find(id);
  return c == nullptr ? nullptr : &c->outbox;
}

}  // namespace sockchat
