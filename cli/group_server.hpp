// group_server.hpp — serve-group on an event loop (epoll, poll or select): one thread, every
// socket nonblocking. The room, the outboxes and the drop policy are the engine's
// (core/room_engine.hpp); this file only waits and moves bytes.
//
// The recipe, for each round of the loop:
//   1. the loop says which sockets are ready;
//   2. readable: one recv() of at most 64 KiB, handed to the engine, which handles at most
//      128 of its lines now; lines left over get the client's next turn, in the next round,
//      and its socket is not read meanwhile (the kernel keeps the rest: TCP's flow control
//      slows a flooder, not the room);
//   3. after the round, each client whose outbox has new lines gets ONE sendmsg() of up to
//      IOV_MAX shared lines (a send() when it is one piece) — a burst of 50 lines to 1,000 clients
//      is 1,000 sends, not 50,000, and the lines exist once in memory, not 1,000 times;
//   4. what sendmsg() could not take stays in the outbox, and only then does the loop watch
//      that socket for writability (asking while the outbox is empty would wake us forever).
// Read: epoll(7), tcp(7) "TCP_NODELAY", sendmsg(2), send(2) "EAGAIN".
#pragma once

#include "cli/group_common.hpp"

namespace sockchat::cli {

// Runs until SIGINT/SIGTERM; returns the exit status. `console` (may be null: --trace)
// is flushed once per loop round.
int run_group_event_loop(const GroupOptions& options, Socket listener, StopSignals& signals,
                         ConsoleOutput* console);

}  // namespace sockchat::cli
