// splice_out.hpp — received bytes to stdout without copying them through our memory,
// and pipes on stdin and stdout made wide enough for bulk transfers.
//
// recv(2) copies what the kernel received into our buffer, and write(2) copies it out
// again. When stdout is a file or a device such as /dev/null, splice(2) can hand the
// kernel's pages along instead: socket → a pipe of ours → stdout. The pipe is needed
// because splice moves data only into or out of a pipe. Used by serve-1to1 and connect
// in a pipeline (`sockchat serve-1to1 > copy.iso`), where it saves a third of the work.
// Read: splice(2), pipe(2), fcntl(2) (F_SETPIPE_SZ).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/socket.hpp"

namespace sockchat::cli {

// When `fd` is a pipe (`sockchat serve-1to1 | tar x`, `tar c . | sockchat connect ...`),
// asks the kernel to let it hold 1 MiB instead of 64 KiB, so that each 1 MiB we write or
// read is not cut into sixteen waits for the program at the other end. Nothing changes if
// `fd` is no pipe or the kernel says no (fcntl(2) F_SETPIPE_SZ, pipe(7)).
void widen_pipe(int fd);

class SpliceOut {
 public:
  // Splicing pays off only where our copy is pure overhead: stdout is a regular file or a
  // device that is not a terminal. Into a pipe or a terminal we recv() and write() as the
  // lessons show. Empty when stdout is neither, or when no pipe can be had.
  static std::optional<SpliceOut> for_stdout();

  SpliceOut(SpliceOut&& other) noexcept;
  SpliceOut& operator=(SpliceOut&& other) noexcept;
  SpliceOut(const SpliceOut&) = delete;
  ~SpliceOut();

  // Moves what the socket has (up to the pipe's size) into the pipe, waiting as recv()
  // would. Returns the bytes moved; 0 once the peer has closed its side.
  std::size_t take(Socket& socket);

  enum class Result { written, refused, closed };
  // Empties the pipe into stdout. `refused`: stdout takes no splice (a file opened for
  // appending, say); what is still in the pipe is then read back into `rest`, for the
  // caller to write(). `closed`: the reader of stdout is gone (EPIPE).
  Result give(std::string& rest);

 private:
  SpliceOut(int read_fd, int write_fd, std::size_t capacity)
      : read_fd_(read_fd), write_fd_(write_fd), capacity_(capacity) {}
  void read_back(std::string& rest);

  int read_fd_ = -1;
  int write_fd_ = -1;
  std::size_t capacity_ = 0;
  std::size_t in_pipe_ = 0;  // bytes taken from the socket, not yet given to stdout
};

}  // namespace sockchat::cli
