// signals.hpp — Ctrl-C (SIGINT) and SIGTERM as something a loop can wait for.
//
// A signal handler may call only async-signal-safe functions (signal-safety(7)); write(2)
// and _exit(2) are two of them. So the handler writes one byte into a pipe, and the
// program's loop watches the pipe's read end with poll/epoll like any socket: the self-pipe
// trick. No flag is missed between "check" and "wait": the byte waits in the pipe.
//
// The rules, the same for every subcommand:
//   - before arm(): a signal exits at once, status 0 (nothing to clean up yet, e.g. while a
//     blocking connect() hangs);
//   - armed, first signal: a stop is requested (requested() is true, fd() is readable);
//     the program finishes cleanly (drains, prints its summary, exits 0);
//   - any later signal: exits at once with status 0 (a second Ctrl-C during a slow drain),
//     even after the StopSignals is gone (the handler stays once a stop was requested);
//   - SIGPIPE is ignored for the whole process (ignore_sigpipe(), called by main): a write
//     to a closed socket or pipe is an EPIPE error, not a silent death.
// Only one StopSignals may exist at a time. Read: signal-safety(7), pipe(2), sigaction(2).
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
  ~StopSignals();  // the previous handlers again; closes the pipe
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  void arm();              // from now on the first signal requests a stop
  bool requested() const;  // a stop signal has arrived
  int fd() const;          // readable once a signal (or a wake()) has arrived: watch it
  bool drain();            // empties the pipe; true if a signal (not only a wake()) came
  void wake();             // makes fd() readable without a signal: another thread's nudge
  // poll(2) on `fds` and the signal pipe together: the number of ready descriptors in
  // `fds`, 0 when the deadline passed, -1 once a stop is requested.
  int poll(pollfd* fds, nfds_t count, const Deadline& deadline);
  // Waits up to `seconds` (ping's pause between rounds); true if a stop is requested.
  bool sleep(double seconds);

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace sockchat
