// group_threads.hpp — serve-group with one thread per client: the tutorial's model, done right.
//
// The tutorial starts two threads per client around one global string and a Condition
// without a predicate, so messages are lost, resent or echoed. Here each client has:
//   a reader thread   blocking recv() → the engine (core/room_engine.hpp), under the room's
//                     one mutex, one turn (128 lines) at a time so the others get the lock;
//                     then it sends the turn's lines itself, one sendmsg() with MSG_DONTWAIT
//                     to each reader, without holding the lock: what the kernel takes at
//                     once needs no other thread to wake up;
//   a writer thread   waits on its own condition variable (with a predicate, so no wake-up
//                     is ever lost) for what could not go at once, and sends it with a
//                     sendmsg() that blocks, without holding the lock.
// Everything else — the room, the outboxes, the drop policy — is the engine's, the same as
// on the event loop: this file only waits and locks. The main thread accepts, reads the
// console and waits for signals on a small poll loop, and joins the threads of clients that
// are gone. A client whose threads cannot start is told "! server busy (cannot start a
// thread)" and is not served.
// Read: pthreads(7), std::condition_variable, shutdown(2) (how one thread wakes another's recv).
#pragma once

#include "cli/group_common.hpp"

namespace sockchat::cli {

// Runs until SIGINT/SIGTERM; returns the exit status.
int run_group_threads(const GroupOptions& options, Socket listener, StopSignals& signals);

}  // namespace sockchat::cli
