// What the kernel keeps for one socket, read with getsockopt(2) before and after sockchat
// sets a few options. Read: socket(7) SO_* options, tcp(7) TCP_* options, ip(7), ipv6(7).
#include "cli/probe_options.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/probe_report.hpp"
#include "core/error.hpp"
#include "core/probe.hpp"
#include "core/socket.hpp"
#include "core/trace.hpp"

namespace sockchat::cli {

namespace {

enum class Kind { integer, type, linger, text };

struct Option {
  int level;
  int name;
  Kind kind = Kind::integer;
  bool tcp_only = false;
};

struct Change {
  int level;
  int name;
  int value;
  const char* why;
};

// What is shown, in the order socket(7), tcp(7), ip(7) describe them.
std::vector<Option> options_for(int family, bool udp) {
  std::vector<Option> all = {
      {SOL_SOCKET, SO_TYPE, Kind::type},
      {SOL_SOCKET, SO_SNDBUF},
      {SOL_SOCKET, SO_RCVBUF},
      {SOL_SOCKET, SO_REUSEADDR},
      {SOL_SOCKET, SO_KEEPALIVE},
      {SOL_SOCKET, SO_LINGER, Kind::linger},
      {SOL_SOCKET, SO_RCVLOWAT},
      {IPPROTO_TCP, TCP_NODELAY, Kind::integer, true},
      {IPPROTO_TCP, TCP_MAXSEG, Kind::integer, true},
      {IPPROTO_TCP, TCP_KEEPIDLE, Kind::integer, true},
      {IPPROTO_TCP, TCP_KEEPINTVL, Kind::integer, true},
      {IPPROTO_TCP, TCP_KEEPCNT, Kind::integer, true},
      {IPPROTO_TCP, TCP_CONGESTION, Kind::text, true},
  };
  if (family == AF_INET) all.push_back({IPPROTO_IP, IP_TTL});
  if (family == AF_INET) all.push_back({IPPROTO_IP, IP_TOS});
  if (family == AF_INET6) all.push_back({IPPROTO_IPV6, IPV6_UNICAST_HOPS});
  std::erase_if(all, [&](const Option& o) { return udp && o.tcp_only; });
  return all;
}

// Set for both buffers, below net.core.[rw]mem_max (212992 by default) so the doubled value
// (socket(7): "the kernel doubles this value") shows unclipped, and unlike the defaults.
constexpr int kBufferSize = 100000;

// What sockchat sets, and the lesson each change teaches.
std::vector<Change> changes_for(bool udp) {
  std::vector<Change> all = {
      {IPPROTO_TCP, TCP_NODELAY, 1, "Nagle off: a small write goes out at once"},
      {SOL_SOCKET, SO_KEEPALIVE, 1, "an idle peer is probed after TCP_KEEPIDLE s"},
      {SOL_SOCKET, SO_SNDBUF, kBufferSize, "set 100000: the kernel doubles it for bookkeeping"},
      {SOL_SOCKET, SO_RCVBUF, kBufferSize, "set 100000: the kernel doubles it for bookkeeping"},
      {SOL_SOCKET, SO_LINGER, 1, "{1, 0}: close() sends RST, so no TIME_WAIT (as probe does)"},
  };
  if (udp)
    std::erase_if(all, [](const Change& c) {
      return c.level == IPPROTO_TCP || c.name == SO_KEEPALIVE || c.name == SO_LINGER;
    });
  return all;
}

nlohmann::json read_option(const Socket& socket, const Option& o) {
  try {
    switch (o.kind) {
      case Kind::integer:
        return socket.getsockopt(o.level, o.name);
      case Kind::type:
        return trace::type_name(socket.getsockopt(o.level, o.name));
      case Kind::linger: {
        linger l{};
        socket.getsockopt(o.level, o.name, &l, sizeof l);
        return {{"l_onoff", l.l_onoff}, {"l_linger", l.l_linger}};
      }
      case Kind::text: {
        char text[64] = {};
        const socklen_t n = socket.getsockopt(o.level, o.name, text, sizeof text - 1);
        return std::string(text, strnlen(text, n));
      }
    }
  } catch (const SocketError& e) {
    return errno_name(e.error_number());  // ENOPROTOOPT: the kernel has no such option
  }
  return nullptr;
}

void apply(Socket& socket, const Change& c) {
  if (c.name == SO_LINGER && c.level == SOL_SOCKET) {
    const linger abort{1, 0};
    socket.setsockopt(c.level, c.name, &abort, sizeof abort);
  } else {
    socket.setsockopt(c.level, c.name, c.value);
  }
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    return v["l_onoff"].get<int>() ? fmt::format("on, {} s", v["l_linger"].get<int>()) : "off";
  }
  return v.dump();
}

const Change* change_of(const std::vector<Change>& changes, const Option& o) {
  for (const Change& c : changes) {
    if (c.level == o.level && c.name == o.name) return &c;
  }
  return nullptr;
}

void print_options(const Address& target, const Address& local, const Address& peer, double rtt_ms,
                   bool udp, const nlohmann::json& rows) {
  say_out(fmt::format("Options of {} ({}), connected in {:.3f} ms", target.to_string(),
                      udp ? "udp" : "tcp", rtt_ms));
  say_out(fmt::format("  {:<8}{:<28}s.getsockname()", "local", local.to_string()));
  say_out(fmt::format("  {:<8}{:<28}s.getpeername()", "peer", peer.to_string()));
  say_out(fmt::format("  {:<13}{:<18}{:<26}{}", "LEVEL", "OPTION", "BEFORE -> AFTER", "WHY"));
  for (const auto& row : rows) {
    const std::string before = value_text(row["before"]);
    const std::string after = value_text(row["after"]);
    const std::string value = before == after ? before : before + " -> " + after;
    std::string line = fmt::format("  {:<13}{:<18}{:<26}{}", row["level"].get<std::string>(),
                                   row["name"].get<std::string>(), value, row.value("why", ""));
    line.erase(line.find_last_not_of(' ') + 1);  // no padding after the last column
    say_out(line);
  }
}

}  // namespace

bool show_socket_options(const Address& target, std::chrono::duration<double> timeout, bool udp) {
  Socket socket(target.family(), udp ? SOCK_DGRAM : SOCK_STREAM);
  socket.settimeout(timeout);  // connect is then the five steps, waiting at most `timeout`
  const auto start = std::chrono::steady_clock::now();
  try {
    socket.connect(target);
  } catch (const SocketError& e) {
    error(e.what(), errno_name(e.error_number()));
    return false;
  }
  const double rtt_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const ConnectAnswer answer = connect_result(socket);
  if (answer.self_connect()) {
    error(fmt::format("connect {}: connected to itself (TCP simultaneous open): closed",
                      target.to_string()),
          "ECONNREFUSED");
    return false;
  }
  const auto options = options_for(target.family(), udp);
  const auto changes = changes_for(udp);
  nlohmann::json rows = nlohmann::json::array();
  for (const Option& o : options) {
    rows.push_back({{"level", trace::level_name(o.level)},
                    {"name", trace::option_name(o.level, o.name)},
                    {"before", read_option(socket, o)}});
  }
  for (const Change& c : changes) apply(socket, c);
  for (std::size_t i = 0; i < options.size(); ++i) {
    rows[i]["after"] = read_option(socket, options[i]);
    if (const Change* c = change_of(changes, options[i])) {
      rows[i]["set"] = c->name == SO_LINGER ? nlohmann::json{{"l_onoff", 1}, {"l_linger", 0}}
                                            : nlohmann::json(c->value);
      rows[i]["why"] = c->why;
    }
  }
  if (global_options().json) {
    nlohmann::json by_name = nlohmann::json::object();
    for (const auto& row : rows) by_name[row["name"].get<std::string>()] = row;
    emit({{"event", "options"},
          {"host", target.host()},
          {"port", target.port()},
          {"proto", udp ? "udp" : "tcp"},
          {"local", answer.local.to_string()},
          {"peer", answer.peer.to_string()},
          {"rtt_ms", std::round(rtt_ms * 1000.0) / 1000.0},
          {"options", by_name}},
         {});
  } else {
    print_options(target, answer.local, answer.peer, rtt_ms, udp, rows);
  }
  socket.close();  // SO_LINGER {1, 0} is set for TCP: this close sends RST
  return true;
}

}  // namespace sockchat::cli
