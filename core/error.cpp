#include "core/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace sockchat {

std::string errno_name(int err) {
  // The names sockchat meets most, in a table that works on any libc; glibc >= 2.32 names
  // the rest (strerrorname_np).
  switch (err) {
#define SOCKCHAT_ERRNO(e) \
  case e:                 \
    return #e;
    SOCKCHAT_ERRNO(EACCES)
    SOCKCHAT_ERRNO(EADDRINUSE)
    SOCKCHAT_ERRNO(EADDRNOTAVAIL)
    SOCKCHAT_ERRNO(EAFNOSUPPORT)
    SOCKCHAT_ERRNO(EAGAIN)
    SOCKCHAT_ERRNO(EALREADY)
    SOCKCHAT_ERRNO(EBADF)
    SOCKCHAT_ERRNO(ECONNABORTED)
    SOCKCHAT_ERRNO(ECONNREFUSED)
    SOCKCHAT_ERRNO(ECONNRESET)
    SOCKCHAT_ERRNO(EDESTADDRREQ)
    SOCKCHAT_ERRNO(EDQUOT)
    SOCKCHAT_ERRNO(EFAULT)
    SOCKCHAT_ERRNO(EFBIG)
    SOCKCHAT_ERRNO(EHOSTDOWN)
    SOCKCHAT_ERRNO(EHOSTUNREACH)
    SOCKCHAT_ERRNO(EINPROGRESS)
    SOCKCHAT_ERRNO(EINTR)
    SOCKCHAT_ERRNO(EINVAL)
    SOCKCHAT_ERRNO(EIO)
    SOCKCHAT_ERRNO(EISCONN)
    SOCKCHAT_ERRNO(EISDIR)
    SOCKCHAT_ERRNO(ELOOP)
    SOCKCHAT_ERRNO(EMFILE)
    SOCKCHAT_ERRNO(EMSGSIZE)
    SOCKCHAT_ERRNO(ENAMETOOLONG)
    SOCKCHAT_ERRNO(ENETDOWN)
    SOCKCHAT_ERRNO(ENETUNREACH)
    SOCKCHAT_ERRNO(ENFILE)
    SOCKCHAT_ERRNO(ENOBUFS)
    SOCKCHAT_ERRNO(ENODEV)
    SOCKCHAT_ERRNO(ENOENT)
    SOCKCHAT_ERRNO(ENOMEM)
    SOCKCHAT_ERRNO(ENOPROTOOPT)
    SOCKCHAT_ERRNO(ENOSPC)
    SOCKCHAT_ERRNO(ENOTCONN)
    SOCKCHAT_ERRNO(ENOTDIR)
    SOCKCHAT_ERRNO(ENOTSOCK)
    SOCKCHAT_ERRNO(ENXIO)
    SOCKCHAT_ERRNO(EOPNOTSUPP)
    SOCKCHAT_ERRNO(EPERM)
    SOCKCHAT_ERRNO(EPIPE)
    SOCKCHAT_ERRNO(EPROTO)
    SOCKCHAT_ERRNO(EPROTONOSUPPORT)
    SOCKCHAT_ERRNO(EPROTOTYPE)
    SOCKCHAT_ERRNO(EROFS)
    SOCKCHAT_ERRNO(ESHUTDOWN)
    SOCKCHAT_ERRNO(ESPIPE)
    SOCKCHAT_ERRNO(ETIMEDOUT)
#undef SOCKCHAT_ERRNO
    default:
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
      if (const char* name = ::strerrorname_np(err)) return name;
#endif
      return fmt::format("E{}", err);
  }
}

std::string errno_text(int err) {
  return fmt::format("{} ({})", errno_name(err), std::strerror(err));
}

SocketError::SocketError(std::string call, std::string address, int err)
    : SocketError(std::move(call), std::move(address), err, errno_text(err)) {}

SocketError::SocketError(std::string call, std::string address, int err, std::string why)
    : std::system_error(err, std::generic_category()),
      call_(std::move(call)),
      address_(std::move(address)),
      message_(address_.empty() ? fmt::format("{}: {}", call_, why)
                                : fmt::format("{} {}: {}", call_, address_, why)) {}

TimeoutError::TimeoutError(std::string call, std::string address,
                           std::chrono::duration<double> after)
    : SocketError(std::move(call), std::move(address), ETIMEDOUT,
                  fmt::format("timed out after {:g} s", after.count())) {}

WouldBlockError::WouldBlockError(std::string call, std::string address, int err)
    : SocketError(std::move(call), std::move(address), err) {}

TlsError::TlsError(std::string call, std::string address, const std::string& why)
    : SocketError(std::move(call), std::move(address), EPROTO, why) {}

void throw_socket_error(const std::string& call, const std::string& address, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS) {
    throw WouldBlockError(call, address, err);
  }
  throw SocketError(call, address, err);
}

}  // namespace sockchat
