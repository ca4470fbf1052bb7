// stdio.hpp — the two plain descriptors a conversation runs on besides its socket: stdin
// (0) and stdout (1). Shared by the byte pump and the terminal chat. Read: read(2), write(2).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace sockchat::cli {

// stdout went away (`sockchat connect ... | head -1`): the conversation is over.
struct StdoutClosed {};

// write(2) until all is written: a pipe may take part of it. Throws StdoutClosed on EPIPE.
void write_all(int fd, std::string_view data);

// read(2) from stdin: the byte count (0 at end of file), or nullopt if nothing was there.
std::optional<std::size_t> read_stdin(char* buffer, std::size_t size);

bool stdin_is_a_file();  // a regular file: `sockchat connect HOST < big.iso`

// A regular file on stdin, read through mmap(2) windows instead of read(2) into a buffer:
// what goes out over TLS is encrypted straight from the page cache, one copy of every byte
// saved (a third of a TLS sender's work, docs/benchmarks.md). Without TLS, sendfile(2)
// does better still; with TLS it cannot: the kernel would send the bytes unencrypted.
// A file that shrinks under a mapping raises SIGBUS; while one exists, that signal prints
// one line and exits 1. A file that grows is read() past what was mapped. Read: mmap(2).
class MappedStdin {
 public:
  static std::optional<MappedStdin> open();  // nullopt: not a regular file with bytes left
  MappedStdin(MappedStdin&& other) noexcept;
  MappedStdin& operator=(MappedStdin&&) = delete;
  ~MappedStdin();
  // The next window of the file, empty once the size seen at open() is reached or if the
  // file cannot be mapped; stdin's file offset is then where read() goes on from.
  std::string_view next();

 private:
  MappedStdin(off_t offset, off_t end) : offset_(offset), end_(end) {}
  void unmap();
  off_t offset_;  // the next window starts here
  off_t end_;     // the file's size at open()
  void* window_ = nullptr;
  std::size_t length_ = 0;
  bool owner_ = true;  // of the SIGBUS handler (false once moved from)
};

}  // namespace sockchat::cli
