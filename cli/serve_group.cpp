// serve-group — the classroom group chat server (the tutorial's 群聊 server, done right).
//
//   sockchat serve-group [--port 8000] [--io epoll|poll|select|threads] [--framing line|raw|length]
//
// One program, four I/O models (--io), one set of room rules (core/chat_room):
//   epoll, poll, select   one thread, nonblocking sockets, an event loop (group_server.cpp);
//   threads               a reader and a writer thread per client (group_threads.cpp).
// Each client gets a name (guest1, guest2...), its lines go to everyone else as
// "<NAME> TEXT", and /nick /who /msg /me /help /quit work. Limits (--max-clients,
// --max-line, --max-queue, --max-total-queue, --idle-timeout, --allow, --deny) are
// explained to the client before it is closed. Read: socket(7), tcp(7), epoll(7), pthreads(7).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/group_common.hpp"
#include "cli/group_server.hpp"
#include "cli/group_threads.hpp"
#include "cli/tls_options.hpp"
#include "core/error.hpp"
#include "core/size.hpp"
#include "core/trace.hpp"

namespace sockchat::cli {

namespace {

// "a number > 0" with a short message (CLI11's PositiveNumber prints DBL_MAX in full).
CLI::Validator positive(const std::string& what) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(value) || value <= 0) {
          return "expected " + what + " > 0, got " + text;
        }
        return {};
      },
      what + " > 0");
}

// A size in bytes from 1 to `max`, or with a unit as iperf3 and dd take them ("65536",
// "64K", "1M"; core/size.hpp): CLI11 then stores the plain number.
CLI::Validator size_in_bytes(std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        const auto bytes = parse_size(text);
        if (!bytes || *bytes == 0 || *bytes > max) {
          const std::string range = max == std::numeric_limits<std::uint64_t>::max()
                                        ? "> 0"
                                        : fmt::format("from 1 to {}", max);
          return fmt::format("expected a size in bytes {} (such as 65536, 64K or 1M), got '{}'",
                             range, text);
        }
        text = std::to_string(*bytes);
        return {};
      },
      "");
}

void add_options(CLI::App& sub, GroupOptions& o) {
  auto* host =
      sub.add_option("--host", o.host, "address to listen on (0.0.0.0 or :: for every interface)")
          ->capture_default_str();
  auto* port = sub.add_option("--port", o.port, "port to listen on (0: the kernel picks one)")
                   ->capture_default_str();
  sub.add_option("--backlog", o.backlog, "listen() backlog")
      ->capture_default_str()
      ->check(positive("a backlog"));
  sub.add_option("--framing", o.framing, "line, raw (each recv() is a message) or length")
      ->capture_default_str()
      ->check(CLI::IsMember({"line", "raw", "length"}));
  sub.add_option("--io", o.io, "I/O model: epoll, poll, select or threads")
      ->capture_default_str()
      ->check(CLI::IsMember({"epoll", "poll", "select", "threads"}));
  sub.add_option("--max-clients", o.max_clients, "clients at most (default: no cap)")
      ->check(positive("a number of clients"));
  sub.add_option("--max-line", o.max_line, "longest line a client may send, in bytes")
      ->capture_default_str()
      ->type_name("BYTES")
      ->transform(size_in_bytes(std::uint64_t{16} << 20));
  sub.add_option("--max-queue", o.max_queue,
                 "output bytes a client may fall behind before it is dropped")
      ->capture_default_str()
      ->type_name("BYTES")
      ->transform(size_in_bytes());
  sub.add_option("--max-total-queue", o.max_total_queue,
                 "output bytes all clients together may fall behind (the most behind go first)")
      ->capture_default_str()
      ->type_name("BYTES")
      ->transform(size_in_bytes());
  sub.add_option("--idle-timeout", o.idle_timeout,
                 "disconnect a client silent for S seconds (default: never)")
      ->check(positive("a number of seconds"));
  sub.add_option("--allow", o.allow, "only clients from this CIDR block (repeatable)");
  sub.add_option("--deny", o.deny, "no clients from this CIDR block (repeatable)");
  sub.add_flag("--echo", o.echo, "senders also receive their own messages");
  // As for serve-1to1: --host 0.0.0.0 next to --unix must not be dropped without a word.
  sub.add_option("--unix", o.unix_path, "listen on a unix socket at PATH instead of TCP")
      ->each([&o](const std::string&) { o.unix_given = true; })
      ->excludes(host)
      ->excludes(port);
  add_tls_server_options(sub, o.tls);
}

int run_serve_group(GroupOptions options) {
  (void)options.access();  // a bad --allow/--deny is a usage error before anything starts
  // Bad --ssl-cert/--ssl-key files are usage errors too; the fingerprint goes in the hint.
  if (auto tls = server_tls(options.tls)) {
    options.tls_context = std::make_shared<const TlsContext>(std::move(*tls));
  }
  raise_descriptor_limit();
  // Undone last: a second Ctrl-C while the console drains still exits with 0.
  std::optional<StopSignals> signals;
  // A stdout nobody reads must never stall the room. Under --trace, stdout stays direct:
  // the console lines must come in order with the trace lines on stderr.
  std::optional<ConsoleOutput> console;
  if (!trace::enabled()) console.emplace();
  Socket listener = open_listener(options);  // descriptor 3, as in the lessons' traces
  signals.emplace();
  if (options.io == "threads") return run_group_threads(options, std::move(listener), *signals);
  return run_group_event_loop(options, std::move(listener), *signals,
                              console ? &*console : nullptr);
}

}  // namespace

void setup_serve_group(CLI::App& app) {
  auto options = std::make_shared<GroupOptions>();
  auto* sub = app.add_subcommand("serve-group",
                                 "group chat server for a classroom (ncat --chat, done right)");
  add_options(*sub, *options);
  sub->callback([options] { exit_code() = guarded([&] { return run_serve_group(*options); }); });
}

}  // namespace sockchat::cli
