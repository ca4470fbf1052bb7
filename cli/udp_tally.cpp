#include "cli/udp_tally.hpp"

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/text.hpp"

namespace sockchat::cli {

namespace {

using nlohmann::json;
using udp_seq::Verdict;

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::first:
      return "first";
    case Verdict::in_order:
      return "in_order";
    case Verdict::gap:
      return "gap";
    case Verdict::duplicate:
      return "duplicate";
    case Verdict::reordered:
      return "reordered";
    case Verdict::out_of_range:
      return "out_of_range";
    case Verdict::restart:
      return "restart";
  }
  return "?";
}

// " (duplicate)", " (reordered)", " (3 missing before it)" or nothing.
std::string verdict_note(const udp_seq::Arrival& a) {
  if (a.verdict == Verdict::out_of_range) return " (out of range: not counted)";
  if (a.verdict == Verdict::restart) return " (the numbering jumped: counting again from here)";
  if (a.verdict == Verdict::duplicate || a.verdict == Verdict::reordered) {
    return fmt::format(" ({})", verdict_name(a.verdict));
  }
  if (a.verdict == Verdict::gap) return fmt::format(" ({} missing before it)", a.missing);
  return "";
}

json delay_json(const udp_seq::Spread& d) {
  return {{"min", d.min()}, {"avg", d.avg()}, {"max", d.max()}, {"jitter", d.jitter()}};
}

json seq_json(const udp_seq::SeqCounter& c) {
  const udp_seq::Report r = c.report();
  return {{"received", r.received},           {"unique", r.unique},
          {"expected", r.expected},           {"lost", r.lost},
          {"loss_percent", r.loss_percent()}, {"duplicated", r.duplicated},
          {"reordered", r.reordered},         {"out_of_range", r.out_of_range},
          {"bad_timestamps", r.bad_times},    {"delay_ms", delay_json(c.delay())}};
}

// "12 received, 1 lost (7.69%), 0 duplicated, 1 reordered[, 1 out of range]; delay ..."
std::string seq_text(const udp_seq::SeqCounter& c) {
  const udp_seq::Report r = c.report();
  const udp_seq::Spread& d = c.delay();
  std::string text = fmt::format("seq: {} received, {} lost ({:.2f}%), {} duplicated, {} reordered",
                                 r.received, r.lost, r.loss_percent(), r.duplicated, r.reordered);
  // Numbers far from the others (forged, or a jump): counted apart, never as lost.
  if (r.out_of_range) text += fmt::format(", {} out of range", r.out_of_range);
  text += fmt::format("; one-way delay min/avg/max/jitter = {:.3f}/{:.3f}/{:.3f}/{:.3f} ms",
                      d.min(), d.avg(), d.max(), d.jitter());
  if (r.bad_times) text += fmt::format(" ({})", plural(r.bad_times, "bad timestamp"));
  return text;
}

json counts_json(const SenderTally& s) {
  return {{"datagrams", s.datagrams}, {"bytes", s.bytes}, {"truncated", s.truncated}};
}

// The senders past Tally::max_senders, counted together.
std::string others_text(const SenderTally& s) {
  std::string line = fmt::format("other senders: {}, {}", plural(s.datagrams, "datagram"),
                                 plural(s.bytes, "byte"));
  if (s.truncated) line += fmt::format(", {} truncated", s.truncated);
  return line;
}

json sender_json(const SenderTally& s) {
  json j{{"from", s.from.to_string()},
         {"datagrams", s.datagrams},
         {"bytes", s.bytes},
         {"truncated", s.truncated}};
  if (s.seq) j["seq"] = seq_json(*s.seq);
  return j;
}

std::string sender_text(const SenderTally& s) {
  std::string line = fmt::format("{}: {}, {}", s.from.to_string(), plural(s.datagrams, "datagram"),
                                 plural(s.bytes, "byte"));
  if (s.truncated) line += fmt::format(", {} truncated", s.truncated);
  if (s.seq) line += "; " + seq_text(*s.seq);
  return line;
}

// "echo: 5 answered; not answered: 1 from its own port, 300 over 1000/s" (nonzero parts).
std::string echo_text(const EchoCounts& e) {
  std::string refused;
  auto part = [&](std::uint64_t n, std::string_view what) {
    if (n) refused += fmt::format("{}{} {}", refused.empty() ? "" : ", ", n, what);
  };
  part(e.own_port, "from this socket's own port");
  part(e.loop_port, "from a loop port (0, 7, 13, 19, 37)");
  part(e.too_fast, fmt::format("over {:g}/s to one sender", echo_rate));
  part(e.failed, "refused by sendto");
  return fmt::format("echo: {} answered{}", e.answered,
                     refused.empty() ? "" : "; not answered: " + refused);
}

}  // namespace

SenderTally& Tally::sender(const Address& from) {
  // The raw sockaddr is the key: cheaper than formatting the address for every datagram.
  std::string key(reinterpret_cast<const char*>(from.data()), from.size());
  if (auto it = senders_.find(key); it != senders_.end()) return it->second;
  if (senders_.size() >= max_senders) return others_;
  SenderTally& s = senders_[std::move(key)];
  s.from = from;
  return s;
}

EchoVerdict Tally::add(const Datagram& d, std::string_view data, std::int64_t now_ns,
                       double now_s) {
  if (datagrams_ == 0) first_s_ = last_report_s_ = now_s;
  last_s_ = now_s;
  ++datagrams_;
  bytes_ += d.full_size;
  SenderTally& s = sender(d.from);
  ++s.datagrams;
  s.bytes += d.full_size;
  if (d.truncated()) ++s.truncated;
  const auto header = udp_seq::decode(data);
  udp_seq::Arrival arrival;
  // The other senders' numbers are mixed streams: no accounting for them (and no 8 KiB).
  if (header && &s != &others_) {
    if (!s.seq) s.seq = std::make_unique<udp_seq::SeqCounter>();
    arrival = s.seq->add(*header, now_ns);
  }
  const EchoVerdict verdict = echo(s, d, now_s);
  if (!quiet_) show(d, data, header, arrival, verdict, now_ns);
  return verdict;
}

// Whether --echo answers this datagram (echo_guard.hpp), counted. Without --echo: no.
EchoVerdict Tally::echo(SenderTally& s, const Datagram& d, double now_s) {
  if (!echo_port_) return EchoVerdict::own_port;
  const EchoVerdict verdict = echo_verdict(d.from.port(), *echo_port_, s.echoes, now_s);
  switch (verdict) {
    case EchoVerdict::answer:
      ++echo_.answered;
      break;
    case EchoVerdict::own_port:
      ++echo_.own_port;
      break;
    case EchoVerdict::loop_port:
      ++echo_.loop_port;
      break;
    case EchoVerdict::too_fast:
      ++echo_.too_fast;
      break;
  }
  return verdict;
}

// One line per datagram: who, how big, the --seq fields, the text, and a refused echo.
void Tally::show(const Datagram& d, std::string_view data,
                 const std::optional<udp_seq::Header>& header, const udp_seq::Arrival& arrival,
                 EchoVerdict verdict, std::int64_t now_ns) {
  std::string_view text = header ? data.substr(udp_seq::header_size) : data;
  json event{{"event", "datagram"},
             {"from", d.from.to_string()},
             {"size", d.full_size},
             {"text", std::string(text)},
             {"truncated", d.truncated()}};
  std::string human = fmt::format("{} ({}{})", d.from.to_string(), plural(d.full_size, "byte"),
                                  d.truncated() ? fmt::format(", truncated to {}", d.size) : "");
  std::string fields;
  if (header) {
    // A send time that makes no sense (forged, or a clock far off) shows as such.
    const auto delay_ms = udp_seq::one_way_delay_ms(*header, now_ns);
    event["seq"] = header->seq;
    event["delay_ms"] = delay_ms ? json(*delay_ms) : json(nullptr);
    event["verdict"] = verdict_name(arrival.verdict);
    if (arrival.verdict == Verdict::gap) event["missing"] = arrival.missing;
    fields = fmt::format("seq={} delay={}{}", header->seq,
                         delay_ms ? fmt::format("{:.3f} ms", *delay_ms) : "? (bad timestamp)",
                         verdict_note(arrival));
  }
  if (!fields.empty() || !text.empty()) human += ": " + fields;
  if (!fields.empty() && !text.empty()) human += ": ";
  human += visible(text);  // a peer's control characters never reach the terminal
  if (echo_port_ && verdict != EchoVerdict::answer) {
    event["not_echoed"] = echo_refusal(verdict);
    human += fmt::format(" (not echoed: {})", echo_refusal(verdict));
  }
  emit(event, human);
}

void Tally::tick(double now_s) {
  if (!quiet_ || now_s - last_report_s_ < 1.0) return;
  last_report_s_ = now_s;
  for (auto& [key, s] : senders_) {
    if (s.datagrams == s.at_last_report) continue;
    json event = sender_json(s);
    event["event"] = "stats";
    event["seconds"] = now_s - first_s_;
    event["new"] = s.datagrams - s.at_last_report;
    emit(event, fmt::format("[{:6.1f} s] +{} {}", now_s - first_s_, s.datagrams - s.at_last_report,
                            sender_text(s)));
    s.at_last_report = s.datagrams;
  }
  if (others_.datagrams != others_.at_last_report) {
    json event = counts_json(others_);
    event["event"] = "stats";
    event["from"] = "other senders";
    event["seconds"] = now_s - first_s_;
    event["new"] = others_.datagrams - others_.at_last_report;
    emit(event, fmt::format("[{:6.1f} s] +{} {}", now_s - first_s_,
                            others_.datagrams - others_.at_last_report, others_text(others_)));
    others_.at_last_report = others_.datagrams;
  }
}

void Tally::summary(std::string_view why) const {
  const double seconds = last_s_ - first_s_;
  const double rate = seconds > 0 ? static_cast<double>(datagrams_ - 1) / seconds : 0.0;
  json event{{"event", "summary"}, {"reason", why}, {"datagrams", datagrams_}, {"bytes", bytes_},
             {"seconds", seconds}, {"rate", rate},  {"senders", json::array()}};
  std::string human = fmt::format("--- udp-recv: {} ({}) from {}", plural(datagrams_, "datagram"),
                                  plural(bytes_, "byte"), plural(senders_.size(), "sender"));
  if (others_.datagrams) human += " and others";
  if (seconds > 0) human += fmt::format(" in {:.3f} s, {:.0f} datagrams/s", seconds, rate);
  human += fmt::format(" (stopped: {}) ---", why);
  for (const auto& [key, s] : senders_) {
    event["senders"].push_back(sender_json(s));
    human += "\n" + sender_text(s);
  }
  if (others_.datagrams) {
    event["other_senders"] = counts_json(others_);
    human += "\n" + others_text(others_);
  }
  if (echo_port_) {
    event["echo"] = {{"answered", echo_.answered},
                     {"own_port", echo_.own_port},
                     {"loop_port", echo_.loop_port},
                     {"too_fast", echo_.too_fast},
                     {"failed", echo_.failed}};
    human += "\n" + echo_text(echo_);
  }
  emit(event, human);
}

}  // namespace sockchat::cli
