// group_server.hpp — serve-group on an event loop (epoll, poll or select): one thread, every
// socket nonblocking, and a per-client outbox.
//
// The recipe, for each round of the loop:
//   1. the loop says which sockets are ready;
//   2. readable: recv() once, cut the bytes into lines (Decoder), hand each line to the room;
//      the room's deliveries are appended to the outboxes of those who should hear them;
//   3. after the round, each client whose outbox grew is flushed with ONE send() — a burst
//      of 50 lines to 1,000 clients is 1,000 sends, not 50,000;
//   4. what send() could not take stays in the outbox, and only then does the loop watch
//      that socket for writability (asking while the outbox is empty would wake us forever).
// A client whose outbox passes --max-queue is not reading: it is dropped, nobody waits for it.
// Many clients that each stay under it could still hold a lot together, so the server keeps
// a running total of every outbox (moved on each append and send, never summed per round);
// past --max-total-queue, the clients with the largest outboxes are dropped first.
// Read: epoll(7), tcp(7) "TCP_NODELAY", send(2) "EAGAIN".
#pragma once

#include "cli/group_common.hpp"

namespace sockchat::cli {

// Runs until SIGINT/SIGTERM; returns the exit status.
int run_group_event_loop(const GroupOptions& options, Socket listener, StopSignals& signals);

}  // namespace sockchat::cli
