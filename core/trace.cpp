#include "core/trace.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat::trace {

namespace {
std::atomic<bool> g_enabled{false};
std::atomic<bool> g_has_sink{false};  // checked first, so stderr tracing takes no lock
std::mutex g_sink_mutex;
std::function<void(std::string_view)> g_sink;

bool to_sink(std::string_view line) {
  if (!g_has_sink) return false;
  const std::lock_guard lock(g_sink_mutex);
  if (!g_sink) return false;
  g_sink(line);
  return true;
}
}  // namespace

void set_sink(std::function<void(std::string_view)> sink) {
  const std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
  g_has_sink = static_cast<bool>(g_sink);
}

void enable(bool on) {
  g_enabled = on;
}
bool enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}

void emit(std::string_view line) {
  if (!enabled() || to_sink(line)) return;
  std::string out(line);
  out += '\n';
  // One write per line: lines from several threads never mix.
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string quote(std::string_view bytes, std::size_t max) {
  std::string out = "\"";
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  if (bytes.size() > max) out += "...";
  return out;
}

std::string family_name(int family) {
  switch (family) {
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_UNIX:
      return "AF_UNIX";
    case AF_UNSPEC:
      return "AF_UNSPEC";
    default:
      return std::to_string(family);
  }
}

std::string type_name(int type) {
  std::string out;
  switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    case SOCK_STREAM:
      out = "SOCK_STREAM";
      break;
    case SOCK_DGRAM:
      out = "SOCK_DGRAM";
      break;
    case SOCK_SEQPACKET:
      out = "SOCK_SEQPACKET";
      break;
    case SOCK_RAW:
      out = "SOCK_RAW";
      break;
    default:
      out = std::to_string(type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC));
  }
  if (type & SOCK_NONBLOCK) out += "|SOCK_NONBLOCK";
  if (type & SOCK_CLOEXEC) out += "|SOCK_CLOEXEC";
  return out;
}

std::string level_name(int level) {
  switch (level) {
    case SOL_SOCKET:
      return "SOL_SOCKET";
    case IPPROTO_TCP:
      return "IPPROTO_TCP";
    case IPPROTO_IP:
      return "IPPROTO_IP";
    case IPPROTO_IPV6:
      return "IPPROTO_IPV6";
    case IPPROTO_UDP:
      return "IPPROTO_UDP";
    default:
      return std::to_string(level);
  }
}

std::string option_name(int level, int option) {
#define SOCKCHAT_OPT(o) \
  case o:               \
    return #o;
  if (level == SOL_SOCKET) {
    switch (option) {
      SOCKCHAT_OPT(SO_REUSEADDR)
      SOCKCHAT_OPT(SO_REUSEPORT)
      SOCKCHAT_OPT(SO_KEEPALIVE)
      SOCKCHAT_OPT(SO_BROADCAST)
      SOCKCHAT_OPT(SO_LINGER)
      SOCKCHAT_OPT(SO_SNDBUF)
      SOCKCHAT_OPT(SO_RCVBUF)
      SOCKCHAT_OPT(SO_RCVLOWAT)
      SOCKCHAT_OPT(SO_SNDLOWAT)
      SOCKCHAT_OPT(SO_RCVTIMEO)
      SOCKCHAT_OPT(SO_SNDTIMEO)
      SOCKCHAT_OPT(SO_ERROR)
      SOCKCHAT_OPT(SO_TYPE)
      SOCKCHAT_OPT(SO_ACCEPTCONN)
      SOCKCHAT_OPT(SO_DOMAIN)
      SOCKCHAT_OPT(SO_PROTOCOL)
    }
  } else if (level == IPPROTO_TCP) {
    switch (option) {
      SOCKCHAT_OPT(TCP_NODELAY)
      SOCKCHAT_OPT(TCP_MAXSEG)
      SOCKCHAT_OPT(TCP_KEEPIDLE)
      SOCKCHAT_OPT(TCP_KEEPINTVL)
      SOCKCHAT_OPT(TCP_KEEPCNT)
      SOCKCHAT_OPT(TCP_CORK)
      SOCKCHAT_OPT(TCP_QUICKACK)
      SOCKCHAT_OPT(TCP_USER_TIMEOUT)
      SOCKCHAT_OPT(TCP_CONGESTION)
    }
  } else if (level == IPPROTO_IP) {
    switch (option) {
      SOCKCHAT_OPT(IP_TTL)
      SOCKCHAT_OPT(IP_MULTICAST_TTL)
      SOCKCHAT_OPT(IP_MULTICAST_LOOP)
      SOCKCHAT_OPT(IP_ADD_MEMBERSHIP)
      SOCKCHAT_OPT(IP_DROP_MEMBERSHIP)
      SOCKCHAT_OPT(IP_MULTICAST_IF)
      SOCKCHAT_OPT(IP_RECVERR)
      SOCKCHAT_OPT(IP_TOS)
    }
  } else if (level == IPPROTO_IPV6) {
    switch (option) {
      SOCKCHAT_OPT(IPV6_V6ONLY)
      SOCKCHAT_OPT(IPV6_UNICAST_HOPS)
      SOCKCHAT_OPT(IPV6_MULTICAST_HOPS)
      SOCKCHAT_OPT(IPV6_MULTICAST_LOOP)
      SOCKCHAT_OPT(IPV6_JOIN_GROUP)
      SOCKCHAT_OPT(IPV6_LEAVE_GROUP)
      SOCKCHAT_OPT(IPV6_MULTICAST_IF)
    }
  }
#undef SOCKCHAT_OPT
  return std::to_string(option);
}

Call::Call(std::string_view name, std::string args, std::string python)
    : name_(name), args_(std::move(args)), python_(std::move(python)), on_(enabled()) {
  if (on_) start_ = std::chrono::steady_clock::now();
}

Call::Call(std::string_view name) : Call(name, {}, {}) {}

void Call::describe(std::string args, std::string python) {
  args_ = std::move(args);
  python_ = std::move(python);
}

void Call::ok(std::string_view result) const {
  finish(result);
}

void Call::ok(long long result) const {
  if (enabled()) finish(std::to_string(result));
}

void Call::fail(int err) const {
  if (enabled()) finish("-1 " + errno_text(err));
}

void Call::fail(std::string_view why) const {
  if (enabled()) finish(fmt::format("-1 {}", why));
}

void Call::finish(std::string_view result) const {
  if (!on_ || !enabled()) return;  // on for the whole call, or no line at all
  std::string line = fmt::format("{}({}) = {}", name_, args_, result);
  if (!python_.empty()) line += "  # " + python_;
  const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start_;
  // Like strace -T, but only where a person would notice the wait.
  if (waited.count() >= 0.01) line += fmt::format(" <{:.2f}s>", waited.count());
  emit(line);
}

}  // namespace sockchat::trace
