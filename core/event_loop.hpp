// event_loop.hpp — one thread, many sockets: wait for readiness, then call a handler.
//
// A chat server with 10,000 clients cannot block in recv() on one of them. Instead it asks
// the kernel "which of these descriptors can I read or write without waiting?" and serves
// only those. Linux offers three ways to ask, each a backend in its own file so they can be
// read side by side:
//   select  (event_loop_select.cpp)  bit sets, rebuilt every call, descriptors < FD_SETSIZE;
//   poll    (event_loop_poll.cpp)    an array of pollfd, scanned by the kernel every call;
//   epoll   (event_loop_epoll.cpp)   the kernel keeps the interest list; only ready ones return.
// The loop is level-triggered: a descriptor stays ready until it is drained, so a handler
// may read once per call and still miss nothing. Handlers must tolerate a spurious call
// (a nonblocking recv then says EAGAIN). Read: select(2), poll(2), epoll(7).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace sockchat {

// What to wait for, and what happened. Errors and hang-ups are reported as Readable: the
// next recv() says which (0 bytes, ECONNRESET...).
constexpr unsigned Readable = 1;
constexpr unsigned Writable = 2;

struct ReadyFd {
  int fd;
  unsigned events;
};

// A backend: the one syscall that waits on many descriptors at once.
class Poller {
 public:
  virtual ~Poller() = default;
  virtual std::string_view name() const = 0;              // "epoll", "poll", "select"
  virtual bool accepts(int fd) const { return fd >= 0; }  // select: fd < FD_SETSIZE
  virtual void add(int fd, unsigned events) = 0;
  virtual void modify(int fd, unsigned events) = 0;
  virtual void remove(int fd) = 0;
  // Waits at most timeout_ms (-1: no limit) and fills `ready`. A signal (EINTR) makes it
  // return early with nothing ready.
  virtual void wait(int timeout_ms, std::vector<ReadyFd>& ready) = 0;
};

std::unique_ptr<Poller> make_epoll_poller();
std::unique_ptr<Poller> make_poll_poller();
std::unique_ptr<Poller> make_select_poller();
// "epoll", "poll" or "select"; throws UsageError for anything else.
std::unique_ptr<Poller> make_poller(std::string_view name);

class EventLoop {
 public:
  using Handler = std::function<void(unsigned events)>;
  explicit EventLoop(std::unique_ptr<Poller> poller);

  // The five operations.
  void add(int fd, unsigned events, Handler handler);  // throws if the backend cannot take fd
  void modify(int fd, unsigned events);                // no syscall when nothing changes
  void remove(int fd);                                 // before closing fd
  void run();                                          // until stop()
  void stop();                                         // from a handler: run() then returns

  // What a server needs around them: a periodic tick (timeouts), and a hook after each
  // round of handlers (a server flushes its outboxes there, once per client per round).
  void every(std::chrono::milliseconds interval, std::function<void()> tick);
  // With nothing timed to check, a server turns its tick off: the loop then sleeps until a
  // descriptor is ready instead of waking (and, under --trace, printing a wait) 10 times a second.
  void set_ticking(bool on) { ticking_ = on; }
  // Work is waiting that no descriptor will announce (a client's lines left for its next
  // turn): the next wait only looks and returns at once.
  void set_busy(bool on) { busy_ = on; }
  void after_each_round(std::function<void()> hook);

  bool accepts(int fd) const { return poller_->accepts(fd); }
  std::string_view backend() const { return poller_->name(); }
  std::size_t size() const { return count_; }  // descriptors watched

 private:
  int wait_ms() const;
  void dispatch(const ReadyFd& ready);
  void run_tick_if_due();

  std::unique_ptr<Poller> poller_;
  std::vector<Handler> handlers_;   // indexed by descriptor
  std::vector<unsigned> interest_;  // what each descriptor waits for (0: not watched)
  std::vector<Handler> graveyard_;  // removed handlers live until the round ends
  std::vector<ReadyFd> ready_;
  std::size_t count_ = 0;
  bool running_ = false;
  std::function<void()> tick_;
  std::chrono::milliseconds tick_interval_{0};
  bool ticking_ = true;
  bool busy_ = false;
  std::chrono::steady_clock::time_point next_tick_;
  std::function<void()> after_round_;
};

}  // namespace sockchat
