// group_common.hpp — what both serve-group servers share: the options, the listening
// socket, who may come in (and the polite refusal when not), the console (room events on
// stdout, stdin lines said as <server>). SIGINT/SIGTERM come through core/signals.
//
// The event-loop server (group_server.cpp: epoll, poll, select) and the thread-per-client
// server (group_threads.cpp) differ only in how they wait; the room (core/chat_room) and
// everything here is the same. Read: getrlimit(2).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/tls_options.hpp"
#include "core/chat_room.hpp"
#include "core/cidr.hpp"
#include "core/framing.hpp"
#include "core/listener.hpp"
#include "core/room_engine.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/tls_stream.hpp"

namespace sockchat::cli {

// A sender with more than a turn to say (a flood, a paste) waits while the room holds this
// much unsent: the room then relays no faster than its readers read, and a reader that
// keeps up is never dropped. At most hold_at_most per turn, so that one reader that has
// stopped reading slows floods, never stops them (it is dropped at --max-queue).
inline constexpr std::size_t backlog_hold = 64 * 1024;
// --io threads: outboxes go into the kernel as soon as lines come (from the sender's
// thread, else the client's writer), so the room holds less for the same backlog: 64 KiB
// let a flood through at 364k lines/s to each member (the event loops: 160k), a paced
// line's p99 six times its quiet one (measured when writers sent everything). 8 KiB gives
// the event loops' rate; the cost is a lone sender's burst: 1 x 2,000 lines to 1,000
// readers at about half the speed (docs/benchmarks.md, fairness).
inline constexpr std::size_t backlog_hold_threads = 8 * 1024;
inline constexpr auto hold_at_most = std::chrono::milliseconds(100);

struct GroupOptions {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  int backlog = 128;
  std::string framing = "line";
  std::string io = "epoll";
  std::size_t max_clients = 0;  // 0: as many as descriptors allow
  std::size_t max_line = 4096;
  std::size_t max_queue = 1 << 20;         // one client's unsent output, at most
  std::size_t max_total_queue = 64 << 20;  // every client's unsent output together, at most
  double idle_timeout = 0;                 // 0: never
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  bool echo = false;
  std::string unix_path;
  bool unix_given = false;  // --unix was given, even as '' (an error, not "use TCP")
  TlsOptions tls;
  std::shared_ptr<const TlsContext> tls_context;  // made from `tls` before listening

  Framing framing_kind() const { return *parse_framing(framing); }
  AccessList access() const;  // parses --allow/--deny; throws UsageError
  ChatRoom::Options room() const { return {echo, max_line, idle_timeout}; }
  EngineOptions engine() const {
    EngineOptions e;
    e.framing = framing_kind();
    e.room = room();
    e.max_queue = max_queue;
    e.max_total_queue = max_total_queue;
    return e;
  }
};

// core/listener's open_listener(), nonblocking, and the "listening" event with the real
// port (so --port 0 can be used: the kernel picks, we say which).
Socket open_listener(const GroupOptions& options);
void remove_unix_path(const GroupOptions& options);  // at exit, for --unix

// Why this peer may not join, or nullopt. `members`: clients in the room now.
std::optional<std::string> refusal(const GroupOptions& options, const AccessList& access,
                                   const Address& peer, std::size_t members);
// --max-clients alone: asked again when a TLS handshake ends (others may have joined).
std::optional<std::string> full(const GroupOptions& options, std::size_t members);
// Tells the client why ("! TEXT"), without waiting, then closes it; logs a "refused" event.
class Connection;
void refuse(Socket& client, const Address& peer, std::string_view why, Framing framing);
// The same over a connection whose TLS handshake is done: a TLS client can only read a
// refusal that comes inside TLS (in plaintext it sees "wrong version number").
void refuse(Connection& client, std::string_view peer, std::string_view why, Framing framing);
// TCP_NODELAY: a chat line must not wait for Nagle's algorithm and the peer's delayed ACK.
void set_nodelay(Socket& client);

// The console: room events as human lines or --json events.
void show(const RoomEvent& event, std::string_view address = {});
void show_listening(const Address& bound, const GroupOptions& options);
void show_summary(const EngineTotals& totals);
// Console lines go out as "<server> TEXT" and show as a "message" event of "server".
void announce_lines(RoomEngine& engine, const std::vector<std::string>& lines);

// What both models answer to the engine's console hook.
class ConsoleHooks : public RoomEngine::Hooks {
 public:
  void show(const RoomEvent& event, std::string_view address) override {
    cli::show(event, address);
  }
};

// One client's socket: its read and its write, each in one place, so that a TLS session
// (--ssl) sits here without the engine knowing.
class Connection {
 public:
  explicit Connection(Socket socket) : socket_(std::move(socket)) {}
  // --ssl: a TLS session over the socket (nonblocking), its handshake still to do.
  void start_tls(const TlsContext& context, std::string peer);
  bool handshaking() const { return tls_ && !tls_ready_; }
  // One step of the handshake: nullopt when done, else POLLIN or POLLOUT to wait for.
  // Throws TlsError, SocketError.
  std::optional<short> handshake();
  // --io threads: the whole handshake in the client's own thread (waiting at most `bound`);
  // then the reader and the writer thread share the session, one OpenSSL call at a time,
  // and receive()/send() wait for the socket (poll) as the blocking calls would.
  void handshake_in_thread(Timeout bound);
  // recv(2) (SSL_read over TLS) into `buffer`: the bytes read, 0 at end of stream. Throws
  // WouldBlockError (nothing there) or SocketError.
  std::size_t receive(char* buffer, std::size_t size);
  // One sendmsg(2) of the outbox's first pieces (up to IOV_MAX; send(2) for one piece): the
  // bytes the kernel took. `flags`: MSG_DONTWAIT takes what fits now on a blocking socket
  // (--io threads, plain TCP only).
  // Over TLS, one SSL_write of the first pieces joined (up to a record, 16 KiB): TLS has no
  // gather write. Throws WouldBlockError (its buffer is full) or SocketError.
  std::size_t send(const std::vector<std::string_view>& pieces, int flags = 0);
  // Our end of stream: TLS's close_notify (if there is room for it), then shutdown(SHUT_WR).
  // Throws SocketError.
  void shutdown_write();
  Socket& socket() { return socket_; }

 private:
  Socket socket_;
  std::size_t tls_send(const std::vector<std::string_view>& pieces);

  std::unique_ptr<TlsStream> tls_;
  bool tls_ready_ = false;
  std::string joined_;    // TLS: the pieces of one SSL_write
  bool shared_ = false;   // --io threads: two threads, one session (see handshake_in_thread)
  int fd_ = -1;           // the socket's descriptor, for poll() while shared_
  std::mutex tls_mutex_;  // while shared_: held during each OpenSSL call, never while waiting
};

// The console's stdout, written by a thread of its own so that a terminal or pipe nobody
// reads never stalls the room: emit()/say() only append to a bounded buffer (default
// 1 MiB, the same for --json) and return at once. When the buffer is full, lines are
// dropped and counted; once stdout drains, "* console: N lines not shown" (with --json a
// {"event":"console","not_shown":N} object) says so. stdout's flags are never changed.
// Lives for one server run: the destructor writes what is left (waiting at most
// `drain_for`) and gives stdout back to emit(). serve-group skips it under --trace.
// Batched (the event loops: one thread adds every line): a round's lines gather without
// a lock and flush(), once per loop round (and every 64 KiB), hands them to the writer; a
// burst's thousands of lines cost one lock and at most one wake-up per round, not a lock,
// a futex call and a context switch each. Unbatched (threads): each line takes the lock
// and wakes an idle writer.
class ConsoleOutput {
 public:
  explicit ConsoleOutput(std::size_t limit = std::size_t{1} << 20, double drain_for = 2.0);
  ~ConsoleOutput();
  ConsoleOutput(const ConsoleOutput&) = delete;
  ConsoleOutput& operator=(const ConsoleOutput&) = delete;

  void batch();  // from now on lines wait for flush(), and come from this thread only
  void flush();  // hands the round's lines to the writer, and wakes it if it sleeps

  struct State;  // shared with the writer thread (which may outlive us if stdout is stuck)

 private:
  std::shared_ptr<State> state_;
  double drain_for_;
};

// The console's stdin, read without blocking the loop; each line goes out as <server> TEXT.
class ConsoleInput {
 public:
  ConsoleInput();  // ignores SIGTTIN: reading a terminal from the background fails, not stops
  // Feeds what read(0) returned; false at end of input (or error: the console is gone).
  bool read_lines(std::vector<std::string>& lines);

 private:
  Decoder decoder_{Framing::line, 4096};
};

// Accepts what waits in the backlog (at most `limit`, then the clients get a turn) and
// hands each to `admit`. When accept() fails with EMFILE, the spare descriptor makes room to
// accept, refuse with "! server full (out of file descriptors)", and close. Every error
// accept(2) says to retry (EPROTO, ENOBUFS, ECONNABORTED, EPERM...) is reported once per
// burst (stderr and a JSON "error" event) and the server goes on. Returns false when the
// caller should stop watching the listener for a moment (out of descriptors even with the
// spare, or out of kernel memory) instead of spinning.
using Admit = std::function<void(Socket socket, const Address& peer)>;
class AcceptErrors {
 public:
  void failed(int err);  // reports the first of a burst
  void accepted();       // the burst is over
 private:
  std::uint64_t in_burst_ = 0;
};
bool accept_pending(Socket& listener, SpareDescriptor& spare, Framing framing,
                    std::uint64_t& refused, AcceptErrors& errors, const Admit& admit,
                    std::size_t limit = 64);

}  // namespace sockchat::cli
