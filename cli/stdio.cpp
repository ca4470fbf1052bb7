// stdio.cpp — see stdio.hpp.
#include "cli/stdio.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"

namespace sockchat::cli {

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

// stdin is never made nonblocking: that flag belongs to the open file, which the shell
// shares, and would break the shell after we exit.
std::optional<std::size_t> read_stdin(char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN) return std::nullopt;
    if (errno != EINTR) throw_socket_error("read", "stdin", errno);
  }
}

bool stdin_is_a_file() {
  struct stat st {};
  return ::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace sockchat::cli
