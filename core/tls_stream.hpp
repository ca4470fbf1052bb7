// tls_stream.hpp — a TLS session over a connected Socket, on OpenSSL: Python's
// ssl.SSLSocket. TLS adds a handshake after connect()/accept() (the two sides agree on a
// version and a cipher, and the server proves its name with a certificate), then every
// byte is encrypted in records. The socket calls below it are the same recv and send;
// OpenSSL makes them.
//
// The handshake follows the socket's mode, as Python's do_handshake() does: blocking, it
// waits; with settimeout(S) it polls with a deadline; nonblocking, OpenSSL answers
// SSL_ERROR_WANT_READ / WANT_WRITE (Python's ssl.SSLWantReadError / SSLWantWriteError)
// and poll() waits for the socket. --trace shows each step with its Python line.
// Read: SSL_do_handshake(3ssl), SSL_read(3ssl), SSL_write(3ssl), SSL_shutdown(3ssl),
// SSL_get_error(3ssl), Python's ssl module ("Notes on non-blocking sockets").
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <openssl/types.h>

#include "core/byte_stream.hpp"
#include "core/tls_context.hpp"
#include "core/wait.hpp"

namespace sockchat {

// What a finished handshake agreed on, and what the peer's certificate says.
struct TlsSessionInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  std::optional<CertificateInfo> peer_certificate;
  Verdict verdict;  // the peer's certificate checked against the trust store and the name
};

class TlsStream final : public ByteStream {
 public:
  // Python: ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False).
  // `host` is sent as SNI (unless it is an IP address) and checked against the
  // certificate's names. `peer` names the peer in errors ("127.0.0.1:8443").
  static TlsStream client(const TlsContext& context, Socket& socket, const std::string& host,
                          std::string peer);
  // Python: ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False).
  static TlsStream server(const TlsContext& context, Socket& socket, std::string peer);

  // SSL_do_handshake(3ssl) in the socket's mode; `bound` limits the whole handshake (a
  // peer that never finishes it must not hold us): a blocking socket then polls with that
  // deadline. Throws TlsError (with the certificate verdict when it is the reason),
  // TimeoutError, or SocketError. A pinned context compares the fingerprint here.
  // `wait` is how it waits for the socket: wait_ready (core/wait.hpp) unless told; a
  // program that must stay responsive to Ctrl-C passes one that watches for it too.
  using Wait = std::function<bool(int fd, short events, const Deadline& deadline)>;
  void do_handshake(Timeout bound = {}, const Wait& wait = wait_ready);
  // One step of the handshake on a nonblocking socket, for an event loop that must never
  // wait: nullopt when it is finished, else what poll() must wait for (POLLIN or POLLOUT).
  // Throws as do_handshake does.
  std::optional<short> try_handshake();
  TlsSessionInfo info() const;

  // For bulk transfers, called before the handshake: once it is over, OpenSSL reads up
  // to `bytes` of records in one read(2) (SSL_set_read_ahead(3ssl)) instead of each
  // record's 5-byte header and then its body, two calls per 16 KiB record; and recv()
  // then hands over every whole record that is already here, as many as fit. Records
  // read ahead wait where poll() cannot see them: only for a loop that asks buffered()
  // before it waits (chat() does).
  void read_ahead(std::size_t bytes = 256 * 1024);

  Socket& socket() override { return socket_; }
  void for_poll_loop() override;
  std::size_t recv(char* buffer, std::size_t size) override;  // SSL_read(3ssl), see read_ahead
  std::size_t send(std::string_view data) override;           // SSL_write(3ssl)
  void shutdown_write() override;  // SSL_shutdown(3ssl) (close_notify), then shutdown(2)
  short recv_events() const override { return recv_events_; }
  short send_events() const override { return send_events_; }
  bool buffered() const override;

 private:
  struct Free {
    void operator()(SSL* ssl) const;
  };
  TlsStream(const TlsContext& context, Socket& socket, std::string peer);
  // One SSL_do_handshake: true when finished; false when it must wait for `events`.
  bool handshake_step(bool nonblocking, short& events);
  [[noreturn]] void handshake_failed(int ssl_error);
  void check_pin();
  // What SSL_get_error says after a failed SSL_read / SSL_write (and errno `err` then):
  // WouldBlockError (setting `events`), TlsError or SocketError.
  [[noreturn]] void io_failed(const char* call, int ssl_error, int err, short& events);
  std::size_t read_record(char* buffer, std::size_t size);  // one SSL_read

  std::unique_ptr<SSL, Free> ssl_;
  Socket& socket_;
  int fd_;
  std::string peer_;
  std::string pin_;
  bool shut_ = false;            // close_notify sent
  bool read_ahead_ = false;      // from the end of the handshake on: read_ahead()
  bool starved_ = false;         // the last SSL_read wanted more of a record than has come
  std::exception_ptr deferred_;  // a read error met after bytes recv() handed over
  short recv_events_ = POLLIN;
  short send_events_ = POLLOUT;
};

}  // namespace sockchat
