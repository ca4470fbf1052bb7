// event_loop_epoll.cpp — the epoll(7) backend, Linux's answer to the C10K problem.
//
// select and poll hand the kernel the whole list on every call, and the kernel scans it:
// O(clients) per wait. epoll keeps the interest list inside the kernel (epoll_ctl adds,
// changes, removes) and epoll_wait returns only the descriptors that are ready, so 10,000
// idle clients cost nothing. Read: epoll(7), epoll_create1(2), epoll_ctl(2), epoll_wait(2).
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/event_loop.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

std::uint32_t to_epoll(unsigned events) {
  return ((events & Readable) ? EPOLLIN : 0u) | ((events & Writable) ? EPOLLOUT : 0u);
}

unsigned from_epoll(std::uint32_t e) {
  unsigned events = 0;
  if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) events |= Readable;
  if (e & (EPOLLOUT | EPOLLERR)) events |= Writable;
  return events;
}

const char* op_name(int op) {
  return op == EPOLL_CTL_ADD   ? "EPOLL_CTL_ADD"
         : op == EPOLL_CTL_MOD ? "EPOLL_CTL_MOD"
                               : "EPOLL_CTL_DEL";
}

class EpollPoller final : public Poller {
 public:
  EpollPoller() : epfd_(check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")) {
    if (trace::enabled()) trace::emit(fmt::format("epoll_create1(EPOLL_CLOEXEC) = {}", epfd_));
    events_.resize(256);
  }
  ~EpollPoller() override { ::close(epfd_); }
  EpollPoller(const EpollPoller&) = delete;
  EpollPoller& operator=(const EpollPoller&) = delete;

  std::string_view name() const override { return "epoll"; }
  void add(int fd, unsigned events) override { ctl(EPOLL_CTL_ADD, fd, events); }
  void modify(int fd, unsigned events) override { ctl(EPOLL_CTL_MOD, fd, events); }
  void remove(int fd) override { ctl(EPOLL_CTL_DEL, fd, 0); }

  void wait(int timeout_ms, std::vector<ReadyFd>& ready) override {
    ready.clear();
    const int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0 && errno == EINTR) return;  // a signal: the loop looks at its self-pipe next
    check(n, "epoll_wait");
    if (trace::enabled()) trace::emit(fmt::format("epoll_wait({}, {}) = {}", epfd_, timeout_ms, n));
    for (int i = 0; i < n; ++i)
      ready.push_back({events_[i].data.fd, from_epoll(events_[i].events)});
    // A full buffer means more may be waiting: make room for them next time.
    if (static_cast<std::size_t>(n) == events_.size()) events_.resize(events_.size() * 2);
  }

 private:
  void ctl(int op, int fd, unsigned events) {
    epoll_event e{};
    e.events = to_epoll(events);
    e.data.fd = fd;
    const int rc = ::epoll_ctl(epfd_, op, fd, &e);
    if (trace::enabled()) {
      trace::emit(fmt::format("epoll_ctl({}, {}, {}, {}{}) = {}", epfd_, op_name(op), fd,
                              (e.events & EPOLLIN) ? "EPOLLIN" : "",
                              (e.events & EPOLLOUT) ? "|EPOLLOUT" : "", rc));
    }
    check(rc, fmt::format("epoll_ctl {}", op_name(op)), fmt::format("descriptor {}", fd));
  }

  int epfd_;
  std::vector<epoll_event> events_;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() {
  return std::make_unique<EpollPoller>();
}

}  // namespace sockchat
