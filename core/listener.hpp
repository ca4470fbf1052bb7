// listener.hpp — a server's listening socket, the recipe in one place: socket → setsockopt
// (SO_REUSEADDR) → bind → listen, as Redis's anetTcpServer does it, and what a server
// meets around it: a unix socket file left behind by a dead server, running out of
// descriptors in accept(), and a soft descriptor limit far below the hard one.
// Used by serve-1to1, serve-group and probe. Read: socket(7) SO_REUSEADDR, unix(7),
// accept(2) "EMFILE", getrlimit(2).
#pragma once

#include <cstddef>

#include "core/address.hpp"
#include "core/socket.hpp"

namespace sockchat {

// socket(2) → setsockopt(SO_REUSEADDR) on TCP → bind(2), replacing a stale unix socket
// file → listen(2). The socket blocks; the caller picks its mode.
Socket open_listener(const Address& address, int backlog);

// bind(2); a unix path held by a stale socket file (EADDRINUSE, and connecting to it is
// refused: its server is dead) is removed and bound again. A regular file of that name, or
// a live server, is left alone and bind's error stands.
void bind_replacing_stale(Socket& listener, const Address& address);

// Raises the soft RLIMIT_NOFILE to the hard limit (traced): a server needs a descriptor per
// client and the usual soft limit (1024) caps it far too early. Returns the soft limit now
// (at most 2^20).
std::size_t raise_descriptor_limit();

// An extra descriptor kept open to give back when accept() fails with EMFILE, so the
// waiting client can be accepted, told "server full" and closed, instead of being left in
// the backlog where the listener would stay readable and spin the loop (muduo's trick).
class SpareDescriptor {
 public:
  SpareDescriptor() { reopen(); }
  ~SpareDescriptor() { release(); }
  SpareDescriptor(const SpareDescriptor&) = delete;
  SpareDescriptor& operator=(const SpareDescriptor&) = delete;
  void release();  // close(2) it: one descriptor free
  bool reopen();   // open(2) /dev/null again; false if even that fails

 private:
  int fd_ = -1;
};

bool out_of_descriptors(int err);  // EMFILE or ENFILE

}  // namespace sockchat
