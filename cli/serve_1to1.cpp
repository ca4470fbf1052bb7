// serve-1to1 — the tutorial's one-to-one chat server, done right.
//
// The recipe every TCP server follows: socket → setsockopt(SO_REUSEADDR) → bind → listen
// → accept → talk. It serves one client, full duplex (see chat_loop.hpp); --keep-open
// accepts the next one when a client leaves (like ncat -k, but one at a time). Piped, it
// is `nc -l`. Read: socket(2), socket(7) (SO_REUSEADDR), bind(2), listen(2), accept(2),
// getsockname(2), unix(7).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/chat_loop.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/tls_options.hpp"
#include "core/error.hpp"
#include "core/listener.hpp"
#include "core/trace.hpp"

namespace sockchat::cli {

struct Serve1to1Options {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  int backlog = 5;
  std::string framing = "line";
  bool keep_open = false;
  std::string unix_path;
  bool unix_given = false;  // --unix was given, even as '' (an error, not "use TCP")
  ModeOptions mode;
  TlsOptions tls;
};

namespace {

// --unix PATH, or --host and --port. Port 0 asks the kernel for a free one.
Address listen_address(const Serve1to1Options& o) {
  if (o.unix_given) return Address::unix_path(o.unix_path);  // '' is refused, not TCP
  return cli::listen_address(o.host, o.port);
}

// The kernel does not remove a unix socket's file when it is closed: we do, at exit.
struct SocketFileRemover {
  std::string path;
  ~SocketFileRemover() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

void announce(const Address& bound, const std::optional<TlsContext>& tls,
              const Serve1to1Options& o) {
  const bool everywhere = bound.host() == "0.0.0.0" || bound.host() == "::";
  if (everywhere) {
    warning(
        fmt::format("listening on every interface ({}): anyone who can reach this machine "
                    "can connect",
                    bound.to_string()));
  }
  notice({{"event", "listening"},
          {"address", bound.to_string()},
          {"host", bound.host()},
          {"port", bound.port()},
          {"family", trace::family_name(bound.family())},
          {"all_interfaces", everywhere}},
         fmt::format("listening on {}", bound.to_string()));
  if (tls) {
    // On every interface, the loopback works as printed on this machine.
    const std::string host = !everywhere                  ? bound.host()
                             : bound.family() == AF_INET6 ? "::1"
                                                          : "127.0.0.1";
    const std::string where =
        bound.is_unix() ? "unix:" + bound.host() : fmt::format("{} {}", host, bound.port());
    notice(
        {{"event", "tls"},
         {"fingerprint", tls->own_fingerprint()},
         {"ephemeral", o.tls.cert.empty()}},
        fmt::format("connect with: sockchat connect {}{}", where, tls_connect_flags(*tls, o.tls)));
  }
}

// accept(), after waiting in poll() where Ctrl-C and --timeout can end the wait. In
// nonblocking mode accept() is tried first and answers EAGAIN while nobody is waiting in
// the queue (--trace shows it). nullopt: a stop signal came.
std::optional<std::pair<Socket, Address>> accept_client(Socket& listener, int fd, Timeout mode,
                                                        StopSignals& stop,
                                                        const std::string& where) {
  for (;;) {
    if (is_nonblocking(mode)) {
      try {
        return listener.accept();
      } catch (const WouldBlockError&) {
      }
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = stop.poll(&p, 1, Deadline(wait_limit(mode)));
    if (ready < 0) return std::nullopt;
    if (ready == 0) throw TimeoutError("accept", where, *mode);
    if (!is_nonblocking(mode)) return listener.accept();
  }
}

// A stop signal came while a client's TLS handshake was waiting.
struct StoppedInHandshake {};

// The TLS handshake with a client, waiting in poll() where Ctrl-C can end the wait: a
// silent client must not hold the server for --ssl-handshake-timeout after a stop.
void handshake(TlsStream& stream, Timeout bound, StopSignals& stop) {
  stream.do_handshake(bound, [&stop](int fd, short events, const Deadline& deadline) {
    pollfd p{fd, events, 0};
    const int ready = stop.poll(&p, 1, deadline);
    if (ready < 0) throw StoppedInHandshake{};
    return ready > 0;
  });
}

// The chat with one client, over TLS when there is a context. A client that fails the
// handshake (plain text, a bad certificate, silence past --ssl-handshake-timeout) is
// reported in one line and is not served: false, and the server accepts the next one.
// A stop signal during the handshake: false, nothing to report.
bool chat_with(Socket& conn, const Address& peer, const std::optional<TlsContext>& tls,
               const Serve1to1Options& o, StopSignals& stop, ChatResult& result) {
  const ChatOptions options{*parse_framing(o.framing), {}, o.mode.to_timeout(), o.keep_open};
  if (!tls) {
    SocketStream plain(conn);
    result = chat(plain, peer, options, stop);
    return true;
  }
  TlsStream stream = TlsStream::server(*tls, conn, peer.to_string());
  stream.read_ahead();  // chat() asks buffered() before it waits: bulk reads take many records
  try {
    handshake(stream, o.tls.handshake_bound(), stop);
  } catch (const StoppedInHandshake&) {
    return false;
  } catch (const SocketError& e) {
    error(fmt::format("client {} dropped: {}", peer.to_string(), e.what()),
          errno_name(e.error_number()));
    return false;
  }
  report_handshake(stream, peer.to_string(), false);
  result = chat(stream, peer, options, stop);
  return true;
}

// One client, from accept to close; false if it never got past the TLS handshake. With
// --keep-open a client's failure (a reset, a timeout) ends that client only: it is
// reported and the server goes on.
bool serve_client(Socket conn, const Address& peer, const std::optional<TlsContext>& tls,
                  const Serve1to1Options& o, StopSignals& stop) {
  const Timeout mode = o.mode.to_timeout();
  if (mode) conn.settimeout(mode);  // the accepted socket starts blocking
  notice({{"event", "connected"}, {"peer", peer.to_string()}},
         fmt::format("client {} connected", peer.to_string()));
  ChatResult result;
  try {
    if (!chat_with(conn, peer, tls, o, stop, result)) return false;
  } catch (const SocketError& e) {
    if (!o.keep_open) throw;
    error(e.what(), errno_name(e.error_number()));
    return true;
  }
  conn.close();
  notice({{"event", "closed"},
          {"peer", peer.to_string()},
          {"reason", result.interrupted ? "interrupted" : "finished"},
          {"bytes_sent", result.sent},
          {"bytes_received", result.received}},
         fmt::format("connection with {} closed ({} sent, {} received)", peer.to_string(),
                     plural(result.sent, "byte"), result.received));
  return true;
}

}  // namespace

int run_serve_1to1(const Serve1to1Options& o) {
  StopSignals stop;  // armed: Ctrl-C ends the server cleanly (and removes a unix socket file)
  const Address address = listen_address(o);
  const std::optional<TlsContext> tls = server_tls(o.tls);  // bad --ssl-cert/--ssl-key: exit 2
  // socket() → setsockopt(SO_REUSEADDR) → bind() → listen(), in core/listener.cpp.
  Socket listener = open_listener(address, o.backlog);
  SocketFileRemover remover{address.is_unix() ? address.host() : std::string()};
  const Address bound = listener.getsockname();  // with --port 0, the port the kernel chose
  announce(bound, tls, o);
  const Timeout mode = o.mode.to_timeout();
  if (mode) listener.settimeout(mode);
  const int fd = listener.fileno();
  for (;;) {
    auto client = accept_client(listener, fd, mode, stop, bound.to_string());  // accept()
    if (!client) break;
    const bool served = serve_client(std::move(client->first), client->second, tls, o, stop);
    if ((served && !o.keep_open) || stop.requested()) break;
  }
  return 0;
}

void setup_serve_1to1(CLI::App& app) {
  auto options = std::make_shared<Serve1to1Options>();
  auto* sub = app.add_subcommand(
      "serve-1to1", "one-to-one chat server: accept one client, chat full duplex (nc -l)");
  auto* host = sub->add_option("--host", options->host,
                               "address to listen on (0.0.0.0 or :: for every interface)");
  auto* port = sub->add_option("--port", options->port, "port to listen on (0: the kernel picks)");
  host->capture_default_str();
  port->capture_default_str();
  sub->add_option("--backlog", options->backlog, "length of listen()'s queue")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub->add_option("--framing", options->framing, "line, raw (the tutorial's) or length")
      ->check(CLI::IsMember({"line", "raw", "length"}))
      ->capture_default_str();
  sub->add_flag("-k,--keep-open", options->keep_open,
                "when a client leaves, accept the next one (one at a time)");
  sub->add_option("--unix", options->unix_path, "listen on a unix socket at PATH instead")
      ->each([options](const std::string&) { options->unix_given = true; })
      ->excludes(host)
      ->excludes(port);
  add_mode_options(*sub, options->mode);
  sub->get_option("--nonblocking")->excludes(sub->get_option("--timeout"));
  add_tls_server_options(*sub, options->tls);
  sub->callback([options] { exit_code() = guarded([&] { return run_serve_1to1(*options); }); });
}

}  // namespace sockchat::cli
