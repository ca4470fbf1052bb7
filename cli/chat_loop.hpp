// chat_loop.hpp — the conversation that serve-1to1 and connect both run once a TCP (or
// unix) connection exists: one poll() loop over stdin and the socket, full duplex.
//
// The tutorial's chat takes turns (recv, then input, then send...), so a person who has
// not answered blocks the other one. Here poll(2) waits for whichever side is ready first.
// Two faces, chosen by isatty(3), on the one loop:
//   - on a terminal, a chat (terminal_chat.hpp): incoming lines appear while you type,
//     your half-typed line is kept intact, control characters from the peer are made
//     visible;
//   - otherwise, like nc (byte_pump.hpp): bytes go through unchanged.
// Either way, at stdin's end the socket is half-closed with shutdown(SHUT_WR) so the peer
// sees end-of-file. Read: poll(2), shutdown(2).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/address.hpp"
#include "core/byte_stream.hpp"
#include "core/framing.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/wait.hpp"

namespace sockchat::cli {

// Python's three modes from a Timeout (see core/wait.hpp).
inline bool is_nonblocking(Timeout mode) {
  return mode && mode->count() == 0;
}
// The deadline a wait gets: --timeout S, or none (blocking and nonblocking wait forever).
inline Timeout wait_limit(Timeout mode) {
  return mode && mode->count() > 0 ? mode : Timeout{};
}

// A line about the connection, not data: a JSON event with --json; else a line on stdout
// when stdout is a terminal (the chat screen), or on stderr when stdout carries the
// peer's bytes (as nc -v does).
void notice(const nlohmann::json& event, std::string_view human);

// "sockchat: WARNING: TEXT" on stderr, in bold red on a colour terminal.
void warning(std::string_view text);

struct ChatOptions {
  Framing framing = Framing::line;
  std::string nick;  // connect --nick: "/nick NAME" is sent first
  Timeout mode;      // nullopt blocking, 0 nonblocking, > 0 an idle timeout
  // The peer's end of stream ends the conversation although stdin is still open: its rest
  // is for the next peer (serve-1to1 --keep-open, as ncat -k does).
  bool end_with_peer = false;
};

// Totals for the "closed" event.
struct ChatResult {
  bool interrupted = false;  // a stop signal ended it
  std::size_t sent = 0;
  std::size_t received = 0;
};

// Runs the conversation on `stream` (a socket, or TLS over one) until it is over: the peer
// closed and (unless on a terminal) our side finished too, or a stop signal came: it arms
// `stop` (core/signals.hpp), so that until then a signal simply exits. Throws SocketError on
// a reset, TimeoutError when nothing moved for --timeout seconds.
ChatResult chat(ByteStream& stream, const Address& peer, const ChatOptions& options,
                StopSignals& stop);

}  // namespace sockchat::cli
