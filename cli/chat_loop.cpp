// chat_loop.cpp — one poll() loop over stdin and a connected socket (see chat_loop.hpp).
//
// The loop waits in poll(2) for: the socket readable (the peer said something, or closed),
// the socket writable (only while something waits to be sent), stdin readable (only
// while nothing waits: that is the back-pressure that keeps memory bounded when the peer
// reads slowly). What it reads and where it writes are the two ends: the byte pump's
// (byte_pump.hpp), the terminal chat's (terminal_chat.hpp), or messages in the framing
// (--json events, --framing length in a pipe), which this file handles.
// Read: poll(2), recv(2), send(2) (MSG_DONTWAIT), shutdown(2).
#include "cli/chat_loop.hpp"

#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli/byte_pump.hpp"
#include "cli/common.hpp"
#include "cli/stdio.hpp"
#include "cli/terminal_chat.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace sockchat::cli {

void notice(const nlohmann::json& event, std::string_view human) {
  if (global_options().json || ::isatty(STDOUT_FILENO) == 1) {
    emit(event, human);
  } else {
    write_all(STDERR_FILENO, fmt::format("{}\n", human));
  }
}

void warning(std::string_view text) {
  const std::string line =
      paint(use_color(STDERR_FILENO), "1;31", fmt::format("WARNING: {}", text));
  write_all(STDERR_FILENO, fmt::format("sockchat: {}\n", line));
}

namespace {

constexpr std::size_t kMaxMessage = 16 * 1024 * 1024;  // a line or frame we accept
constexpr int kNonblockingRounds = 8;  // recv()s per wake-up before looking at stdin again

// What stdin and stdout are decides the two ends of a conversation.
struct Ends {
  bool json;         // --json: the peer's messages are events on stdout
  bool screen;       // stdout is a terminal: the terminal chat shows the peer's lines
  bool keys;         // ...and stdin too: you type through its line editor
  bool bytes_out;    // the peer's bytes go to stdout unchanged (the byte pump)
  bool bytes_in;     // stdin's bytes go to the peer unchanged (the byte pump)
  bool interactive;  // stdin is a terminal: a person, done when the peer leaves
};

Ends choose_ends(Framing framing) {
  Ends e{};
  e.json = global_options().json;
  e.screen = !e.json && ::isatty(STDOUT_FILENO) == 1;
  e.interactive = ::isatty(STDIN_FILENO) == 1;
  e.keys = e.screen && e.interactive;
  // A length frame is a message, never raw bytes: it is printed as one line.
  e.bytes_out = !e.json && !e.screen && framing != Framing::length;
  e.bytes_in = !e.interactive && framing != Framing::length;
  return e;
}

class Conversation {
 public:
  Conversation(ByteStream& stream, const Address& peer, const ChatOptions& options,
               StopSignals& stop);
  ChatResult run();
  const ChatResult& result() const { return result_; }

 private:
  bool over() const;
  short socket_events() const;
  bool wants_stdin() const;
  void on_socket_ready(short got, bool held);
  // ← the peer
  void receive();
  std::size_t take();
  void pass_on(std::size_t n);
  void peer_closed();
  void show(const Frame& frame);
  // → the peer
  std::string_view unsent() const;
  void sent(std::size_t n);
  void queue_message(std::string_view text);
  void flush();
  void send_file();
  void on_send_error(const SocketError& e);
  void on_stdin_ready();
  bool read_lines();
  void end_of_input();
  void half_close_when_done();

  bool sending_file() const { return bytes_in_ && bytes_in_->from_file(); }
  bool typing() const { return screen_ && screen_->keys(); }

  ByteStream& stream_;
  int fd_;
  std::string peer_;
  ChatOptions options_;
  StopSignals& stop_;
  Ends ends_;
  bool drain_;  // read and write until EAGAIN each time poll() wakes us
  std::optional<TerminalChat> screen_;
  std::optional<StdoutBytes> bytes_out_;
  std::optional<StdinBytes> bytes_in_;
  Decoder decoder_;           // the peer's bytes → messages (without bytes_out_)
  Decoder stdin_lines_;       // stdin → lines (without keys or bytes_in_)
  std::vector<char> buffer_;  // what recv() and read() bring for the two decoders
  std::string messages_;      // encoded messages not sent yet (they go before stdin's bytes)
  std::size_t messages_pos_ = 0;
  bool stdin_open_ = true;
  bool peer_open_ = true;   // the peer has not sent its FIN yet
  bool write_open_ = true;  // we have not half-closed yet
  ChatResult result_;
};

Conversation::Conversation(ByteStream& stream, const Address& peer, const ChatOptions& options,
                           StopSignals& stop)
    : stream_(stream),
      fd_(stream.socket().fileno()),
      peer_(peer.to_string()),
      options_(options),
      stop_(stop),
      ends_(choose_ends(options.framing)),
      // TLS runs its socket nonblocking (see for_poll_loop) and reads one record per call.
      drain_(is_nonblocking(options.mode) || stream.plain() == nullptr),
      decoder_(options.framing, kMaxMessage),
      stdin_lines_(Framing::line, kMaxMessage) {
  if (ends_.screen) screen_.emplace(ends_.keys);
  stream_.for_poll_loop();
  if (ends_.bytes_out) bytes_out_.emplace(stream_);
  if (ends_.bytes_in) bytes_in_.emplace(stream_.plain());
  if (!ends_.bytes_out || (!ends_.keys && !ends_.bytes_in)) buffer_.resize(kChunk);
}

ChatResult Conversation::run() {
  if (!options_.nick.empty()) queue_message("/nick " + options_.nick);
  if (screen_) screen_->start();
  while (!over()) {
    const short events = socket_events();
    pollfd fds[2] = {{events != 0 ? fd_ : -1, events, 0},
                     {wants_stdin() ? STDIN_FILENO : -1, POLLIN, 0}};
    // Bytes TLS has decrypted already are not the socket's: poll() cannot see them.
    const bool held = peer_open_ && stream_.buffered();
    const Timeout limit = held ? Timeout{std::chrono::seconds(0)} : wait_limit(options_.mode);
    const int ready = stop_.poll(fds, 2, Deadline(limit));
    if (ready < 0) {
      result_.interrupted = true;
      break;
    }
    if (ready == 0 && !held) {
      throw TimeoutError(unsent().empty() ? "recv" : "send", peer_, *options_.mode);
    }
    on_socket_ready(fds[0].revents, held);
    if (fds[1].revents != 0) on_stdin_ready();
    half_close_when_done();
  }
  if (screen_) screen_->leave();  // no prompt left behind
  return result_;
}

// Over when the peer has closed and we are done too. A person at a terminal is done as
// soon as the peer leaves; a pipe first sends all of its input (the peer may only have
// half-closed, as we do, and still be reading) — unless the rest of the input is for the
// next peer (serve-1to1 --keep-open): then what was read from it is sent first, and the
// rest stays in stdin.
bool Conversation::over() const {
  if (peer_open_) return false;
  return ends_.interactive || !write_open_ || (options_.end_with_peer && unsent().empty());
}

short Conversation::socket_events() const {
  short events = peer_open_ ? stream_.recv_events() : 0;
  // Writability only while there is something to send, a file to send from, or our end
  // of stream to send (TLS's close_notify may have to wait for room).
  const bool closing = !stdin_open_ && write_open_;
  if (!unsent().empty() || (sending_file() && stdin_open_) || closing) {
    events |= stream_.send_events();
  }
  return events;
}

// A file on stdin is sent when the socket is writable, not read when stdin is readable
// (a file always is). Keys are read even while a line waits: a person may type ahead.
bool Conversation::wants_stdin() const {
  return stdin_open_ && !sending_file() && (typing() || unsent().empty());
}

void Conversation::on_socket_ready(short got, bool held) {
  const short trouble = POLLHUP | POLLERR;
  if (peer_open_ && (held || (got & (stream_.recv_events() | trouble)))) receive();
  if (got & (stream_.send_events() | trouble)) {
    if (!unsent().empty()) {
      flush();
    } else if (sending_file() && stdin_open_) {
      send_file();
    }
  }
}

// ---------------------------------------------------------------------------------------
// The peer → stdout.

void Conversation::receive() {
  // Nonblocking mode reads until the kernel answers EAGAIN (--trace shows it), a few
  // rounds at most so stdin is not starved. Blocking mode reads once: poll said one
  // recv() will not wait, a second one might.
  const int rounds = drain_ ? kNonblockingRounds : 1;
  for (int round = 0; round < rounds && peer_open_; ++round) {
    std::size_t n = 0;
    try {
      n = take();
    } catch (const WouldBlockError&) {
      return;
    }
    if (n == 0) return peer_closed();  // the peer's FIN: it will send nothing more
    result_.received += n;
    pass_on(n);
  }
}

std::size_t Conversation::take() {
  if (bytes_out_) return bytes_out_->take();
  return stream_.recv(buffer_.data(), buffer_.size());
}

void Conversation::pass_on(std::size_t n) {
  if (bytes_out_) return bytes_out_->give();
  decoder_.feed({buffer_.data(), n});
  while (auto frame = decoder_.next()) show(*frame);
}

void Conversation::peer_closed() {
  peer_open_ = false;
  if (bytes_out_) return;
  const std::string rest = decoder_.finish();  // a last line without '\n'
  if (!rest.empty()) show(Frame{rest, false});
}

void Conversation::show(const Frame& frame) {
  if (frame.too_long) {
    const auto say = [&] {
      error(fmt::format("dropped a message longer than {} bytes from {}", kMaxMessage, peer_));
    };
    return screen_ ? screen_->interject(say) : say();
  }
  if (ends_.json) {
    emit(
        {{"event", "message"}, {"from", peer_}, {"text", frame.data}, {"bytes", frame.data.size()}},
        {});
  } else if (screen_) {
    screen_->show(frame.data);
  } else {
    // --framing length in a pipe: a frame a line, its own newlines escaped so that a peer
    // cannot make one frame pass for several lines.
    write_all(STDOUT_FILENO, one_line(frame.data) + '\n');
  }
}

// ---------------------------------------------------------------------------------------
// stdin → the peer.

// Messages (--nick, typed or piped lines) go before the bytes the byte pump holds.
std::string_view Conversation::unsent() const {
  if (messages_pos_ < messages_.size()) return std::string_view(messages_).substr(messages_pos_);
  return bytes_in_ ? bytes_in_->unsent() : std::string_view();
}

void Conversation::sent(std::size_t n) {
  result_.sent += n;
  if (messages_pos_ < messages_.size()) {
    messages_pos_ += n;
    if (messages_pos_ == messages_.size()) messages_.clear(), messages_pos_ = 0;
  } else {
    bytes_in_->sent(n);
  }
}

void Conversation::queue_message(std::string_view text) {
  messages_ += encode(options_.framing, text);
}

void Conversation::flush() {
  // The stream takes what fits now; the rest waits for the next POLLOUT. Waiting inside
  // send() for the rest could deadlock: the peer may be blocked sending to us.
  do {
    std::size_t n = 0;
    try {
      n = stream_.send(unsent());
    } catch (const WouldBlockError&) {
      return;
    } catch (const SocketError& e) {
      return on_send_error(e);
    }
    sent(n);
  } while (drain_ && !unsent().empty());
}

void Conversation::send_file() {
  std::optional<std::size_t> n;
  try {
    n = bytes_in_->send_file(options_.mode);
  } catch (const SocketError& e) {
    return on_send_error(e);
  }
  if (!n) return;
  if (*n == 0) return end_of_input();
  result_.sent += *n;
}

void Conversation::on_send_error(const SocketError& e) {
  const bool gone = e.error_number() == EPIPE || e.error_number() == ECONNRESET;
  if (peer_open_ || !gone) throw e;
  // The peer closed its end entirely, not just half: nobody reads what is left.
  messages_.clear(), messages_pos_ = 0;
  if (bytes_in_) bytes_in_->drop();
  stdin_open_ = write_open_ = false;
}

void Conversation::on_stdin_ready() {
  bool open = true;
  if (typing()) {
    open = screen_->read_keys([this](const std::string& line) { queue_message(line); });
  } else if (bytes_in_) {
    const auto n = bytes_in_->read();
    open = !n || *n > 0;
  } else {
    open = read_lines();
  }
  if (!open) end_of_input();
}

// Lines from stdin (a terminal without the chat's screen, or --framing length), each sent
// as one message. False at end of input.
bool Conversation::read_lines() {
  const auto n = read_stdin(buffer_.data(), buffer_.size());
  if (!n) return true;
  if (*n == 0) return false;
  stdin_lines_.feed({buffer_.data(), *n});
  while (auto line = stdin_lines_.next()) {
    if (line->too_long) {
      error(fmt::format("dropped an input line longer than {} bytes", kMaxMessage));
    } else {
      queue_message(line->data);
    }
  }
  return true;
}

void Conversation::end_of_input() {
  stdin_open_ = false;
  if (typing() || bytes_in_) return;
  const std::string rest = stdin_lines_.finish();  // a last line without '\n'
  if (!rest.empty()) queue_message(rest);
}

// At the end of stdin, once all of it is sent: shutdown(SHUT_WR) sends our FIN (TLS sends
// close_notify first). The peer reads end-of-file, and can still answer: the other
// direction stays open.
void Conversation::half_close_when_done() {
  if (stdin_open_ || !write_open_ || !unsent().empty()) return;
  try {
    stream_.shutdown_write();
  } catch (const WouldBlockError&) {
    return;  // TLS: no room for close_notify yet; poll() waits for it
  }
  write_open_ = false;
}

}  // namespace

ChatResult chat(ByteStream& stream, const Address& peer, const ChatOptions& options,
                StopSignals& stop) {
  stop.arm();  // from here a signal ends the conversation cleanly (the terminal restored)
  Conversation conversation(stream, peer, options, stop);
  try {
    return conversation.run();
  } catch (const StdoutClosed&) {
    return conversation.result();  // like `nc | head`: whoever read our output has seen enough
  }
}

}  // namespace sockchat::cli
