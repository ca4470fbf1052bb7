// event_loop_poll.cpp — the poll(2) backend: an array of pollfd, one per descriptor.
//
// No limit on descriptor numbers (unlike select), and the array is kept between calls, but
// the kernel still walks the whole array on every call: the cost grows with the number of
// clients, busy or not. Removing swaps the last entry into the hole so the array stays dense.
// Read: poll(2).
#include <poll.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/event_loop.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

short to_poll(unsigned events) {
  return static_cast<short>(((events & Readable) ? POLLIN : 0) |
                            ((events & Writable) ? POLLOUT : 0));
}

unsigned from_poll(short revents) {
  unsigned events = 0;
  if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) events |= Readable;
  if (revents & (POLLOUT | POLLERR)) events |= Writable;
  return events;
}

class PollPoller final : public Poller {
 public:
  std::string_view name() const override { return "poll"; }

  void add(int fd, unsigned events) override {
    if (static_cast<std::size_t>(fd) >= slot_.size()) slot_.resize(fd + 1, -1);
    slot_[fd] = static_cast<int>(fds_.size());
    fds_.push_back({fd, to_poll(events), 0});
  }

  void modify(int fd, unsigned events) override { fds_.at(slot_.at(fd)).events = to_poll(events); }

  void remove(int fd) override {
    const int i = slot_.at(fd);
    fds_[i] = fds_.back();  // move the last entry into the hole
    slot_[fds_[i].fd] = i;
    fds_.pop_back();
    slot_[fd] = -1;
  }

  void wait(int timeout_ms, std::vector<ReadyFd>& ready) override {
    ready.clear();
    const int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
    if (n < 0 && errno == EINTR) return;
    check(n, "poll");
    if (trace::enabled())
      trace::emit(fmt::format("poll({} fds, {}) = {}", fds_.size(), timeout_ms, n));
    for (const pollfd& p : fds_) {
      if (p.revents != 0) ready.push_back({p.fd, from_poll(p.revents)});
      if (ready.size() == static_cast<std::size_t>(n)) break;
    }
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<int> slot_;  // descriptor → index in fds_, -1 if not watched
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller() {
  return std::make_unique<PollPoller>();
}

}  // namespace sockchat
