#include "cli/splice_out.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/error.hpp"

namespace sockchat::cli {

namespace {

constexpr int kPipeSize = 1024 * 1024;  // the most an unprivileged pipe may hold by default

bool stdout_takes_splice() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0) return false;
  if (S_ISREG(st.st_mode)) return true;
  return S_ISCHR(st.st_mode) && ::isatty(STDOUT_FILENO) == 0;  // /dev/null, not a terminal
}

}  // namespace

void widen_pipe(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    ::fcntl(fd, F_SETPIPE_SZ, kPipeSize);  // a failure leaves it as it was
  }
}

std::optional<SpliceOut> SpliceOut::for_stdout() {
  if (!stdout_takes_splice()) return std::nullopt;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;  // then recv() and write() do
  // A bigger pipe: each splice moves up to this much, as each recv() did with 1 MiB.
  const int size = ::fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
  const int capacity = size > 0 ? size : ::fcntl(fds[1], F_GETPIPE_SZ);
  return SpliceOut(fds[0], fds[1], static_cast<std::size_t>(capacity > 0 ? capacity : 65536));
}

SpliceOut::SpliceOut(SpliceOut&& other) noexcept
    : read_fd_(other.read_fd_),
      write_fd_(other.write_fd_),
      capacity_(other.capacity_),
      in_pipe_(other.in_pipe_) {
  other.read_fd_ = other.write_fd_ = -1;
}

SpliceOut& SpliceOut::operator=(SpliceOut&& other) noexcept {
  std::swap(read_fd_, other.read_fd_);  // ours are closed when `other` goes
  std::swap(write_fd_, other.write_fd_);
  std::swap(capacity_, other.capacity_);
  std::swap(in_pipe_, other.in_pipe_);
  return *this;
}

SpliceOut::~SpliceOut() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

std::size_t SpliceOut::take(Socket& socket) {
  const std::size_t n = socket.splice_to(write_fd_, capacity_ - in_pipe_);
  in_pipe_ += n;
  return n;
}

SpliceOut::Result SpliceOut::give(std::string& rest) {
  while (in_pipe_ > 0) {
    const ssize_t n = ::splice(read_fd_, nullptr, STDOUT_FILENO, nullptr, in_pipe_, SPLICE_F_MOVE);
    if (n > 0) {
      in_pipe_ -= static_cast<std::size_t>(n);
      continue;
    }
    const int err = n == 0 ? EINVAL : errno;  // 0 with bytes in the pipe: never seen, but
    if (err == EINTR) continue;               // a loop must not spin on it
    if (err == EPIPE) return Result::closed;
    if (err == EAGAIN) {
      pollfd p{STDOUT_FILENO, POLLOUT, 0};  // someone made our stdout nonblocking
      ::poll(&p, 1, -1);
      continue;
    }
    if (err != EINVAL) throw_socket_error("splice", "stdout", err);
    read_back(rest);
    return Result::refused;
  }
  return Result::written;
}

void SpliceOut::read_back(std::string& rest) {
  rest.resize(in_pipe_);
  std::size_t got = 0;
  while (got < rest.size()) {
    const ssize_t r = ::read(read_fd_, rest.data() + got, rest.size() - got);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0 || errno != EINTR) {
      throw_socket_error("read", "pipe", r == 0 ? EIO : errno);
    }
  }
  in_pipe_ = 0;
}

}  // namespace sockchat::cli
