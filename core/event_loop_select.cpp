// event_loop_select.cpp — the select(2) backend, the oldest way (4.2BSD, 1983).
//
// Interest is a pair of bit sets (fd_set) that select() overwrites with the answer, so they
// are copied before every call, and the caller scans every bit up to the highest
// descriptor. An fd_set has FD_SETSIZE (1024) bits: a descriptor >= 1024 cannot be watched
// at all (FD_SET on it corrupts memory), so accepts() refuses it and the server turns that
// client away with an explanation. Read: select(2), "BUGS" section.
#include <sys/select.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/event_loop.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

class SelectPoller final : public Poller {
 public:
  SelectPoller() {
    FD_ZERO(&read_);
    FD_ZERO(&write_);
  }

  std::string_view name() const override { return "select"; }
  bool accepts(int fd) const override { return fd >= 0 && fd < FD_SETSIZE; }

  void add(int fd, unsigned events) override {
    modify(fd, events);
    max_fd_ = std::max(max_fd_, fd);
  }

  void modify(int fd, unsigned events) override {
    if (events & Readable)
      FD_SET(fd, &read_);
    else
      FD_CLR(fd, &read_);
    if (events & Writable)
      FD_SET(fd, &write_);
    else
      FD_CLR(fd, &write_);
    watched_.resize(std::max<std::size_t>(watched_.size(), fd + 1), false);
    watched_[fd] = true;
  }

  void remove(int fd) override {
    FD_CLR(fd, &read_);
    FD_CLR(fd, &write_);
    watched_[fd] = false;
    while (max_fd_ >= 0 && !watched_[max_fd_]) --max_fd_;
  }

  void wait(int timeout_ms, std::vector<ReadyFd>& ready) override {
    ready.clear();
    fd_set r = read_;  // select() overwrites its sets with the answer: pass copies
    fd_set w = write_;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    const int n = ::select(max_fd_ + 1, &r, &w, nullptr, timeout_ms < 0 ? nullptr : &tv);
    if (n < 0 && errno == EINTR) return;
    check(n, "select");
    if (trace::enabled())
      trace::emit(fmt::format("select({}, {}) = {}", max_fd_ + 1, timeout_ms, n));
    for (int fd = 0; fd <= max_fd_ && n > 0; ++fd) {  // scan every bit: select's O(n)
      const unsigned events =
          (FD_ISSET(fd, &r) ? Readable : 0u) | (FD_ISSET(fd, &w) ? Writable : 0u);
      if (events != 0) ready.push_back({fd, events});
    }
  }

 private:
  fd_set read_;
  fd_set write_;
  std::vector<bool> watched_;
  int max_fd_ = -1;
};

}  // namespace

std::unique_ptr<Poller> make_select_poller() {
  return std::make_unique<SelectPoller>();
}

}  // namespace sockchat
