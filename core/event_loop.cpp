#include "core/event_loop.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

std::unique_ptr<Poller> make_poller(std::string_view name) {
  if (name == "epoll") return make_epoll_poller();
  if (name == "poll") return make_poll_poller();
  if (name == "select") return make_select_poller();
  throw UsageError(fmt::format("unknown I/O model '{}' (epoll, poll or select)", name));
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller) : poller_(std::move(poller)) {}

void EventLoop::add(int fd, unsigned events, Handler handler) {
  if (!poller_->accepts(fd)) {
    throw SocketError(std::string(poller_->name()), fmt::format("descriptor {}", fd), EINVAL);
  }
  if (static_cast<std::size_t>(fd) >= handlers_.size()) {
    handlers_.resize(fd + 1);
    interest_.resize(fd + 1, 0);
  }
  poller_->add(fd, events);
  handlers_[fd] = std::move(handler);
  interest_[fd] = events | 0x100;  // the high bit marks "watched", even with no events
  ++count_;
}

void EventLoop::modify(int fd, unsigned events) {
  if (static_cast<std::size_t>(fd) >= interest_.size() || interest_[fd] == 0) return;
  if ((interest_[fd] & 0xFF) == events) return;  // epoll_ctl is a syscall: skip no-ops
  poller_->modify(fd, events);
  interest_[fd] = events | 0x100;
}

void EventLoop::remove(int fd) {
  if (static_cast<std::size_t>(fd) >= interest_.size() || interest_[fd] == 0) return;
  poller_->remove(fd);
  interest_[fd] = 0;
  // The handler may be the one running now (a client that closes itself): destroying it
  // here would pull the ground from under it, so it waits for the end of the round.
  graveyard_.push_back(std::move(handlers_[fd]));
  handlers_[fd] = nullptr;
  --count_;
}

void EventLoop::every(std::chrono::milliseconds interval, std::function<void()> tick) {
  tick_interval_ = interval;
  tick_ = std::move(tick);
  next_tick_ = std::chrono::steady_clock::now() + interval;
}

void EventLoop::after_each_round(std::function<void()> hook) {
  after_round_ = std::move(hook);
}

void EventLoop::stop() {
  running_ = false;
}

int EventLoop::wait_ms() const {
  if (busy_) return 0;  // work is waiting already: only look, do not sleep
  if (!tick_ || !ticking_) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      next_tick_ - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<long long>(0, left.count() + 1));
}

void EventLoop::dispatch(const ReadyFd& ready) {
  const auto fd = static_cast<std::size_t>(ready.fd);
  // Removed earlier in this round (its peer's handler closed it): skip the stale event.
  if (fd >= handlers_.size() || !handlers_[fd]) return;
  // Report only what was asked for, plus Readable (errors and hang-ups).
  const unsigned events = ready.events & (interest_[fd] | Readable);
  if (events != 0) handlers_[fd](events);
}

void EventLoop::run_tick_if_due() {
  if (!tick_ || !ticking_ || std::chrono::steady_clock::now() < next_tick_) return;
  next_tick_ = std::chrono::steady_clock::now() + tick_interval_;
  tick_();
}

void EventLoop::run() {
  running_ = true;
  while (running_) {
    poller_->wait(wait_ms(), ready_);
    for (const ReadyFd& ready : ready_) {
      dispatch(ready);
      if (!running_) break;
    }
    run_tick_if_due();
    if (after_round_) after_round_();  // after the tick too: what it queued goes out now
    graveyard_.clear();
  }
}

}  // namespace sockchat
