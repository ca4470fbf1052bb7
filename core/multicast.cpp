#include "core/multicast.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/socket.hpp"

namespace sockchat {

namespace {

const in_addr& v4(const Address& a) {
  return reinterpret_cast<const sockaddr_in*>(a.data())->sin_addr;
}

const in6_addr& v6(const Address& a) {
  return reinterpret_cast<const sockaddr_in6*>(a.data())->sin6_addr;
}

bool is_wildcard(const Address& a) {
  if (a.family() == AF_INET) return v4(a).s_addr == htonl(INADDR_ANY);
  return a.family() == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&v6(a));
}

// Same family and same IP (the port does not matter).
bool same_ip(const sockaddr* sa, const Address& a) {
  if (sa == nullptr || sa->sa_family != a.family()) return false;
  if (a.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr == v4(a).s_addr;
  }
  const auto& other = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
  return std::memcmp(&other, &v6(a), sizeof other) == 0;
}

}  // namespace

bool is_multicast(const Address& address) {
  if (address.family() == AF_INET) return IN_MULTICAST(ntohl(v4(address).s_addr));
  return address.family() == AF_INET6 && IN6_IS_ADDR_MULTICAST(&v6(address));
}

void allow_broadcast(Socket& socket) {
  socket.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
}

void set_ttl(Socket& socket, int family, int ttl) {
  if (ttl < 0 || ttl > 255) throw UsageError(fmt::format("TTL {} is out of range (0-255)", ttl));
  if (family == AF_INET6) {
    socket.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
    socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
    return;
  }
  // IP_TTL 0 is EINVAL (a unicast datagram must be able to leave); a multicast TTL of 0
  // keeps the datagram on this host, so only the multicast TTL takes it.
  if (ttl > 0) socket.setsockopt(IPPROTO_IP, IP_TTL, ttl);
  socket.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, ttl);
}

Address member_address(const Address& group, const Address& on) {
  if (group.family() != AF_INET6) return group;
  const auto& a = v6(group);
  if (!IN6_IS_ADDR_MC_NODELOCAL(&a) && !IN6_IS_ADDR_MC_LINKLOCAL(&a)) return group;
  sockaddr_in6 scoped = *reinterpret_cast<const sockaddr_in6*>(group.data());
  scoped.sin6_scope_id = on.family() == AF_INET6 ? interface_index(on) : 0;
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&scoped), sizeof scoped);
}

unsigned interface_index(const Address& address) {
  if (is_wildcard(address)) return 0;
  ifaddrs* list = nullptr;
  check(::getifaddrs(&list), "getifaddrs");
  const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owner(list, ::freeifaddrs);
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (same_ip(i->ifa_addr, address)) return ::if_nametoindex(i->ifa_name);
  }
  throw UsageError(fmt::format("no interface has the address {}", address.host()));
}

void join_group(Socket& socket, const Address& group, const Address& on) {
  if (!is_multicast(group)) {
    throw UsageError(fmt::format("{} is not a multicast group address", group.host()));
  }
  if (on.family() != group.family()) {
    throw UsageError(
        fmt::format("cannot join {} on {}: not the same address family", group.host(), on.host()));
  }
  if (group.family() == AF_INET) {
    ip_mreqn request{};  // the group, and the interface by its address
    request.imr_multiaddr = v4(group);
    request.imr_address = v4(on);
    socket.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, &request, sizeof request);
    return;
  }
  ipv6_mreq request{};  // IPv6 names the interface by its index, never by an address
  request.ipv6mr_multiaddr = v6(group);
  request.ipv6mr_interface = interface_index(on);
  socket.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, &request, sizeof request);
}

}  // namespace sockchat
