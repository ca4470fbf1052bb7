// batch.hpp — sendmmsg(2) and recvmmsg(2): many datagrams per system call.
//
// sendto and recvfrom move one datagram per call, and at small sizes the call itself is
// most of the cost: entering the kernel, checking the socket, finding the route. Linux can
// move a whole array of datagrams in one call instead. Each datagram stays a datagram (its
// own size, its own sender); only the crossings into the kernel are shared. Python has no
// equivalent: it is a loop of s.sendto() / s.recvfrom(). iperf3 does not batch.
//
// A batch keeps the descriptor and the timeout mode it read from its Socket when it was
// made (fileno and gettimeout are traced calls), so make it after settimeout.
// Read: sendmmsg(2), recvmmsg(2), recvmsg(2) (MSG_TRUNC, MSG_WAITFORONE).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/socket.hpp"
#include "core/wait.hpp"

namespace sockchat {

// Up to `count` datagrams of at most `bufsize` bytes each, received with one recvmmsg.
class RecvBatch {
 public:
  RecvBatch(Socket& socket, std::size_t count, std::size_t bufsize);
  RecvBatch(const RecvBatch&) = delete;
  RecvBatch& operator=(const RecvBatch&) = delete;

  // recvmmsg(2): waits for one datagram as recvfrom would (blocking, timeout or
  // nonblocking), then takes every one already queued, up to count (or `max`, if fewer:
  // a receiver that wants N more must not take N + 1). Returns how many (≥ 1).
  std::size_t recvmmsg(std::size_t max = SIZE_MAX);
  std::size_t size() const { return received_; }
  Datagram datagram(std::size_t i) const;  // sizes (truncation included) and the sender
  std::string_view data(std::size_t i) const;

 private:
  int fd_;
  Timeout timeout_;
  std::size_t bufsize_;
  std::size_t received_ = 0;
  std::vector<char> buffers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_storage> senders_;
  std::vector<mmsghdr> headers_;
};

// Datagrams to one address, collected with add() and sent with one sendmmsg.
class SendBatch {
 public:
  SendBatch(Socket& socket, const Address& to, std::size_t capacity);
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  bool full() const { return count_ == datagrams_.size(); }
  bool empty() const { return count_ == 0; }
  void add(std::string_view datagram);  // copies it into the next free slot
  // sendmmsg(2) until every datagram added is sent (the kernel may take fewer per call);
  // then the batch is empty again. Returns how many were sent.
  std::size_t sendmmsg();

 private:
  int fd_;
  Timeout timeout_;
  Address to_;
  std::size_t count_ = 0;
  std::vector<std::string> datagrams_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
};

}  // namespace sockchat
