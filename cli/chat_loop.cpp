// chat_loop.cpp — one poll() loop over stdin and a connected socket (see chat_loop.hpp).
//
// The loop waits in poll(2) for: the socket readable (the peer said something, or closed),
// the socket writable (only while something waits to be sent), stdin readable (only
// while nothing waits: that is the back-pressure that keeps memory bounded when the peer
// reads slowly). Big buffers make a bulk transfer cost few syscalls per megabyte.
// Read: poll(2), recv(2), send(2) (MSG_DONTWAIT), shutdown(2), sendfile(2), splice(2),
// termios(3), isatty(3), ioctl_tty(2) (TIOCGWINSZ).
#include "cli/chat_loop.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/splice_out.hpp"
#include "core/byte_stream.hpp"
#include "core/error.hpp"
#include "core/line_editor.hpp"
#include "core/screen.hpp"
#include "core/terminal.hpp"
#include "core/text.hpp"

namespace sockchat::cli {

namespace {

// One read or recv: 1 MiB. Measured on loopback, 10% faster than 256 KiB; fewer calls.
constexpr std::size_t kChunk = 1024 * 1024;
constexpr std::size_t kFileChunk = 1024 * 1024;        // one sendfile at most: 1 MiB
constexpr std::size_t kMaxMessage = 16 * 1024 * 1024;  // a line or frame we accept
constexpr int kNonblockingRounds = 8;  // recv()s per wake-up before looking at stdin again
constexpr std::string_view kPrompt = "> ";
constexpr std::size_t kDefaultWidth = 80;  // when the terminal does not say (a bare pty: 0)

}  // namespace

// ---------------------------------------------------------------------------------------
// Output.

namespace {

// stdout went away (`sockchat connect ... | head -1`): the conversation is over.
struct StdoutClosed {};

// write(2) until all is written: a pipe may take part of it.
void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EPIPE) {
      throw StdoutClosed{};
    } else if (errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};  // someone made our stdout nonblocking: wait for it
      ::poll(&p, 1, -1);
    } else if (errno != EINTR) {
      throw_socket_error("write", fd == STDOUT_FILENO ? "stdout" : "stderr", errno);
    }
  }
}

}  // namespace

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

bool stdin_is_a_file() {
  struct stat st {};
  return ::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
}

// ---------------------------------------------------------------------------------------
// One conversation.

class Session {
 public:
  Session(ByteStream& stream, const Address& peer, const ChatOptions& options, StopSignals& stop);
  ChatResult run();
  const ChatResult& result() const { return result_; }

 private:
  bool over() const;
  short socket_events() const;
  std::string_view pending() const;
  void consumed(std::size_t n);
  void queue_message(std::string_view text);
  void on_socket_ready();
  void flush();
  void send_file();
  void on_send_error(const SocketError& e);
  void on_stdin_ready();
  void read_keys();
  void read_lines_or_bytes();
  std::optional<std::size_t> read_stdin(char* buffer, std::size_t size);
  void end_of_input();
  void half_close_when_done();
  std::size_t take_from_socket();
  void deliver(std::string_view bytes);
  void deliver_spliced();
  void show(const Frame& frame);
  void display(std::string_view line);
  std::string erase_input() const;
  void redraw();

  ByteStream& stream_;
  Socket* plain_;  // the socket when there is no TLS on it (sendfile, splice)
  int fd_;
  std::string peer_;
  ChatOptions options_;
  StopSignals& stop_;
  bool nonblocking_;
  bool drain_;        // read and write until EAGAIN each time poll() wakes us
  bool json_;         // output: message events on stdout
  bool display_;      // output: a terminal, so lines made visible
  bool raw_out_;      // output: bytes unchanged (a pipe, line or raw framing)
  bool interactive_;  // input: a person at a terminal
  bool keys_;         // input: key by key through the line editor
  bool bytes_in_;     // input: bytes unchanged (a pipe, line or raw framing)
  bool file_in_;      // input: bytes unchanged from a regular file, sent with sendfile()
  std::optional<RawTerminal> terminal_;
  std::optional<SpliceOut> splice_;  // socket → stdout in the kernel (stdout a file)
  LineEditor editor_;
  std::string shown_;    // the input area on screen now (prompt and typed line), as printed
  Decoder decoder_;      // the peer's bytes → messages (when not raw_out_)
  Decoder stdin_lines_;  // stdin → lines (when neither keys_ nor bytes_in_)
  std::vector<char> recv_buffer_;
  std::vector<char> stdin_buffer_;
  std::size_t in_pos_ = 0, in_len_ = 0;  // bytes of stdin_buffer_ not sent yet
  std::string encoded_;                  // messages not sent yet (sent before stdin bytes)
  std::size_t encoded_pos_ = 0;
  bool stdin_open_ = true;
  bool peer_open_ = true;   // the peer has not sent its FIN yet
  bool write_open_ = true;  // we have not half-closed yet
  ChatResult result_;
};

Session::Session(ByteStream& stream, const Address& peer, const ChatOptions& options,
                 StopSignals& stop)
    : stream_(stream),
      plain_(stream.plain()),
      fd_(stream.socket().fileno()),
      peer_(peer.to_string()),
      options_(options),
      stop_(stop),
      nonblocking_(is_nonblocking(options.mode)),
      // TLS runs its socket nonblocking (see for_poll_loop) and reads one record per call.
      drain_(nonblocking_ || plain_ == nullptr),
      json_(global_options().json),
      display_(!json_ && ::isatty(STDOUT_FILENO) == 1),
      raw_out_(!json_ && !display_ && options.framing != Framing::length),
      interactive_(::isatty(STDIN_FILENO) == 1),
      keys_(interactive_ && display_),
      bytes_in_(!interactive_ && options.framing != Framing::length),
      file_in_(bytes_in_ && plain_ != nullptr && stdin_is_a_file()),
      decoder_(options.framing, kMaxMessage),
      stdin_lines_(Framing::line, kMaxMessage),
      recv_buffer_(kChunk),
      stdin_buffer_(bytes_in_ ? kChunk : 4096) {
  if (keys_) terminal_.emplace(STDIN_FILENO);
  stream_.for_poll_loop();
  if (raw_out_ && plain_ != nullptr) splice_ = SpliceOut::for_stdout();
  if (raw_out_ && !splice_) widen_pipe(STDOUT_FILENO);
  if (bytes_in_) widen_pipe(STDIN_FILENO);
}

ChatResult Session::run() {
  if (!options_.nick.empty()) queue_message("/nick " + options_.nick);
  redraw();
  while (!over()) {
    const short events = socket_events();
    const bool want_stdin = stdin_open_ && !file_in_ && (keys_ || pending().empty());
    pollfd fds[2] = {{events != 0 ? fd_ : -1, events, 0}, {want_stdin ? 0 : -1, POLLIN, 0}};
    // Bytes TLS has decrypted already are not the socket's: poll() cannot see them.
    const bool held = peer_open_ && stream_.buffered();
    const Timeout limit = held ? Timeout{std::chrono::seconds(0)} : wait_limit(options_.mode);
    const int ready = stop_.poll(fds, 2, Deadline(limit));
    if (ready < 0) {
      result_.interrupted = true;
      break;
    }
    if (ready == 0 && !held) {
      throw TimeoutError(pending().empty() ? "recv" : "send", peer_, *options_.mode);
    }
    const short got = fds[0].revents;
    const short trouble = POLLHUP | POLLERR;
    if (peer_open_ && (held || (got & (stream_.recv_events() | trouble)))) on_socket_ready();
    if (got & (stream_.send_events() | trouble)) {
      if (!pending().empty()) {
        flush();
      } else if (file_in_ && stdin_open_) {
        send_file();
      }
    }
    if (fds[1].revents != 0) on_stdin_ready();
    half_close_when_done();
  }
  if (keys_) write_all(STDOUT_FILENO, erase_input());  // leave no prompt behind
  return result_;
}

// Over when the peer has closed and we are done too. A person at a terminal is done as
// soon as the peer leaves; a pipe first sends all of its input (the peer may only have
// half-closed, as we do, and still be reading) — unless the rest of the input is for the
// next peer (serve-1to1 --keep-open): then what was read from it is sent first, and the
// rest stays in stdin.
bool Session::over() const {
  if (peer_open_) return false;
  return interactive_ || !write_open_ || (options_.end_with_peer && pending().empty());
}

short Session::socket_events() const {
  short events = peer_open_ ? stream_.recv_events() : 0;
  // Writability only while there is something to send, a file to send from, or our end
  // of stream to send (TLS's close_notify may have to wait for room).
  const bool closing = !stdin_open_ && write_open_;
  if (!pending().empty() || (file_in_ && stdin_open_) || closing) events |= stream_.send_events();
  return events;
}

std::string_view Session::pending() const {
  if (encoded_pos_ < encoded_.size()) return std::string_view(encoded_).substr(encoded_pos_);
  return {stdin_buffer_.data() + in_pos_, in_len_ - in_pos_};
}

void Session::consumed(std::size_t n) {
  result_.sent += n;
  if (encoded_pos_ < encoded_.size()) {
    encoded_pos_ += n;
    if (encoded_pos_ == encoded_.size()) encoded_.clear(), encoded_pos_ = 0;
  } else {
    in_pos_ += n;
  }
}

void Session::queue_message(std::string_view text) {
  encoded_ += encode(options_.framing, text);
}

// ---------------------------------------------------------------------------------------
// Socket → stdout.

void Session::on_socket_ready() {
  // Nonblocking mode reads until the kernel answers EAGAIN (--trace shows it), a few
  // rounds at most so stdin is not starved. Blocking mode reads once: poll said one
  // recv() will not wait, a second one might.
  const int rounds = drain_ ? kNonblockingRounds : 1;
  for (int round = 0; round < rounds && peer_open_; ++round) {
    std::size_t n = 0;
    try {
      n = take_from_socket();
    } catch (const WouldBlockError&) {
      return;
    }
    if (n == 0) {  // the peer's FIN: it will send nothing more
      peer_open_ = false;
      if (!raw_out_) {
        const std::string rest = decoder_.finish();  // a last line without '\n'
        if (!rest.empty()) show(Frame{rest, false});
      }
      return;
    }
    result_.received += n;
    if (splice_) {
      deliver_spliced();
    } else {
      deliver({recv_buffer_.data(), n});
    }
  }
}

std::size_t Session::take_from_socket() {
  if (splice_) {
    try {
      return splice_->take(*plain_);
    } catch (const SocketError& e) {
      if (e.error_number() != EINVAL) throw;
      splice_.reset();  // a socket that cannot be spliced from: recv() it is
    }
  }
  return stream_.recv(recv_buffer_.data(), recv_buffer_.size());
}

void Session::deliver_spliced() {
  std::string rest;
  switch (splice_->give(rest)) {
    case SpliceOut::Result::written:
      return;
    case SpliceOut::Result::closed:
      throw StdoutClosed{};
    case SpliceOut::Result::refused:  // stdout takes no splice: write() this and the rest
      splice_.reset();
      deliver(rest);
  }
}

void Session::deliver(std::string_view bytes) {
  if (raw_out_) {
    write_all(STDOUT_FILENO, bytes);  // like nc: unchanged, no copy
    return;
  }
  decoder_.feed(bytes);
  while (auto frame = decoder_.next()) show(*frame);
}

void Session::show(const Frame& frame) {
  if (frame.too_long) {
    if (keys_) {  // the error goes where the input area was, which is drawn again below it
      write_all(STDOUT_FILENO, erase_input());
      shown_.clear();
    }
    error(fmt::format("dropped a message longer than {} bytes from {}", kMaxMessage, peer_));
    redraw();
  } else if (json_) {
    emit(
        {{"event", "message"}, {"from", peer_}, {"text", frame.data}, {"bytes", frame.data.size()}},
        {});
  } else if (display_) {
    display(frame.data);
  } else {
    // --framing length in a pipe: a frame a line, its own newlines escaped so that a peer
    // cannot make one frame pass for several lines.
    write_all(STDOUT_FILENO, one_line(frame.data) + '\n');
  }
}

// A peer's line on the terminal: control characters made visible (an ESC from the network
// must not drive our terminal), notices and errors of the group chat in colour, and the
// user's half-typed line drawn again below it.
void Session::display(std::string_view line) {
  const bool color = use_color(STDOUT_FILENO);
  std::string text = visible(line);
  if (line.starts_with("* ")) text = paint(color, "36", text);
  if (line.starts_with("! ")) text = paint(color, "31", text);
  if (keys_) {
    const std::string area = input_area(kPrompt, editor_.line());
    write_all(STDOUT_FILENO, fmt::format("{}{}\n{}", erase_input(), text, area));
    shown_ = area;
  } else {
    write_all(STDOUT_FILENO, text + '\n');
  }
}

// What erases the input area on screen, every row of it: a line longer than the terminal
// is wide wraps, and "\r\x1b[K" alone would erase only its last row (core/screen.hpp).
// The cursor ends at the start of the area's first row. An area taller than the window
// is erased from the top row down: the cursor cannot go higher, so the rows that scrolled
// off stay in the terminal's scrollback (readline has the same limit).
std::string Session::erase_input() const {
  return erase_rows(rows_taken(shown_, terminal_width(STDOUT_FILENO, kDefaultWidth)));
}

void Session::redraw() {
  if (!keys_) return;
  const std::string area = input_area(kPrompt, editor_.line());
  write_all(STDOUT_FILENO, erase_input() + area);
  shown_ = area;
}

// ---------------------------------------------------------------------------------------
// stdin → socket.

void Session::flush() {
  // The stream takes what fits now; the rest waits for the next POLLOUT. Waiting inside
  // send() for the rest could deadlock: the peer may be blocked sending to us.
  do {
    std::size_t n = 0;
    try {
      n = stream_.send(pending());
    } catch (const WouldBlockError&) {
      return;
    } catch (const SocketError& e) {
      return on_send_error(e);
    }
    consumed(n);
  } while (drain_ && !pending().empty());
}

// stdin is a regular file (`sockchat connect HOST < big.iso`): sendfile(2) moves its pages
// to the socket inside the kernel, which saves copying them into our buffer and out again
// — a third of a bulk transfer's work on loopback (docs/benchmarks.md). sendfile has no
// MSG_DONTWAIT: on a blocking socket it waits until all `count` bytes are queued, so it is
// asked for a quarter of the send buffer at most. poll() said POLLOUT, which for TCP means
// at least a third of it is free (tcp_poll: free space >= half of what is queued).
void Session::send_file() {
  std::size_t count = kFileChunk;
  if (!options_.mode) {
    const int sndbuf = plain_->getsockopt(SOL_SOCKET, SO_SNDBUF);
    count = std::min(count, static_cast<std::size_t>(std::max(sndbuf / 4, 1)));
  }
  std::size_t n = 0;
  try {
    n = plain_->sendfile(STDIN_FILENO, count);
  } catch (const WouldBlockError&) {
    return;
  } catch (const SocketError& e) {
    // EINVAL: this file cannot be spliced (some /proc and FUSE files): read() it instead.
    if (e.error_number() != EINVAL || result_.sent > 0) return on_send_error(e);
    file_in_ = false;
    return;
  }
  if (n == 0) return end_of_input();
  result_.sent += n;
}

void Session::on_send_error(const SocketError& e) {
  const bool gone = e.error_number() == EPIPE || e.error_number() == ECONNRESET;
  if (peer_open_ || !gone) throw e;
  // The peer closed its end entirely, not just half: nobody reads what is left.
  in_pos_ = in_len_, encoded_.clear(), encoded_pos_ = 0;
  stdin_open_ = write_open_ = false;
}

void Session::on_stdin_ready() {
  if (keys_) {
    read_keys();
  } else {
    read_lines_or_bytes();
  }
}

void Session::read_keys() {
  char keys[4096];
  const auto n = read_stdin(keys, sizeof keys);
  if (!n) return;
  if (*n == 0) return end_of_input();
  // Drawn once per read, not once per key: a pasted paragraph is not redrawn per letter.
  bool changed = false;
  for (std::size_t i = 0; i < *n; ++i) {
    switch (editor_.feed(keys[i])) {
      case LineEditor::Key::submit:
        if (std::exchange(changed, false)) redraw();
        queue_message(editor_.take());
        // Your line stays on screen; the new prompt starts on the row below it.
        write_all(STDOUT_FILENO, fmt::format("\n{}", kPrompt));
        shown_ = kPrompt;
        break;
      case LineEditor::Key::eof:
        if (changed) redraw();
        return end_of_input();
      case LineEditor::Key::changed:
        changed = true;
        break;
      case LineEditor::Key::none:
        break;
    }
  }
  if (changed) redraw();
}

void Session::read_lines_or_bytes() {
  const auto n = read_stdin(stdin_buffer_.data(), stdin_buffer_.size());
  if (!n) return;
  if (*n == 0) return end_of_input();
  if (bytes_in_) {
    in_pos_ = 0, in_len_ = *n;  // sent from where it was read: no copy
    return;
  }
  stdin_lines_.feed({stdin_buffer_.data(), *n});
  while (auto line = stdin_lines_.next()) {
    if (line->too_long) {
      error(fmt::format("dropped an input line longer than {} bytes", kMaxMessage));
    } else {
      queue_message(line->data);
    }
  }
}

// read(2) from stdin: the byte count (0 at end of file), or nullopt if nothing was there.
// stdin is never made nonblocking: that flag belongs to the open file, which the shell
// shares, and would break the shell after we exit.
std::optional<std::size_t> Session::read_stdin(char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN) return std::nullopt;
    if (errno != EINTR) throw_socket_error("read", "stdin", errno);
  }
}

void Session::end_of_input() {
  stdin_open_ = false;
  if (!keys_ && !bytes_in_) {
    const std::string rest = stdin_lines_.finish();  // a last line without '\n'
    if (!rest.empty()) queue_message(rest);
  }
}

// At the end of stdin, once all of it is sent: shutdown(SHUT_WR) sends our FIN (TLS sends
// close_notify first). The peer reads end-of-file, and can still answer: the other
// direction stays open.
void Session::half_close_when_done() {
  if (stdin_open_ || !write_open_ || !pending().empty()) return;
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
  Session session(stream, peer, options, stop);
  try {
    return session.run();
  } catch (const StdoutClosed&) {
    return session.result();  // like `nc | head`: whoever read our output has seen enough
  }
}

}  // namespace sockchat::cli
