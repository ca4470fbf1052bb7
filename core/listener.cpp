#include "core/listener.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

// A unix socket file whose server died is "stale": nothing accepts on it, and connecting
// is refused. Any other file, or a live server, must be left alone.
bool is_stale_socket(const Address& address) {
  struct stat st {};
  if (::lstat(address.host().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  Socket probe(AF_UNIX, SOCK_STREAM);
  return probe.connect_ex(address) == ECONNREFUSED;
}

}  // namespace

void bind_replacing_stale(Socket& listener, const Address& address) {
  try {
    listener.bind(address);
  } catch (const SocketError& e) {
    if (!address.is_unix() || e.error_number() != EADDRINUSE || !is_stale_socket(address)) throw;
    ::unlink(address.host().c_str());
    listener.bind(address);
  }
}

Socket open_listener(const Address& address, int backlog) {
  Socket listener(address.family(), SOCK_STREAM);
  // Without SO_REUSEADDR a restarted server fails with EADDRINUSE for a minute or two,
  // while the old connections sit in TIME_WAIT (the tutorial's first defect).
  if (!address.is_unix()) listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  bind_replacing_stale(listener, address);
  listener.listen(backlog);
  return listener;
}

std::size_t raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    trace::Call t("setrlimit",
                  fmt::format("RLIMIT_NOFILE, {} -> {}", limit.rlim_cur, limit.rlim_max),
                  "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))");
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      t.ok(0);
    } else {
      t.fail(errno);
      limit.rlim_cur = before;
    }
  }
  return static_cast<std::size_t>(std::min<rlim_t>(limit.rlim_cur, rlim_t{1} << 20));
}

void SpareDescriptor::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SpareDescriptor::reopen() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

bool out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE;
}

}  // namespace sockchat
