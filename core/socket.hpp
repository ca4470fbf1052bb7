// socket.hpp — the BSD socket API, one method per call of the tutorial's table.
//
// A Socket owns one descriptor: it is move-only and closes it in its destructor. Each
// method wraps one syscall and is named like Python's socket method, in the tutorial's
// order: bind listen accept connect connect_ex recv send sendall recvfrom sendto close
// getpeername getsockname setsockopt getsockopt settimeout gettimeout fileno setblocking
// makefile.
//
// Three modes, as in Python (see wait.hpp):
//   settimeout(std::nullopt)  blocking: calls wait as long as it takes;
//   settimeout(0s)            nonblocking: a call that would wait throws WouldBlockError;
//   settimeout(2.5s)          a deadline: a call that would wait polls, then TimeoutError.
// Every failure throws a SocketError naming the call, the address and errno; connect_ex
// alone returns errno instead. EINTR is retried; send and sendto pass MSG_NOSIGNAL, so a
// closed peer is an EPIPE error rather than a SIGPIPE. docs/api.md maps each method to its
// syscall, man page and tests. Read: socket(7), tcp(7), udp(7).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/address.hpp"
#include "core/trace.hpp"
#include "core/wait.hpp"

namespace sockchat {

class SocketFile;

// What recvfrom returns: the bytes' count, the sender, and whether the datagram was larger
// than the buffer (the kernel then drops the rest: UDP never splits a datagram).
struct Datagram {
  std::size_t size = 0;       // bytes stored in the buffer
  std::size_t full_size = 0;  // the datagram's real size (> size when truncated)
  Address from;
  bool truncated() const { return full_size > size; }
};

class Socket {
 public:
  Socket() noexcept = default;  // no descriptor
  // socket(2). Python: socket.socket(family, type, proto).
  Socket(int family, int type, int protocol = 0);
  // Takes ownership of an open descriptor (accept's result, socketpair, a test's fd).
  static Socket adopt(int fd, int family, int type);

  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;  // closes what it held first
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();  // close(2); never throws

  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;  // gives the descriptor away; the Socket is then empty
  int family() const noexcept { return family_; }
  int type() const noexcept { return type_; }

  // --- server side ---
  void bind(const Address& address);    // bind(2)
  void listen(int backlog);             // listen(2)
  std::pair<Socket, Address> accept();  // accept4(2); the new socket blocks
  // --- client side ---
  void connect(const Address& address);    // connect(2), with the timeout
  int connect_ex(const Address& address);  // connect(2); returns errno, 0 if ok
  // --- data ---
  std::size_t recv(char* buffer, std::size_t size, int flags = 0);  // recv(2); 0 = peer closed
  std::string recv(std::size_t bufsize, int flags = 0);             // Python's s.recv(1024)
  std::size_t send(std::string_view data, int flags = 0);           // send(2); may be partial
  void sendall(std::string_view data);  // send(2) until all is sent, one deadline for all
  Datagram recvfrom(char* buffer, std::size_t size, int flags = 0);             // recvfrom(2)
  std::size_t sendto(std::string_view data, const Address& to, int flags = 0);  // sendto(2)
  void close();  // close(2); the Socket is then empty
  // --- information and options ---
  Address getpeername() const;                        // getpeername(2)
  Address getsockname() const;                        // getsockname(2)
  void setsockopt(int level, int option, int value);  // setsockopt(2), an int option
  void setsockopt(int level, int option, const void* value, socklen_t size);
  int getsockopt(int level, int option) const;  // getsockopt(2), an int option
  socklen_t getsockopt(int level, int option, void* value, socklen_t size) const;
  void settimeout(Timeout timeout);  // fcntl(2) O_NONBLOCK + the deadline
  Timeout gettimeout() const;        // no syscall: the mode we are in
  int fileno() const;  // the descriptor itself (traced: call it once and keep the number)
  void setblocking(bool blocking);  // fcntl(2) F_GETFL/F_SETFL
  SocketFile makefile();            // a buffered reader/writer over this; it must not outlive *this

  // Not in the tutorial's table, but every netcat needs it: half-close (SHUT_WR sends FIN).
  void shutdown(int how);  // shutdown(2)
  // Python's s.sendfile(file) (one call of it): up to `count` bytes from the file `in_fd`,
  // from its current offset, handed to the socket by the kernel without passing through
  // our memory. Returns the bytes sent; 0 at the file's end.
  std::size_t sendfile(int in_fd, std::size_t count);  // sendfile(2)
  // Python's s.sendmsg([b1, b2, ...]): many pieces in one gather write, as if joined, without
  // joining them first (at most IOV_MAX are taken). Returns the bytes sent; may be partial.
  std::size_t sendmsg(const std::vector<std::string_view>& pieces, int flags = 0);  // sendmsg(2)
  // Linux's splice(2), the receiving half of sendfile: up to `count` received bytes moved
  // from the socket into the pipe `pipe_fd` by the kernel, without passing through our
  // memory (Python: os.splice(s.fileno(), pipe_fd, count)). Waits like recv; returns the
  // bytes moved, 0 once the peer has closed its side.
  std::size_t splice_to(int pipe_fd, std::size_t count);  // splice(2)

 private:
  struct Adopted {};
  Socket(Adopted, int fd, int family, int type) noexcept : fd_(fd), family_(family), type_(type) {}
  // Runs `syscall` until it succeeds, honouring the mode: EINTR is retried, EAGAIN waits
  // for `events` until `deadline` (timeout mode) or throws WouldBlockError (nonblocking).
  // Errors name `call` and the address `to` (sendto), else the peer.
  template <typename Syscall>
  auto retry(const char* call, const Address* to, short events, const Deadline& deadline,
             const trace::Call& t, Syscall syscall);
  // connect(2) in the current mode. Returns errno (0: connected); `timed_out` tells our own
  // deadline apart from the kernel's ETIMEDOUT (SYNs unanswered for minutes).
  int connect_errno(const Address& address, bool& timed_out);
  // One traced send(2) that may wait until `deadline`: sendall shares one deadline.
  std::size_t send_until(std::string_view data, int flags, const Deadline& deadline);
  bool waits() const;  // a timeout > 0 is set: would-block means "poll, then retry"
  std::string timed_out_result() const;  // "ETIMEDOUT (timed out after 2 s)" for traces
  void set_nonblocking_flag(bool on, const std::string& python);

  int fd_ = -1;
  int family_ = AF_UNSPEC;
  int type_ = 0;
  Timeout timeout_;   // nullopt: blocking
  std::string peer_;  // "127.0.0.1:8000", for error messages once connected
};

}  // namespace sockchat
