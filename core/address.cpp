#include "core/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

namespace {

// "[::1]" → "::1". Brackets only ever hold an IPv6 address (RFC 3986).
std::string_view strip_brackets(std::string_view host, bool& bracketed) {
  bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  return bracketed ? host.substr(1, host.size() - 2) : host;
}

}  // namespace

std::optional<Address> Address::from_literal(std::string_view host, std::uint16_t port) {
  if (host.starts_with("unix:")) return unix_path(host.substr(5));
  bool bracketed = false;
  const std::string text(strip_brackets(host, bracketed));
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (!bracketed && inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.size_ = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.size_ = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

Address Address::unix_path(std::string_view path) {
  Address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.empty()) throw UsageError("unix socket path is empty");
  if (path.find('\0') != std::string_view::npos) {
    throw UsageError("unix socket path contains a NUL byte");
  }
  if (path.size() >= sizeof(un->sun_path)) {
    throw UsageError(fmt::format("unix socket path is too long ({} bytes, at most {}): {}",
                                 path.size(), sizeof(un->sun_path) - 1, path));
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  len = std::min<socklen_t>(len, sizeof(a.storage_));
  std::memcpy(&a.storage_, sa, len);
  a.size_ = len;
  return a;
}

std::vector<Address> Address::resolve(std::string_view host, std::uint16_t port, int socktype) {
  if (host.empty()) throw UsageError("host is empty");
  if (auto literal = from_literal(host, port)) return {*literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  addrinfo* found = nullptr;
  // getaddrinfo wants "fe80::1%eth0" (a literal with a scope), never its brackets.
  bool bracketed = false;
  const std::string name(strip_brackets(host, bracketed));
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    throw UsageError(fmt::format("cannot resolve host '{}': {}", name, gai_strerror(rc)));
  }
  std::vector<Address> out;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Address a = from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    if (a.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
    if (a.family() == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeaddrinfo(found);
  return out;
}

std::string Address::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                sizeof text);
      return text;
    case AF_INET6:
      return ipv6_host();
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      const auto max =
          size_ > offsetof(sockaddr_un, sun_path) ? size_ - offsetof(sockaddr_un, sun_path) : 0;
      // Linux's abstract namespace: a name that starts with NUL, shown as "@name" (as ss does).
      if (max > 0 && un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, max - 1);
      return std::string(un->sun_path, strnlen(un->sun_path, max));
    }
    default:
      return "";
  }
}

std::string Address::ipv6_host() const {
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
  if (v6->sin6_scope_id == 0) return text;
  // A link-local address means nothing without its interface: fe80::1%eth0.
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(v6->sin6_scope_id, name) != nullptr) return fmt::format("{}%{}", text, name);
  return fmt::format("{}%{}", text, v6->sin6_scope_id);
}

std::uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string Address::to_string() const {
  switch (family()) {
    case AF_INET:
      return fmt::format("{}:{}", host(), port());
    case AF_INET6:
      return fmt::format("[{}]:{}", host(), port());
    case AF_UNIX:
      return size_ > offsetof(sockaddr_un, sun_path) ? "unix:" + host() : "unix:(unnamed)";
    default:
      // A sockaddr whose family is AF_UNSPEC: what connect(2) takes to dissolve a
      // connection (see connect(2)); no address at all otherwise.
      return size_ > 0 && family() == AF_UNSPEC ? "AF_UNSPEC" : "(none)";
  }
}

std::string Address::to_python() const {
  if (is_unix()) return fmt::format("'{}'", host());
  return fmt::format("('{}', {})", host(), port());
}

bool operator==(const Address& a, const Address& b) {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

std::uint16_t parse_port(std::string_view text) {
  if (text.empty()) throw UsageError("port is empty");
  unsigned long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (value < 1 || value > 65535) {
      throw UsageError(fmt::format("port {} is out of range (1-65535)", text));
    }
    return static_cast<std::uint16_t>(value);
  }
  if (ec == std::errc::result_out_of_range) {
    throw UsageError(fmt::format("port {} is out of range (1-65535)", text));
  }
  const std::string name(text);
  if (const servent* s = getservbyname(name.c_str(), nullptr)) {
    return ntohs(static_cast<std::uint16_t>(s->s_port));
  }
  throw UsageError(fmt::format("bad port '{}': not a number 1-65535 or a service name", text));
}

std::pair<std::string, std::string> split_host_port(std::string_view text) {
  if (text.starts_with("unix:")) return {std::string(text), ""};
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw UsageError(fmt::format("bad address '{}': missing ']'", text));
    }
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) {
      throw UsageError(fmt::format("bad address '{}': expected ':PORT' after ']'", text));
    }
    return {std::string(text.substr(1, close - 1)),
            rest.empty() ? "" : std::string(rest.substr(1))};
  }
  const auto colon = text.rfind(':');
  // More than one colon without brackets is a bare IPv6 literal such as ::1.
  if (colon == std::string_view::npos || text.find(':') != colon) return {std::string(text), ""};
  return {std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

}  // namespace sockchat
