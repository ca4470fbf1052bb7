// stdio.cpp — see stdio.hpp.
#include "cli/stdio.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

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

namespace {

// 8 MiB: few mmap/munmap calls per GiB, and MAP_POPULATE maps a window's pages in one call
// instead of one page fault per 4 KiB (or per 64 KiB with the kernel's fault-around).
constexpr off_t kWindow = 8 * 1024 * 1024;

extern "C" void stdin_shrank(int) {
  static const char message[] = "sockchat: stdin: the file shrank while it was being sent\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, message, sizeof message - 1);
  _exit(1);
}

}  // namespace

std::optional<MappedStdin> MappedStdin::open() {
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const off_t offset = ::lseek(STDIN_FILENO, 0, SEEK_CUR);
  if (offset < 0 || offset >= st.st_size) return std::nullopt;
  struct sigaction action {};
  action.sa_handler = stdin_shrank;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, nullptr);
  return MappedStdin(offset, st.st_size);
}

MappedStdin::MappedStdin(MappedStdin&& other) noexcept
    : offset_(other.offset_),
      end_(other.end_),
      window_(other.window_),
      length_(other.length_),
      owner_(other.owner_) {
  other.window_ = nullptr;
  other.owner_ = false;
}

MappedStdin::~MappedStdin() {
  unmap();
  if (owner_) std::signal(SIGBUS, SIG_DFL);  // a SIGBUS from now on is not about stdin
}

void MappedStdin::unmap() {
  if (window_ != nullptr) ::munmap(window_, length_);
  window_ = nullptr;
}

std::string_view MappedStdin::next() {
  unmap();
  if (offset_ >= end_) return {};
  // The window starts on a page boundary, as mmap(2) requires; `skip` bytes of its first
  // page were sent already (stdin's offset need not be page-aligned at the start).
  const off_t page = ::sysconf(_SC_PAGESIZE);
  const off_t start = offset_ / page * page;
  const auto skip = static_cast<std::size_t>(offset_ - start);
  length_ = static_cast<std::size_t>(std::min(end_ - start, kWindow));
  void* window =
      ::mmap(nullptr, length_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, STDIN_FILENO, start);
  if (window == MAP_FAILED) {
    // Some regular files take no mapping (sysfs: ENODEV): read() them from here on.
    ::lseek(STDIN_FILENO, offset_, SEEK_SET);
    end_ = offset_;
    return {};
  }
  window_ = window;
  offset_ = start + static_cast<off_t>(length_);
  ::lseek(STDIN_FILENO, offset_, SEEK_SET);  // read() goes on from here if the file grew
  return {static_cast<const char*>(window_) + skip, length_ - skip};
}

}  // namespace sockchat::cli
