#include "core/wait.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>

#include "core/error.hpp"

namespace sockchat {

Deadline::Deadline(Timeout timeout) : timeout_(timeout) {
  if (!timeout_) return;
  // Past ~100 years (or NaN) the conversion to the clock's integer ticks would overflow,
  // which is undefined behaviour: such a deadline is simply "never".
  constexpr std::chrono::duration<double> century(100.0 * 365 * 24 * 3600);
  if (!(*timeout_ < century)) {
    end_ = std::chrono::steady_clock::time_point::max();
    return;
  }
  end_ = std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(*timeout_);
}

bool Deadline::expired() const {
  return timeout_ && std::chrono::steady_clock::now() >= end_;
}

int Deadline::poll_ms() const {
  if (!timeout_) return -1;
  const std::chrono::duration<double, std::milli> left = end_ - std::chrono::steady_clock::now();
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<double>(std::ceil(left.count()), INT_MAX));
}

bool wait_ready(int fd, short events, const Deadline& deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, deadline.poll_ms());
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw_socket_error("poll", {}, errno);
  }
}

}  // namespace sockchat
