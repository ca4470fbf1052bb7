// error.hpp — how a failed socket call is reported.
//
// Every syscall result passes through check(): -1 becomes a SocketError that names the
// call, the address (where one applies) and errno, e.g.
//   connect 127.0.0.1:9: ECONNREFUSED (Connection refused)
// A timeout and a nonblocking EAGAIN get their own types, as Python's socket.timeout and
// BlockingIOError do. Read: errno(3), strerror(3).
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>

namespace sockchat {

// "ECONNREFUSED" for ECONNREFUSED; "E<number>" for one we do not know.
std::string errno_name(int err);

// "ECONNREFUSED (Connection refused)".
std::string errno_text(int err);

class SocketError : public std::system_error {
 public:
  SocketError(std::string call, std::string address, int err);
  const std::string& call() const { return call_; }
  const std::string& address() const { return address_; }
  int error_number() const { return code().value(); }
  // "connect 127.0.0.1:9: ECONNREFUSED (Connection refused)" — without the ": <strerror>"
  // suffix std::system_error would append.
  const char* what() const noexcept override { return message_.c_str(); }

 protected:
  SocketError(std::string call, std::string address, int err, std::string why);

 private:
  std::string call_;
  std::string address_;
  std::string message_;
};

// A blocking call with a timeout (settimeout(S), S > 0) ran out of time. errno is ETIMEDOUT.
class TimeoutError : public SocketError {
 public:
  TimeoutError(std::string call, std::string address, std::chrono::duration<double> after);
};

// A nonblocking socket (settimeout(0)) had nothing to do: EAGAIN/EWOULDBLOCK, or
// EINPROGRESS from connect.
class WouldBlockError : public SocketError {
 public:
  WouldBlockError(std::string call, std::string address, int err);
};

// TLS refused or broke the conversation (a certificate that does not verify, a peer that
// does not speak TLS, a forged record), as Python's ssl.SSLError. errno is EPROTO; the text
// says why in OpenSSL's words, explained: "do_handshake 127.0.0.1:8443: certificate
// verify failed: expired (certificate has expired)".
class TlsError : public SocketError {
 public:
  TlsError(std::string call, std::string address, const std::string& why);
};

// Bad input from the user (an address, a port, an option): the CLI exits 2 with its text.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Throws the SocketError (or WouldBlockError for EAGAIN/EINPROGRESS) for errno `err`.
[[noreturn]] void throw_socket_error(const std::string& call, const std::string& address, int err);

// The one checker every syscall result passes through: returns `result` unless it is -1,
// in which case it throws with the current errno.
template <typename T>
T check(T result, const std::string& call, const std::string& address = {}) {
  if (result == -1) throw_socket_error(call, address, errno);
  return result;
}

}  // namespace sockchat
