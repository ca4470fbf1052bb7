// connect — the tutorial's one-to-one chat client, done right.
//
// The client's recipe is short: socket → connect → talk. A host name may stand for
// several addresses (localhost is ::1 and 127.0.0.1): each is tried in turn, as nc does.
// On a terminal it is a chat (full duplex, see chat_loop.hpp); piped, it is `nc HOST PORT`.
// Read: socket(2), connect(2), getaddrinfo(3), getsockopt(2) (SO_ERROR), unix(7).
#include <cerrno>
#include <exception>
#include <memory>

#include <fmt/format.h>

#include "cli/chat_loop.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/tls_options.hpp"
#include "core/error.hpp"

namespace sockchat::cli {

struct ConnectOptions {
  std::string host;
  std::string port;         // not given: 8000, or the one attached to HOST ("[::1]:8000")
  bool port_given = false;  // PORT was given, even as '' (an error, not "use 8000")
  std::string framing = "line";
  std::string nick;
  ModeOptions mode;
  TlsOptions tls;
};

namespace {

// The host part of HOST, as TLS names it (SNI, the certificate check): "localhost" for
// "localhost:8443", "::1" for "[::1]:8443"; empty for a unix socket.
std::string host_name(const ConnectOptions& o) {
  if (o.host.starts_with("unix:")) return {};
  return split_host_port(o.host).first;
}

// HOST [PORT] → the addresses to try. HOST is unix:/path, a literal (127.0.0.1, ::1,
// [::1]), a name, or host:port in one word.
std::vector<Address> targets(const ConnectOptions& o) {
  if (o.host.starts_with("unix:")) {
    if (o.port_given) throw UsageError("a unix socket takes no port: " + o.host);
    return {Address::unix_path(o.host.substr(5))};
  }
  const auto [host, attached] = split_host_port(o.host);
  if (host.empty()) throw UsageError(fmt::format("no host in '{}'", o.host));
  if (!attached.empty() && o.port_given) {
    throw UsageError(fmt::format("port given twice: in '{}' and as '{}'", o.host, o.port));
  }
  const std::string port = !attached.empty() ? attached : o.port_given ? o.port : "8000";
  return Address::resolve(host, parse_port(port));
}

// connect() in Python's three modes. Blocking: connect waits. --timeout: core's
// connect-with-timeout. --nonblocking: the steps made visible — connect answers
// EINPROGRESS at once, poll waits until the socket is writable, getsockopt(SO_ERROR)
// says whether the handshake succeeded.
void connect_in_mode(Socket& sock, const Address& address, Timeout mode) {
  if (!is_nonblocking(mode)) {
    if (mode) sock.settimeout(mode);
    sock.connect(address);
    return;
  }
  sock.setblocking(false);
  int err = sock.connect_ex(address);
  if (err == EINPROGRESS) {
    wait_ready(sock.fileno(), POLLOUT, Deadline(std::nullopt));
    err = sock.getsockopt(SOL_SOCKET, SO_ERROR);
  }
  if (err != 0) throw SocketError("connect", address.to_string(), err);
}

// socket() + connect() on each address until one answers; the last failure otherwise.
std::pair<Socket, Address> connect_any(const std::vector<Address>& addresses, Timeout mode) {
  std::exception_ptr failure;
  for (const Address& address : addresses) {
    try {
      Socket sock(address.family(), SOCK_STREAM);  // socket()
      connect_in_mode(sock, address, mode);        // connect()
      return {std::move(sock), address};
    } catch (const SocketError&) {
      failure = std::current_exception();
    }
  }
  std::rethrow_exception(failure);
}

// The conversation over TLS: wrap the socket, handshake (bounded), say what was agreed.
ChatResult chat_over_tls(const TlsContext& context, Socket& sock, const Address& peer,
                         const ConnectOptions& o, const ChatOptions& chat_options,
                         StopSignals& stop) {
  TlsStream tls = TlsStream::client(context, sock, host_name(o), peer.to_string());
  tls.read_ahead();  // chat() asks buffered() before it waits: bulk reads take many records
  tls.do_handshake(o.tls.handshake_bound());
  report_handshake(tls, peer.to_string(), o.tls.client.no_verify);
  return chat(tls, peer, chat_options, stop);
}

}  // namespace

int run_connect(const ConnectOptions& o) {
  // Ctrl-C while connecting (and during a TLS handshake) simply exits: nothing to undo yet.
  // Over plain TCP it is armed before "connected" is printed, so whoever saw that line also
  // sees the "closed" summary, however soon a signal comes; over TLS chat() arms it.
  StopSignals stop(false);
  const std::vector<Address> addresses = targets(o);
  const std::optional<TlsContext> tls = client_tls(o.tls);  // a bad --ssl-trustfile: exit 2
  const Timeout mode = o.mode.to_timeout();
  auto [sock, peer] = connect_any(addresses, mode);
  if (!tls) stop.arm();
  notice({{"event", "connected"}, {"peer", peer.to_string()}},
         fmt::format("connected to {}", peer.to_string()));
  const ChatOptions chat_options{*parse_framing(o.framing), o.nick, mode};
  ChatResult result;
  if (tls) {
    result = chat_over_tls(*tls, sock, peer, o, chat_options, stop);
  } else {
    SocketStream plain(sock);
    result = chat(plain, peer, chat_options, stop);
  }
  sock.close();
  notice({{"event", "closed"},
          {"peer", peer.to_string()},
          {"reason", result.interrupted ? "interrupted" : "finished"},
          {"bytes_sent", result.sent},
          {"bytes_received", result.received}},
         fmt::format("connection to {} closed ({} sent, {} received)", peer.to_string(),
                     plural(result.sent, "byte"), result.received));
  return 0;
}

void setup_connect(CLI::App& app) {
  auto options = std::make_shared<ConnectOptions>();
  auto* sub = app.add_subcommand("connect",
                                 "connect to a TCP or unix server and chat, or pipe bytes like nc");
  sub->add_option("HOST", options->host, "host name, IP address ([::1]) or unix:/path")->required();
  sub->add_option("PORT", options->port, "port number or service name (default 8000)")
      ->each([options](const std::string&) { options->port_given = true; });
  sub->add_option("--framing", options->framing, "line, raw (the tutorial's) or length")
      ->check(CLI::IsMember({"line", "raw", "length"}))
      ->capture_default_str();
  // An empty NAME ("$NAME" unset) is refused rather than silently sending no /nick.
  sub->add_option("--nick", options->nick, "send \"/nick NAME\" first (for serve-group)")
      ->check(not_empty("a name", "NAME"));
  add_mode_options(*sub, options->mode);
  sub->get_option("--nonblocking")->excludes(sub->get_option("--timeout"));
  add_tls_client_options(*sub, options->tls);
  sub->callback([options] { exit_code() = guarded([&] { return run_connect(*options); }); });
}

}  // namespace sockchat::cli
