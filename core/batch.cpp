#include "core/batch.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

// The same three modes as Socket's calls: EINTR is asked again; EAGAIN waits in poll under
// the deadline (a timeout), or is thrown as WouldBlockError (nonblocking).
template <typename Syscall>
int retry(int fd, Timeout timeout, short events, const char* call, const Address& address,
          const trace::Call& t, Syscall syscall) {
  // The address is formatted only for an error message: never on the hot path.
  const auto where = [&] { return address.family() == AF_UNSPEC ? "" : address.to_string(); };
  const Deadline deadline(timeout);
  for (;;) {
    const int n = syscall();
    if (n >= 0) return n;
    const int err = errno;
    if (err == EINTR) continue;
    if ((err == EAGAIN || err == EWOULDBLOCK) && timeout && timeout->count() > 0) {
      if (wait_ready(fd, events, deadline)) continue;
      t.fail(fmt::format("ETIMEDOUT (timed out after {:g} s)", timeout->count()));
      throw TimeoutError(call, where(), *timeout);
    }
    t.fail(err);
    throw_socket_error(call, where(), err);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------

RecvBatch::RecvBatch(Socket& socket, std::size_t count, std::size_t bufsize)
    : fd_(socket.fileno()),
      timeout_(socket.gettimeout()),
      bufsize_(bufsize),
      buffers_(count * bufsize),
      iovecs_(count),
      senders_(count),
      headers_(count) {}

std::size_t RecvBatch::recvmmsg(std::size_t max) {
  const std::size_t count = std::max<std::size_t>(1, std::min(max, headers_.size()));
  trace::Call t("recvmmsg");  // described only when tracing: this is the hot path
  if (t.on()) {
    t.describe(fmt::format("{}, {} x {}", fd_, count, bufsize_),
               fmt::format("{} x s.recvfrom({}) in one call", count, bufsize_));
  }
  // The headers are reset before every call: the kernel writes the lengths into them.
  for (std::size_t i = 0; i < count; ++i) {
    iovecs_[i] = {buffers_.data() + i * bufsize_, bufsize_};
    headers_[i] = {};
    headers_[i].msg_hdr.msg_name = &senders_[i];
    headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
  }
  // MSG_WAITFORONE: block (if blocking) for the first datagram only, then take what is
  // queued. MSG_TRUNC: each msg_len is the datagram's real size, as in recvfrom.
  const int n = retry(fd_, timeout_, POLLIN, "recvmmsg", Address(), t, [&] {
    return ::recvmmsg(fd_, headers_.data(), static_cast<unsigned>(count),
                      MSG_WAITFORONE | MSG_TRUNC, nullptr);
  });
  received_ = static_cast<std::size_t>(n);
  if (t.on()) {
    t.ok(
        fmt::format("{} first {} from {}", n, trace::quote(data(0)), datagram(0).from.to_string()));
  }
  return received_;
}

Datagram RecvBatch::datagram(std::size_t i) const {
  const msghdr& h = headers_[i].msg_hdr;
  Datagram d;
  d.full_size = headers_[i].msg_len;
  d.size = std::min(d.full_size, bufsize_);
  d.from = Address::from_sockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
  return d;
}

std::string_view RecvBatch::data(std::size_t i) const {
  return {buffers_.data() + i * bufsize_, std::min<std::size_t>(headers_[i].msg_len, bufsize_)};
}

// ---------------------------------------------------------------------------------------

SendBatch::SendBatch(Socket& socket, const Address& to, std::size_t capacity)
    : fd_(socket.fileno()),
      timeout_(socket.gettimeout()),
      to_(to),
      datagrams_(capacity),
      iovecs_(capacity),
      headers_(capacity) {}

void SendBatch::add(std::string_view datagram) {
  datagrams_[count_++].assign(datagram);  // assign keeps the slot's memory for the next one
}

std::size_t SendBatch::sendmmsg() {
  trace::Call t("sendmmsg");
  if (t.on()) {
    t.describe(fmt::format("{}, {} datagrams, {}", fd_, count_, to_.to_string()),
               fmt::format("{} x s.sendto(data, {}) in one call", count_, to_.to_python()));
  }
  for (std::size_t i = 0; i < count_; ++i) {
    iovecs_[i] = {datagrams_[i].data(), datagrams_[i].size()};
    headers_[i] = {};
    headers_[i].msg_hdr.msg_name = const_cast<sockaddr*>(to_.data());  // the kernel only reads
    headers_[i].msg_hdr.msg_namelen = to_.size();
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
  }
  // The kernel may stop early (a full send buffer in nonblocking mode, a signal): go on
  // from the first datagram it did not take, so none is skipped or sent twice.
  std::size_t sent = 0;
  while (sent < count_) {
    sent += static_cast<std::size_t>(retry(fd_, timeout_, POLLOUT, "sendmmsg", to_, t, [&] {
      return ::sendmmsg(fd_, headers_.data() + sent, static_cast<unsigned>(count_ - sent),
                        MSG_NOSIGNAL);
    }));
  }
  t.ok(static_cast<long long>(sent));
  count_ = 0;
  return sent;
}

}  // namespace sockchat
