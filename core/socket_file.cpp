#include "core/socket_file.hpp"

#include <algorithm>

#include "core/socket.hpp"

namespace sockchat {

// A chunk of 0 would make every recv() return 0, which reads as end of stream.
SocketFile::SocketFile(Socket& socket, std::size_t chunk)
    : socket_(socket), chunk_(std::max<std::size_t>(chunk, 1)) {}

bool SocketFile::fill() {
  if (in_pos_ > 0) {  // drop what was consumed before growing the buffer
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  const std::size_t old = in_.size();
  in_.resize(old + chunk_);
  std::size_t n = 0;
  try {
    n = socket_.recv(in_.data() + old, chunk_);
  } catch (...) {
    // A timeout or EAGAIN is not the end: keep what was buffered, drop the unused room,
    // and the caller may simply call readline() again.
    in_.resize(old);
    throw;
  }
  in_.resize(old + n);
  return n > 0;
}

std::string SocketFile::readline(std::size_t max) {
  std::size_t scanned = in_pos_;
  for (;;) {
    const std::size_t nl = in_.find('\n', scanned);
    const std::size_t available = in_.size() - in_pos_;
    if (nl != std::string::npos || available >= max) {
      const std::size_t end = nl != std::string::npos ? nl + 1 : in_.size();
      const std::size_t n = std::min(end - in_pos_, max);
      std::string line = in_.substr(in_pos_, n);
      in_pos_ += n;
      return line;
    }
    scanned = in_.size() - in_pos_;  // positions shift when fill() compacts
    if (!fill()) return read(in_.size() - in_pos_);
    scanned += in_pos_;
  }
}

std::string SocketFile::read(std::size_t n) {
  while (in_.size() - in_pos_ < n && fill()) {
  }
  const std::size_t take = std::min(n, in_.size() - in_pos_);
  std::string out = in_.substr(in_pos_, take);
  in_pos_ += take;
  return out;
}

void SocketFile::write(std::string_view data) {
  out_.append(data);
  if (out_.size() >= chunk_) flush();
}

void SocketFile::flush() {
  if (out_.empty()) return;
  socket_.sendall(out_);
  out_.clear();
}

}  // namespace sockchat
