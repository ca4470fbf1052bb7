#include "core/signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <vector>

#include "core/error.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

// What the handler reads: plain sig_atomic_t globals, the only kind a handler may touch.
volatile std::sig_atomic_t g_write_fd = -1;
volatile std::sig_atomic_t g_armed = 0;
volatile std::sig_atomic_t g_requested = 0;

struct sigaction g_old_int {};
struct sigaction g_old_term {};

extern "C" void stop_signal_handler(int signo) {
  if (g_armed == 0 || g_requested != 0) _exit(0);  // not armed yet, or the second signal
  g_requested = 1;
  const int saved = errno;  // a handler must not disturb the errno of the code it interrupted
  const char byte = static_cast<char>(signo);
  [[maybe_unused]] const ssize_t n = ::write(g_write_fd, &byte, 1);
  errno = saved;
}

void install(int signo, struct sigaction* old) {
  struct sigaction action {};
  action.sa_handler = stop_signal_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // other threads' blocking calls go on; the loop sees the pipe
  check(::sigaction(signo, &action, old), "sigaction");
}

}  // namespace

void ignore_sigpipe() {
  std::signal(SIGPIPE, SIG_IGN);
}

StopSignals::StopSignals(bool armed) {
  int fds[2];
  check(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), "pipe2");
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  g_write_fd = write_fd_;
  g_requested = 0;
  g_armed = armed ? 1 : 0;
  install(SIGINT, &g_old_int);
  install(SIGTERM, &g_old_term);
  trace::emit(
      "sigaction(SIGINT and SIGTERM, write a byte to a pipe)  "
      "# signal.set_wakeup_fd(w); signal.signal(SIGINT, handler)");
}

StopSignals::~StopSignals() {
  // Once a stop was asked for, the process is on its way out: the handler stays, so a
  // second Ctrl-C during the last drains and exit() still ends it with 0, never by SIGTERM.
  if (g_requested == 0) {
    ::sigaction(SIGINT, &g_old_int, nullptr);
    ::sigaction(SIGTERM, &g_old_term, nullptr);
  }
  g_write_fd = -1;
  ::close(read_fd_);
  ::close(write_fd_);
}

void StopSignals::arm() {
  g_armed = 1;
}

bool StopSignals::requested() const {
  return g_requested != 0;
}

int StopSignals::fd() const {
  return read_fd_;
}

bool StopSignals::drain() {
  char bytes[64];
  bool signalled = false;
  for (;;) {
    const ssize_t n = ::read(read_fd_, bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return signalled;
    for (ssize_t i = 0; i < n; ++i) signalled = signalled || bytes[i] != 0;
  }
}

void StopSignals::wake() {
  const char byte = 0;  // 0 is no signal: "look at your work"
  [[maybe_unused]] const ssize_t n = ::write(write_fd_, &byte, 1);
}

int StopSignals::poll(pollfd* fds, nfds_t count, const Deadline& deadline) {
  std::vector<pollfd> all(fds, fds + count);
  all.push_back({read_fd_, POLLIN, 0});
  for (;;) {
    if (requested()) return -1;
    const int n = ::poll(all.data(), all.size(), deadline.poll_ms());
    if (n < 0 && errno == EINTR) continue;
    check(n, "poll");
    if (all.back().revents != 0) {
      drain();  // a wake() only: poll again
      if (requested()) return -1;
    }
    int ready = 0;
    for (nfds_t i = 0; i < count; ++i) {
      fds[i].revents = all[i].revents;
      ready += all[i].revents != 0 ? 1 : 0;
    }
    if (ready > 0 || n == 0) return ready;
  }
}

bool StopSignals::sleep(double seconds) {
  const Deadline deadline{Timeout{std::chrono::duration<double>(std::max(0.0, seconds))}};
  return poll(nullptr, 0, deadline) < 0;
}

}  // namespace sockchat
