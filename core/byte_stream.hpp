// byte_stream.hpp — the transport seam: a connected byte stream that is either a plain
// Socket or a TLS session over one (core/tls_stream.hpp). The chat loop and the byte pump
// talk to this, so no subcommand grows TLS special cases.
//
// Both are used from a poll() loop: poll says "readable" or "writable", then one call.
// The calls never wait for the network once poll said so: a send takes what fits now
// (send(2) with MSG_DONTWAIT, or SSL_write on a nonblocking socket); nothing to do now is
// a WouldBlockError. TLS differs in two ways a poll loop must know: a read may need the
// socket writable first (and a write readable), and decrypted bytes may wait inside the
// TLS session where poll cannot see them. Read: poll(2), send(2), shutdown(2), ssl(7ssl).
#pragma once

#include <poll.h>

#include <cstddef>
#include <string_view>

#include "core/socket.hpp"

namespace sockchat {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  virtual Socket& socket() = 0;  // the TCP (or unix) socket underneath
  // The socket itself when there is no TLS on it: what sendfile(2) and splice(2) may use.
  virtual Socket* plain() { return nullptr; }
  // Before a poll loop: whatever mode the socket is in, the calls below must not wait.
  virtual void for_poll_loop() {}

  // Up to `size` bytes; 0 at the peer's end of stream. WouldBlockError: nothing yet.
  virtual std::size_t recv(char* buffer, std::size_t size) = 0;
  // Takes what fits now (at least one byte) or throws WouldBlockError.
  virtual std::size_t send(std::string_view data) = 0;
  // Our end of stream: the peer reads end-of-file and can still answer (TLS: close_notify,
  // then shutdown(SHUT_WR)). WouldBlockError: call it again once writable.
  virtual void shutdown_write() = 0;

  // What poll() must wait for before recv() or send() is tried again.
  virtual short recv_events() const { return POLLIN; }
  virtual short send_events() const { return POLLOUT; }
  // Received bytes held inside the stream, which poll() cannot see: recv() now.
  virtual bool buffered() const { return false; }
};

// A Socket as a ByteStream: recv(2), send(2) with MSG_DONTWAIT, shutdown(SHUT_WR).
class SocketStream final : public ByteStream {
 public:
  explicit SocketStream(Socket& socket) : socket_(socket) {}
  Socket& socket() override { return socket_; }
  Socket* plain() override { return &socket_; }
  std::size_t recv(char* buffer, std::size_t size) override;
  std::size_t send(std::string_view data) override;
  void shutdown_write() override;

 private:
  Socket& socket_;
};

}  // namespace sockchat
