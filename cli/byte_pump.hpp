// byte_pump.hpp — the nc face of connect and serve-1to1: stdin's bytes go to the peer
// unchanged, the peer's bytes go to stdout unchanged.
//
// The poll loop in chat_loop.cpp drives both halves: it calls a step only when poll(2)
// said it will not wait, sends what StdinBytes holds before reading more (that is the
// back-pressure that keeps memory bounded when the peer reads slowly), and half-closes
// the socket at stdin's end. Each half avoids copies where the kernel allows: a regular
// file on stdin goes by sendfile(2), a file or /dev/null on stdout is fed by splice(2)
// (splice_out.hpp), and pipes are widened to 1 MiB. Read: read(2), sendfile(2), recv(2),
// write(2), splice(2), pipe(7).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/splice_out.hpp"
#include "cli/stdio.hpp"
#include "core/byte_stream.hpp"
#include "core/socket.hpp"
#include "core/wait.hpp"

namespace sockchat::cli {

// One read(2), recv(2) or sendfile(2): 1 MiB. Measured on loopback, 10% faster than
// 256 KiB; fewer calls.
inline constexpr std::size_t kChunk = 1024 * 1024;

// stdin → the peer, unchanged.
class StdinBytes {
 public:
  // `plain`: the socket when there is no TLS on it (sendfile needs one), else null.
  explicit StdinBytes(Socket* plain);

  // Read from stdin and not sent yet: send it before reading more.
  std::string_view unsent() const { return data_.substr(pos_); }
  void sent(std::size_t n) { pos_ += n; }
  void drop() { pos_ = data_.size(); }  // the peer is gone: nobody reads the rest

  // One read(2) into the buffer, sent from where it lies (no copy), or over TLS the next
  // window of a file on stdin (MappedStdin). The byte count, 0 at end of input, nullopt
  // if nothing was there.
  std::optional<std::size_t> read();

  // stdin is a regular file: the loop calls send_file() when the socket is writable,
  // and never read().
  bool from_file() const { return file_; }
  // One sendfile(2): the bytes sent, 0 at the end of the file, nullopt if none could go
  // now. `mode`: the socket's (no timeout means it blocks).
  std::optional<std::size_t> send_file(Timeout mode);

 private:
  Socket* plain_;
  bool file_;
  bool sent_from_file_ = false;
  std::optional<MappedStdin> mapped_;
  std::vector<char> buffer_;
  std::string_view data_;  // what the last read() got: in buffer_ or in mapped_'s window
  std::size_t pos_ = 0;    // bytes of it sent
};

// The peer → stdout, unchanged.
class StdoutBytes {
 public:
  explicit StdoutBytes(ByteStream& stream);

  // One recv(2) (or splice(2) into a pipe of ours): the byte count, 0 once the peer has
  // closed its side. Throws WouldBlockError when nothing was there.
  std::size_t take();
  void give();  // what take() got, to stdout (a pipe takes part of it at a time: it waits)

 private:
  std::optional<std::size_t> splice_in();  // nullopt: this socket takes no splice
  void splice_out();

  ByteStream& stream_;
  std::optional<SpliceOut> splice_;  // socket → stdout in the kernel (stdout a file)
  std::vector<char> buffer_;
  std::size_t taken_ = 0;  // bytes in buffer_ (when not spliced)
};

}  // namespace sockchat::cli
