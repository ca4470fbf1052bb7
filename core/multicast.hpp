// multicast.hpp — one datagram to many receivers: broadcast, multicast groups, hop limits.
//
// A broadcast (255.255.255.255, or a subnet's last address such as 127.255.255.255) reaches
// every host on the link; the kernel refuses to send one (EACCES) unless the socket asked
// with SO_BROADCAST, so a typo cannot flood a network. A multicast group (224.0.0.0/4,
// ff00::/8) reaches only the hosts that joined it: IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP make
// the kernel accept the group's datagrams (and tell the routers, with IGMP / MLD). The TTL
// (hop limit) says how many routers a datagram may cross; multicast has its own, default 1.
// Read: ip(7) (IP_ADD_MEMBERSHIP, IP_MULTICAST_TTL), ipv6(7), socket(7) (SO_BROADCAST).
#pragma once

#include "core/address.hpp"

namespace sockchat {

class Socket;

// 224.0.0.0/4 or ff00::/8.
bool is_multicast(const Address& address);

// setsockopt SO_BROADCAST: sendto may then go to a broadcast address.
void allow_broadcast(Socket& socket);

// setsockopt IP_TTL and IP_MULTICAST_TTL (IPv4) or IPV6_UNICAST_HOPS and
// IPV6_MULTICAST_HOPS (IPv6), for a socket of `family`: the hops a datagram may make.
void set_ttl(Socket& socket, int family, int ttl);

// setsockopt IP_ADD_MEMBERSHIP (IPv4) or IPV6_JOIN_GROUP (IPv6): receive `group` on the
// interface that owns the address `on` (a wildcard address lets the kernel choose).
// Throws UsageError if `group` is not a multicast address or `on` is on no interface.
void join_group(Socket& socket, const Address& group, const Address& on);

// The address a member of `group` binds: the group itself, so the socket receives that
// group's datagrams and no others. An IPv6 group of interface- or link-local scope
// (ff01::/16, ff02::/16) exists once per interface: its scope id names the one of `on`.
Address member_address(const Address& group, const Address& on);

// The index of the interface that holds `address` (getifaddrs(3)); 0 for a wildcard.
unsigned interface_index(const Address& address);

}  // namespace sockchat
