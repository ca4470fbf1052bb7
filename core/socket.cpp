#include "core/socket.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/socket_file.hpp"

namespace sockchat {

namespace {

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

std::string python_timeout(Timeout t) {
  return t ? fmt::format("{:g}", t->count()) : "None";
}

// SOCK_STREAM without the SOCK_NONBLOCK / SOCK_CLOEXEC flags socket(2) accepts in `type`.
bool is_stream(int type) {
  return (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Lifetime: the descriptor is owned, moved, and closed exactly once.

Socket::Socket(int family, int type, int protocol) : family_(family), type_(type) {
  trace::Call t(
      "socket",
      fmt::format("{}, {}, {}", trace::family_name(family), trace::type_name(type), protocol),
      fmt::format("s = socket.socket(socket.{}, socket.{})", trace::family_name(family),
                  trace::type_name(type)));
  // SOCK_CLOEXEC: a child process (a shell escape, a test's helper) must not inherit it.
  fd_ = ::socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("socket", trace::family_name(family), err);
  }
  t.ok(std::to_string(fd_));
}

Socket Socket::adopt(int fd, int family, int type) {
  return Socket(Adopted{}, fd, family, type);
}

Socket::Socket(Socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      family_(other.family_),
      type_(other.type_),
      timeout_(other.timeout_),
      peer_(std::move(other.peer_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    family_ = other.family_;
    type_ = other.type_;
    timeout_ = other.timeout_;
    peer_ = std::move(other.peer_);
  }
  return *this;
}

Socket::~Socket() {
  // close(2) is never retried on EINTR: on Linux the descriptor is gone either way.
  if (fd_ >= 0) ::close(fd_);
}

int Socket::release() noexcept {
  return std::exchange(fd_, -1);
}

// ---------------------------------------------------------------------------------------
// The one loop behind every call that may wait.

bool Socket::waits() const {
  return timeout_ && timeout_->count() > 0;
}

std::string Socket::timed_out_result() const {
  return fmt::format("ETIMEDOUT (timed out after {:g} s)", timeout_ ? timeout_->count() : 0.0);
}

template <typename Syscall>
auto Socket::retry(const char* call, const Address* to, short events, const Deadline& deadline,
                   const trace::Call& t, Syscall syscall) {
  for (;;) {
    const auto n = syscall();
    if (n >= 0) return n;
    const int err = errno;
    if (err == EINTR) continue;  // a signal interrupted the wait: just ask again
    if (would_block(err) && waits()) {
      if (wait_ready(fd_, events, deadline)) continue;
      t.fail(timed_out_result());
      throw TimeoutError(call, to ? to->to_string() : peer_, *timeout_);
    }
    t.fail(err);
    throw_socket_error(call, to ? to->to_string() : peer_, err);
  }
}

// ---------------------------------------------------------------------------------------
// Server side.

void Socket::bind(const Address& address) {
  trace::Call t("bind", fmt::format("{}, {}", fd_, address.to_string()),
                fmt::format("s.bind({})", address.to_python()));
  if (::bind(fd_, address.data(), address.size()) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("bind", address.to_string(), err);
  }
  t.ok("0");
}

void Socket::listen(int backlog) {
  trace::Call t("listen", fmt::format("{}, {}", fd_, backlog),
                fmt::format("s.listen({})", backlog));
  if (::listen(fd_, backlog) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("listen", {}, err);
  }
  t.ok("0");
}

std::pair<Socket, Address> Socket::accept() {
  trace::Call t("accept");
  if (t.on()) t.describe(std::to_string(fd_), "conn, addr = s.accept()");
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  const int fd = retry("accept", nullptr, POLLIN, Deadline(timeout_), t, [&] {
    len = sizeof peer;
    return ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  });
  Address from = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&peer), len);
  if (t.on()) t.ok(fmt::format("{} from {}", fd, from.to_string()));
  Socket conn(Adopted{}, fd, family_, type_);
  conn.peer_ = from.to_string();
  return {std::move(conn), std::move(from)};
}

// ---------------------------------------------------------------------------------------
// Client side. connect is the five-step connect-with-timeout when a timeout is set:
// nonblocking connect → EINPROGRESS → poll for POLLOUT → getsockopt(SO_ERROR) → result.

int Socket::connect_errno(const Address& address, bool& timed_out) {
  timed_out = false;
  if (::connect(fd_, address.data(), address.size()) == 0) return 0;
  int err = errno;
  // EINTR: the connection goes on in the background, exactly like EINPROGRESS.
  const bool in_progress = err == EINPROGRESS || err == EINTR;
  // Nonblocking mode reports EINPROGRESS to the caller, as Python's BlockingIOError does.
  if (!in_progress || (timeout_ && !waits())) return err;
  if (!wait_ready(fd_, POLLOUT, Deadline(timeout_))) {
    timed_out = true;
    return ETIMEDOUT;
  }
  // Writable means "finished": SO_ERROR says whether it finished well (0) or how it failed.
  socklen_t len = sizeof err;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

void Socket::connect(const Address& address) {
  trace::Call t("connect", fmt::format("{}, {}", fd_, address.to_string()),
                fmt::format("s.connect({})", address.to_python()));
  bool timed_out = false;
  const int err = connect_errno(address, timed_out);
  if (timed_out) {
    t.fail(timed_out_result());
    throw TimeoutError("connect", address.to_string(), *timeout_);
  }
  if (err != 0) {
    t.fail(err);
    throw_socket_error("connect", address.to_string(), err);
  }
  peer_ = address.to_string();
  t.ok("0");
}

int Socket::connect_ex(const Address& address) {
  // A port scan calls this once or twice per port: the text is built only when tracing.
  trace::Call t("connect");
  if (t.on()) {
    t.describe(fmt::format("{}, {}", fd_, address.to_string()),
               fmt::format("s.connect_ex({})", address.to_python()));
  }
  bool timed_out = false;
  const int err = connect_errno(address, timed_out);
  if (err == 0) {
    peer_ = address.to_string();
    t.ok("0");
  } else {
    // Our own deadline is reported as ETIMEDOUT too (CPython returns EWOULDBLOCK here).
    if (timed_out) {
      t.fail(timed_out_result());
    } else {
      t.fail(err);
    }
  }
  return err;
}

// ---------------------------------------------------------------------------------------
// Data.

std::size_t Socket::recv(char* buffer, std::size_t size, int flags) {
  // recv and send are the hot path: their trace text is built only when tracing is on.
  trace::Call t("recv");
  if (t.on()) t.describe(fmt::format("{}, {}", fd_, size), fmt::format("s.recv({})", size));
  const ssize_t n = retry("recv", nullptr, POLLIN, Deadline(timeout_), t,
                          [&] { return ::recv(fd_, buffer, size, flags); });
  if (t.on()) t.ok(fmt::format("{} {}", n, trace::quote({buffer, static_cast<std::size_t>(n)})));
  return static_cast<std::size_t>(n);
}

std::string Socket::recv(std::size_t bufsize, int flags) {
  std::string data(bufsize, '\0');
  data.resize(recv(data.data(), data.size(), flags));
  return data;
}

std::size_t Socket::send(std::string_view data, int flags) {
  return send_until(data, flags, Deadline(timeout_));
}

std::size_t Socket::send_until(std::string_view data, int flags, const Deadline& deadline) {
  trace::Call t("send");
  if (t.on()) {
    t.describe(fmt::format("{}, {}", fd_, trace::quote(data)),
               fmt::format("s.send({})", data.size() <= 32 ? "b" + trace::quote(data) : "data"));
  }
  // MSG_NOSIGNAL: a peer that has gone away is an EPIPE error here, not a SIGPIPE that
  // kills the whole process.
  const ssize_t n = retry("send", nullptr, POLLOUT, deadline, t, [&] {
    return ::send(fd_, data.data(), data.size(), flags | MSG_NOSIGNAL);
  });
  t.ok(n);
  return static_cast<std::size_t>(n);
}

void Socket::sendall(std::string_view data) {
  trace::Call t("sendall", fmt::format("{}, {} bytes", fd_, data.size()), "s.sendall(data)");
  // One deadline for the whole loop, as CPython (3.5+) does: settimeout(2) means the data
  // is all sent within 2 s, however many send() calls it takes.
  const Deadline deadline(timeout_);
  // The loop Python hides: send() may take only part of the data when the kernel's send
  // buffer is nearly full, so keep sending what is left.
  std::size_t sent = 0;
  try {
    while (sent < data.size()) sent += send_until(data.substr(sent), 0, deadline);
  } catch (const SocketError& e) {
    if (dynamic_cast<const TimeoutError*>(&e)) {
      t.fail(timed_out_result());
    } else {
      t.fail(e.error_number());
    }
    throw;
  }
  t.ok("0");
}

Datagram Socket::recvfrom(char* buffer, std::size_t size, int flags) {
  trace::Call t("recvfrom");
  if (t.on()) {
    t.describe(fmt::format("{}, {}", fd_, size), fmt::format("data, addr = s.recvfrom({})", size));
  }
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  // MSG_TRUNC makes the kernel return the datagram's real length, so a datagram larger
  // than the buffer is reported instead of silently cut (see udp(7)). Not on TCP: there
  // MSG_TRUNC means "throw the bytes away" (tcp(7)).
  const int trunc = is_stream(type_) ? 0 : MSG_TRUNC;
  const ssize_t n = retry("recvfrom", nullptr, POLLIN, Deadline(timeout_), t, [&] {
    len = sizeof from;
    return ::recvfrom(fd_, buffer, size, flags | trunc, reinterpret_cast<sockaddr*>(&from), &len);
  });
  Datagram d;
  d.full_size = static_cast<std::size_t>(n);
  d.size = std::min(d.full_size, size);
  d.from = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&from), len);
  if (t.on()) {
    t.ok(fmt::format("{} {} from {}{}", n, trace::quote({buffer, d.size}), d.from.to_string(),
                     d.truncated() ? " (truncated)" : ""));
  }
  return d;
}

std::size_t Socket::sendto(std::string_view data, const Address& to, int flags) {
  trace::Call t("sendto");
  if (t.on()) {
    t.describe(fmt::format("{}, {}, {}", fd_, trace::quote(data), to.to_string()),
               fmt::format("s.sendto(data, {})", to.to_python()));
  }
  const ssize_t n = retry("sendto", &to, POLLOUT, Deadline(timeout_), t, [&] {
    return ::sendto(fd_, data.data(), data.size(), flags | MSG_NOSIGNAL, to.data(), to.size());
  });
  t.ok(n);
  return static_cast<std::size_t>(n);
}

void Socket::close() {
  if (fd_ < 0) return;
  trace::Call t("close", std::to_string(fd_), "s.close()");
  // Not retried on EINTR: on Linux the descriptor is released even then (close(2)).
  if (::close(std::exchange(fd_, -1)) < 0) {
    t.fail(errno);
    return;
  }
  t.ok("0");
}

void Socket::shutdown(int how) {
  static constexpr const char* names[] = {"SHUT_RD", "SHUT_WR", "SHUT_RDWR"};
  const char* name = how >= 0 && how <= 2 ? names[how] : "?";
  trace::Call t("shutdown", fmt::format("{}, {}", fd_, name),
                fmt::format("s.shutdown(socket.{})", name));
  if (::shutdown(fd_, how) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("shutdown", peer_, err);
  }
  t.ok("0");
}

std::size_t Socket::sendfile(int in_fd, std::size_t count) {
  trace::Call t("sendfile", fmt::format("{}, {}, NULL, {}", fd_, in_fd, count), "s.sendfile(file)");
  const ssize_t n = retry("sendfile", nullptr, POLLOUT, Deadline(timeout_), t,
                          [&] { return ::sendfile(fd_, in_fd, nullptr, count); });
  t.ok(n);
  return static_cast<std::size_t>(n);
}

std::size_t Socket::sendmsg(const std::vector<std::string_view>& pieces, int flags) {
  // IOV_MAX (1024 on Linux) pieces at most: sendmsg() refuses more with EMSGSIZE. The
  // array lives on the stack (16 KiB): a group chat calls this once per delivery, and
  // should not allocate each time.
  const std::size_t count = std::min<std::size_t>(pieces.size(), IOV_MAX);
  std::array<iovec, IOV_MAX> iov;
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    iov[i] = {const_cast<char*>(pieces[i].data()), pieces[i].size()};
    total += pieces[i].size();
  }
  trace::Call t("sendmsg");
  if (t.on()) {
    t.describe(fmt::format("{}, [{} {}{}], {}", fd_, count, count == 1 ? "piece" : "pieces",
                           count > 0 ? ": " + trace::quote(pieces[0]) : "", total),
               "s.sendmsg([...])");
  }
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = count;
  const ssize_t n = retry("sendmsg", nullptr, POLLOUT, Deadline(timeout_), t,
                          [&] { return ::sendmsg(fd_, &message, flags | MSG_NOSIGNAL); });
  t.ok(n);
  return static_cast<std::size_t>(n);
}

std::size_t Socket::splice_to(int pipe_fd, std::size_t count) {
  trace::Call t("splice");
  if (t.on()) {
    t.describe(fmt::format("{}, NULL, {}, NULL, {}, SPLICE_F_MOVE", fd_, pipe_fd, count),
               fmt::format("os.splice(s.fileno(), {}, {})", pipe_fd, count));
  }
  const ssize_t n = retry("splice", nullptr, POLLIN, Deadline(timeout_), t, [&] {
    return ::splice(fd_, nullptr, pipe_fd, nullptr, count, SPLICE_F_MOVE);
  });
  t.ok(n);
  return static_cast<std::size_t>(n);
}

// ---------------------------------------------------------------------------------------
// Information and options.

Address Socket::getpeername() const {
  trace::Call t("getpeername", std::to_string(fd_), "s.getpeername()");
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("getpeername", {}, err);
  }
  Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  t.ok("0 " + a.to_string());
  return a;
}

Address Socket::getsockname() const {
  trace::Call t("getsockname", std::to_string(fd_), "s.getsockname()");
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("getsockname", {}, err);
  }
  Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  t.ok("0 " + a.to_string());
  return a;
}

void Socket::setsockopt(int level, int option, int value) {
  trace::Call t("setsockopt",
                fmt::format("{}, {}, {}, {}", fd_, trace::level_name(level),
                            trace::option_name(level, option), value),
                fmt::format("s.setsockopt(socket.{}, socket.{}, {})", trace::level_name(level),
                            trace::option_name(level, option), value));
  if (::setsockopt(fd_, level, option, &value, sizeof value) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("setsockopt " + trace::option_name(level, option), {}, err);
  }
  t.ok("0");
}

void Socket::setsockopt(int level, int option, const void* value, socklen_t size) {
  trace::Call t("setsockopt",
                fmt::format("{}, {}, {}, <{} bytes>", fd_, trace::level_name(level),
                            trace::option_name(level, option), size),
                fmt::format("s.setsockopt(socket.{}, socket.{}, value)", trace::level_name(level),
                            trace::option_name(level, option)));
  if (::setsockopt(fd_, level, option, value, size) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("setsockopt " + trace::option_name(level, option), {}, err);
  }
  t.ok("0");
}

int Socket::getsockopt(int level, int option) const {
  int value = 0;
  // SO_ERROR after every nonblocking connect of a port scan: text only when tracing.
  trace::Call t("getsockopt");
  if (t.on()) {
    t.describe(
        fmt::format("{}, {}, {}", fd_, trace::level_name(level), trace::option_name(level, option)),
        fmt::format("s.getsockopt(socket.{}, socket.{})", trace::level_name(level),
                    trace::option_name(level, option)));
  }
  socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, option, &value, &len) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("getsockopt " + trace::option_name(level, option), {}, err);
  }
  t.ok(value);
  return value;
}

socklen_t Socket::getsockopt(int level, int option, void* value, socklen_t size) const {
  trace::Call t("getsockopt",
                fmt::format("{}, {}, {}, {}", fd_, trace::level_name(level),
                            trace::option_name(level, option), size),
                fmt::format("s.getsockopt(socket.{}, socket.{}, {})", trace::level_name(level),
                            trace::option_name(level, option), size));
  if (::getsockopt(fd_, level, option, value, &size) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("getsockopt " + trace::option_name(level, option), {}, err);
  }
  t.ok(fmt::format("0 <{} bytes>", size));
  return size;
}

void Socket::set_nonblocking_flag(bool on, const std::string& python) {
  // Read the flags before writing them, so O_APPEND and friends are kept (as Redis does).
  const int flags = check(::fcntl(fd_, F_GETFL), "fcntl F_GETFL");
  const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  trace::Call t("fcntl", fmt::format("{}, F_SETFL, {}", fd_, on ? "O_NONBLOCK" : "~O_NONBLOCK"),
                python);
  if (wanted != flags && ::fcntl(fd_, F_SETFL, wanted) < 0) {
    const int err = errno;  // saved: tracing may change errno
    t.fail(err);
    throw_socket_error("fcntl F_SETFL", {}, err);
  }
  t.ok("0");
}

void Socket::settimeout(Timeout timeout) {
  // Written so that NaN fails too; infinity is "no timeout" spelled badly, also refused.
  if (timeout && !(timeout->count() >= 0 && std::isfinite(timeout->count()))) {
    throw UsageError(
        fmt::format("timeout must be a number of seconds >= 0, not {}", timeout->count()));
  }
  // Any timeout, even 0, means a nonblocking descriptor: waiting is done in poll().
  set_nonblocking_flag(timeout.has_value(),
                       fmt::format("s.settimeout({})", python_timeout(timeout)));
  timeout_ = timeout;
}

// gettimeout and fileno make no syscall; event loops call them often, so their trace
// text is built only when tracing is on.
Timeout Socket::gettimeout() const {
  trace::Call t("gettimeout");
  if (t.on()) {
    t.describe(std::to_string(fd_), "s.gettimeout()");
    t.ok(python_timeout(timeout_));
  }
  return timeout_;
}

int Socket::fileno() const {
  trace::Call t("fileno");
  if (t.on()) t.describe(std::to_string(fd_), "s.fileno()");
  t.ok(fd_);
  return fd_;
}

void Socket::setblocking(bool blocking) {
  // Python: setblocking(True) is settimeout(None); setblocking(False) is settimeout(0.0).
  set_nonblocking_flag(!blocking, fmt::format("s.setblocking({})", blocking ? "True" : "False"));
  timeout_ = blocking ? Timeout{} : Timeout{std::chrono::duration<double>(0)};
}

SocketFile Socket::makefile() {
  trace::Call t("makefile", std::to_string(fd_), "f = s.makefile('rwb')");
  t.ok("<SocketFile>");
  return SocketFile(*this);
}

}  // namespace sockchat
