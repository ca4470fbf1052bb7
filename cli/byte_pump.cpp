// byte_pump.cpp — see byte_pump.hpp.
#include "cli/byte_pump.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "cli/stdio.hpp"
#include "core/error.hpp"

namespace sockchat::cli {

StdinBytes::StdinBytes(Socket* plain)
    : plain_(plain),
      file_(plain != nullptr && stdin_is_a_file()),
      mapped_(plain == nullptr ? MappedStdin::open() : std::nullopt),
      buffer_(kChunk) {
  widen_pipe(STDIN_FILENO);
}

std::optional<std::size_t> StdinBytes::read() {
  if (mapped_) {
    pos_ = 0;
    data_ = mapped_->next();
    if (!data_.empty()) return data_.size();
    mapped_.reset();  // all that was there at the start: read() whatever came since
  }
  const auto n = read_stdin(buffer_.data(), buffer_.size());
  if (n) pos_ = 0, data_ = {buffer_.data(), *n};
  return n;
}

// sendfile(2) moves the file's pages to the socket inside the kernel, which saves copying
// them into our buffer and out again — a third of a bulk transfer's work on loopback
// (docs/benchmarks.md). It has no MSG_DONTWAIT: on a blocking socket it waits until all
// `count` bytes are queued, so it is asked for a quarter of the send buffer at most.
// poll() said POLLOUT, which for TCP means at least a third of it is free (tcp_poll: free
// space >= half of what is queued).
std::optional<std::size_t> StdinBytes::send_file(Timeout mode) {
  std::size_t count = kChunk;
  if (!mode) {
    const int sndbuf = plain_->getsockopt(SOL_SOCKET, SO_SNDBUF);
    count = std::min(count, static_cast<std::size_t>(std::max(sndbuf / 4, 1)));
  }
  try {
    const std::size_t n = plain_->sendfile(STDIN_FILENO, count);
    sent_from_file_ = sent_from_file_ || n > 0;
    return n;
  } catch (const WouldBlockError&) {
    return std::nullopt;
  } catch (const SocketError& e) {
    // EINVAL: this file cannot be spliced (some /proc and FUSE files): read() it instead.
    if (e.error_number() != EINVAL || sent_from_file_) throw;
    file_ = false;
    return std::nullopt;
  }
}

StdoutBytes::StdoutBytes(ByteStream& stream) : stream_(stream), buffer_(kChunk) {
  if (stream.plain() != nullptr) splice_ = SpliceOut::for_stdout();
  if (!splice_) widen_pipe(STDOUT_FILENO);
}

std::size_t StdoutBytes::take() {
  if (splice_) {
    if (const auto n = splice_in()) return *n;
  }
  taken_ = stream_.recv(buffer_.data(), buffer_.size());
  return taken_;
}

void StdoutBytes::give() {
  if (splice_) return splice_out();
  write_all(STDOUT_FILENO, {buffer_.data(), taken_});  // like nc: unchanged
}

std::optional<std::size_t> StdoutBytes::splice_in() {
  try {
    return splice_->take(*stream_.plain());
  } catch (const SocketError& e) {
    if (e.error_number() != EINVAL) throw;  // EAGAIN too: nothing there
    splice_.reset();                        // a socket that cannot be spliced from: recv() it is
    return std::nullopt;
  }
}

void StdoutBytes::splice_out() {
  std::string rest;
  switch (splice_->give(rest)) {
    case SpliceOut::Result::written:
      return;
    case SpliceOut::Result::closed:
      throw StdoutClosed{};
    case SpliceOut::Result::refused:  // stdout takes no splice: write() this and the rest
      splice_.reset();
      write_all(STDOUT_FILENO, rest);
  }
}

}  // namespace sockchat::cli
