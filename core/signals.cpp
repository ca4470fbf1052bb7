#include "core/signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

// What the handler reads: plain sig_atomic_t globals, the only kind a handler may touch.
volatile std::sig_atomic_t g_write_fd = -1;  // the self-pipe's write end, once there is one
volatile std::sig_atomic_t g_armed = 0;
volatile std::sig_atomic_t g_requested = 0;

struct sigaction g_old_int {};
struct sigaction g_old_term {};

// write(2) of one byte, keeping errno: a handler must not disturb the code it interrupted.
// A full pipe drops the byte, and that is fine: a byte already waits there.
void put_byte(int fd, char byte) {
  const int saved = errno;
  [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  errno = saved;
}

extern "C" void stop_signal_handler(int signo) {
  if (g_armed == 0 || g_requested != 0) _exit(0);  // not armed yet, or the second signal
  g_requested = 1;
  if (g_write_fd >= 0) put_byte(g_write_fd, static_cast<char>(signo));
}

void install(int signo, struct sigaction* old) {
  struct sigaction action {};
  action.sa_handler = stop_signal_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // other calls go on; the loop's wait is what returns
  check(::sigaction(signo, &action, old), "sigaction");
}

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// SIGINT and SIGTERM blocked in this thread for as long as it lives: one that arrives
// waits, pending, until ppoll() lets it in. waiting() is the mask for ppoll(): the one from
// before, with the two signals open.
class StopsHeld {
 public:
  StopsHeld() {
    const sigset_t stops = stop_set();
    check(::sigprocmask(SIG_BLOCK, &stops, &before_), "sigprocmask");
    waiting_ = before_;
    sigdelset(&waiting_, SIGINT);
    sigdelset(&waiting_, SIGTERM);
  }
  ~StopsHeld() { ::sigprocmask(SIG_SETMASK, &before_, nullptr); }
  StopsHeld(const StopsHeld&) = delete;
  StopsHeld& operator=(const StopsHeld&) = delete;
  const sigset_t* waiting() const { return &waiting_; }

 private:
  sigset_t before_{};
  sigset_t waiting_{};
};

timespec to_timespec(int ms) {
  return {ms / 1000, (ms % 1000) * 1'000'000L};
}

}  // namespace

void ignore_sigpipe() {
  std::signal(SIGPIPE, SIG_IGN);
}

StopSignals::StopSignals(bool armed) {
  g_requested = 0;
  g_armed = armed ? 1 : 0;
  install(SIGINT, &g_old_int);
  install(SIGTERM, &g_old_term);
}

StopSignals::~StopSignals() {
  // Once a stop was asked for, the process is on its way out: the handler stays, so a
  // second Ctrl-C during the last drains and exit() still ends it with 0, never by SIGTERM.
  if (g_requested == 0) {
    ::sigaction(SIGINT, &g_old_int, nullptr);
    ::sigaction(SIGTERM, &g_old_term, nullptr);
  }
  g_write_fd = -1;
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

void StopSignals::arm() {
  g_armed = 1;
}

bool StopSignals::requested() const {
  return g_requested != 0;
}

int StopSignals::fd() {
  if (read_fd_ >= 0) return read_fd_;
  trace::Call t("pipe2", "O_NONBLOCK | O_CLOEXEC",
                "r, w = os.pipe(); signal.set_wakeup_fd(w): SIGINT, SIGTERM write a byte to w");
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    const int err = errno;
    t.fail(err);
    throw_socket_error("pipe2", {}, err);
  }
  t.ok(fmt::format("0 [{}, {}]", fds[0], fds[1]));
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  g_write_fd = write_fd_;
  // A signal that came before the pipe left only the flag: it is put in the pipe now.
  // (One that comes after g_write_fd was set writes its own byte; two bytes are harmless.)
  if (requested()) put_byte(write_fd_, static_cast<char>(SIGTERM));
  return read_fd_;
}

bool StopSignals::drain() {
  if (read_fd_ < 0) return false;
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
  fd();                    // the pipe, if nobody asked for it yet
  put_byte(write_fd_, 0);  // 0 is no signal: "look at your work"
}

int StopSignals::poll(pollfd* fds, nfds_t count, const Deadline& deadline) {
  const StopsHeld held;  // from here a signal cannot slip in between the check and the wait
  for (;;) {
    if (requested()) return -1;
    const int ms = deadline.poll_ms();
    const timespec left = to_timespec(ms);
    const int n = ::ppoll(fds, count, ms < 0 ? nullptr : &left, held.waiting());
    if (n >= 0) return n;
    if (errno != EINTR) throw_socket_error("ppoll", {}, errno);
  }
}

bool StopSignals::sleep(double seconds) {
  const Deadline deadline{Timeout{std::chrono::duration<double>(std::max(0.0, seconds))}};
  return poll(nullptr, 0, deadline) < 0;
}

}  // namespace sockchat
