// signals.hpp — Ctrl-C (SIGINT) and SIGTERM as something a loop can wait for.
//
// A signal handler may call only async-signal-safe functions (signal-safety(7)), so ours
// sets a flag, writes one byte into a pipe if there is one, or calls _exit(2).
//
// The rules, the same for every subcommand:
//   - before arm(): a signal exits at once, status 0 (nothing to clean up yet, e.g. while a
//     blocking connect() hangs);
//   - armed, first signal: a stop is requested (requested() is true, a wait below returns);
//     the program finishes cleanly (drains, prints its summary, exits 0);
//   - any later signal: exits at once with status 0 (a second Ctrl-C during a slow drain),
//     even after the StopSignals is gone (the handler stays once a stop was requested);
//   - SIGPIPE is ignored for the whole process (ignore_sigpipe(), called by main): a write
//     to a closed socket or pipe is an EPIPE error, not a silent death.
//
// Two ways to wait for a signal, one per kind of loop. Checking the flag and then calling
// poll() would race: a signal between the two is missed until something else wakes us.
//   - poll() and sleep(), for a single-threaded poll loop (connect, serve-1to1, udp-*,
//     probe): SIGINT and SIGTERM are blocked while poll() runs, except inside ppoll(2),
//     which unblocks them atomically as it starts to wait. No descriptor is used, so a
//     program's first socket is still descriptor 3, as the lessons' traces show.
//   - fd(), for an epoll/select loop or threads (serve-group): the self-pipe trick. The
//     first fd() makes a pipe (traced, so the descriptors it takes are explained); the
//     handler writes a byte into it, and the loop watches its read end like any socket.
//     A signal mask is per thread, a pipe reaches whichever thread the kernel picks.
// Only one StopSignals may exist at a time. Read: signal-safety(7), sigaction(2),
// ppoll(2), sigprocmask(2), pipe(2).
#pragma once

#include <poll.h>

#include "core/wait.hpp"

namespace sockchat {

// signal(SIGPIPE, SIG_IGN), once at start-up (Python does the same before running a script).
void ignore_sigpipe();

class StopSignals {
 public:
  // Installs the handlers (sigaction(2)) for SIGINT and SIGTERM. armed=false: a signal
  // exits at once until arm().
  explicit StopSignals(bool armed = true);
  ~StopSignals();  // the previous handlers again (unless a stop was requested); the pipe closed
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  void arm();              // from now on the first signal requests a stop
  bool requested() const;  // a stop signal has arrived

  // The self-pipe's read end (made by the first call): readable once a signal (or a
  // wake()) has arrived. Call it before starting threads that may wake().
  int fd();
  bool drain();  // empties the pipe; true if a signal (not only a wake()) came
  void wake();   // makes fd() readable without a signal: another thread's nudge

  // ppoll(2) on `fds`, with SIGINT and SIGTERM let in only while it waits: the number of
  // ready descriptors, 0 when the deadline passed, -1 once a stop is requested.
  int poll(pollfd* fds, nfds_t count, const Deadline& deadline);
  // Waits up to `seconds` (ping's pause between rounds); true if a stop is requested.
  bool sleep(double seconds);

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace sockchat
