// group_threads.hpp — serve-group with one thread per client: the tutorial's model, done right.
//
// The tutorial starts two threads per client around one global string and a Condition
// without a predicate, so messages are lost, resent or echoed. Here each client has:
//   a reader thread   blocking recv() → lines → the room, under the room's one mutex;
//   a writer thread   waits on its own condition variable for its outbox to fill (with a
//                     predicate, so no wake-up is ever lost), takes the whole outbox, and
//                     sendall()s it without holding the lock.
// Every delivery is appended to outboxes while the lock is held, so all clients see one
// order and nothing is lost or duplicated. A running total of every outbox (and every batch
// being sent) is kept under the same lock; past --max-total-queue the clients holding the
// most are dropped first, as --max-queue drops one. The main thread accepts, reads the console and
// waits for signals on a small poll loop, and joins the threads of clients that are gone.
// Read: pthreads(7), std::condition_variable, shutdown(2) (how one thread wakes another's recv).
#pragma once

#include "cli/group_common.hpp"

namespace sockchat::cli {

// Runs until SIGINT/SIGTERM; returns the exit status.
int run_group_threads(const GroupOptions& options, Socket listener, StopSignals& signals);

}  // namespace sockchat::cli
