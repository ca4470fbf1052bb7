// wait.hpp — the one timeout model: poll(2) with a deadline.
//
// Python's settimeout(S) is implemented the same way in CPython: the descriptor is
// nonblocking, and a call that would block first waits in poll() for at most what is left
// of S. We do not use SO_RCVTIMEO: connect only gets EINPROGRESS from it, its EAGAIN cannot
// be told from nonblocking mode, and it restarts its clock on every partial transfer
// (docs/timeouts.md). Read: poll(2), socket(7) SO_RCVTIMEO.
#pragma once

#include <chrono>
#include <optional>

namespace sockchat {

// nullopt: block forever. 0: never wait (nonblocking). > 0: wait at most this long.
using Timeout = std::optional<std::chrono::duration<double>>;

class Deadline {
 public:
  explicit Deadline(Timeout timeout);
  bool expired() const;
  // What poll() takes: -1 for "forever", else the milliseconds left (rounded up).
  int poll_ms() const;
  Timeout timeout() const { return timeout_; }

 private:
  Timeout timeout_;
  std::chrono::steady_clock::time_point end_;
};

// Waits until fd is ready for `events` (POLLIN, POLLOUT) or the deadline passes.
// Returns false on timeout. Retries EINTR with the time that is left.
// Returns true also when poll reports an error or hang-up: the next call will say which.
bool wait_ready(int fd, short events, const Deadline& deadline);

}  // namespace sockchat
