// tls_stream.cpp — see tls_stream.hpp.
#include "core/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/trace.hpp"

namespace sockchat {

namespace {

const char* want_name(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ ? "SSL_ERROR_WANT_READ" : "SSL_ERROR_WANT_WRITE";
}
const char* want_python(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ ? "ssl.SSLWantReadError" : "ssl.SSLWantWriteError";
}
bool is_want(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

// The trace's result for a failed call: the WANT, errno for a socket error, or SSL's own.
std::string failure_text(int ssl_error) {
  if (is_want(ssl_error)) return want_name(ssl_error);
  if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) return errno_text(errno);
  return "SSL_ERROR_SSL";
}

bool is_ip_literal(const std::string& host) {
  in6_addr buffer{};
  return inet_pton(AF_INET, host.c_str(), &buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &buffer) == 1;
}

// The first bytes were not a TLS record: the peer speaks something else (plain text,
// HTTP), or we reached a server that does not speak TLS.
bool not_tls(unsigned long error) {
  if (ERR_GET_LIB(error) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(error)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return true;
    default:
      return false;
  }
}

}  // namespace

void TlsStream::Free::operator()(SSL* ssl) const {
  SSL_free(ssl);
}

TlsStream::TlsStream(const TlsContext& context, Socket& socket, std::string peer)
    : ssl_(SSL_new(context.get())),
      socket_(socket),
      fd_(socket.fileno()),
      peer_(std::move(peer)),
      pin_(context.pin()) {
  if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1) {
    throw TlsError("wrap_socket", peer_, openssl_reason());
  }
}

TlsStream TlsStream::client(const TlsContext& context, Socket& socket, const std::string& host,
                            std::string peer) {
  trace::Call t("SSL_set_fd");
  TlsStream stream(context, socket, std::move(peer));
  SSL* ssl = stream.ssl_.get();
  SSL_set_connect_state(ssl);
  // SNI names the site we want (a server may host several); an IP address is not sent.
  const bool by_name = !host.empty() && !is_ip_literal(host);
  if (by_name) SSL_set_tlsext_host_name(ssl, host.c_str());
  // The certificate must name what we connected to: a DNS name, or an IP address.
  if (by_name) SSL_set1_host(ssl, host.c_str());
  if (!by_name && !host.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  if (t.on()) {
    t.describe(fmt::format("{}, client, SNI {}", stream.fd_, by_name ? host : "none"),
               fmt::format("ssl_sock = ctx.wrap_socket(s, server_hostname='{}', "
                           "do_handshake_on_connect=False)",
                           host));
  }
  t.ok(1);
  return stream;
}

TlsStream TlsStream::server(const TlsContext& context, Socket& socket, std::string peer) {
  trace::Call t("SSL_set_fd");
  TlsStream stream(context, socket, std::move(peer));
  SSL_set_accept_state(stream.ssl_.get());
  if (t.on()) {
    t.describe(fmt::format("{}, server", stream.fd_),
               "ssl_sock = ctx.wrap_socket(s, server_side=True, do_handshake_on_connect=False)");
  }
  t.ok(1);
  return stream;
}

// ---------------------------------------------------------------------------------------
// The handshake.

void TlsStream::do_handshake(Timeout bound, const Wait& wait) {
  // A blocking socket would wait inside read() for as long as the peer likes: with a
  // bound, it polls with that deadline instead (Python's settimeout), then blocks again.
  const Timeout mode = socket_.gettimeout();
  const bool restore_blocking = !mode && bound;
  if (restore_blocking) socket_.settimeout(bound);
  const Deadline deadline(bound ? bound : mode && mode->count() > 0 ? mode : Timeout{});
  const bool nonblocking = mode && mode->count() == 0;
  short events = 0;
  while (!handshake_step(nonblocking, events)) {
    if (!wait(fd_, events, deadline)) {
      throw TimeoutError("do_handshake", peer_, *deadline.timeout());
    }
  }
  if (restore_blocking) socket_.settimeout(std::nullopt);
  if (!pin_.empty()) check_pin();
}

std::optional<short> TlsStream::try_handshake() {
  short events = 0;
  if (handshake_step(true, events)) return std::nullopt;
  return events;
}

bool TlsStream::handshake_step(bool nonblocking, short& events) {
  trace::Call t("SSL_do_handshake");
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_.get());
  const int ssl_error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), result);
  if (t.on()) {
    const bool waits = is_want(ssl_error) && !nonblocking;
    t.describe(std::to_string(fd_), !is_want(ssl_error) ? "ssl_sock.do_handshake()"
                                    : waits ? "do_handshake() waits in poll (settimeout)"
                                            : want_python(ssl_error));
  }
  if (ssl_error == SSL_ERROR_NONE) {
    t.ok(fmt::format("1 {} {}", SSL_get_version(ssl_.get()),
                     SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()))));
    if (read_ahead_) SSL_set_read_ahead(ssl_.get(), 1);
    return true;
  }
  if (!is_want(ssl_error)) {
    const int err = errno;
    t.fail(failure_text(ssl_error));
    errno = err;
    handshake_failed(ssl_error);
  }
  t.fail(want_name(ssl_error));
  events = ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
  return false;
}

void TlsStream::handshake_failed(int ssl_error) {
  const int err = errno;
  const unsigned long first = ERR_peek_error();
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    if (ssl_error == SSL_ERROR_SYSCALL && err != 0) throw SocketError("do_handshake", peer_, err);
    throw TlsError("do_handshake", peer_, "the peer closed the connection during the handshake");
  }
  const long verify = SSL_get_verify_result(ssl_.get());
  if (ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
    ERR_clear_error();
    const Verdict verdict = explain_verify_result(verify);
    throw TlsError("do_handshake", peer_,
                   fmt::format("certificate verify failed: {} ({})", verdict.kind, verdict.reason));
  }
  const std::string reason = openssl_reason();
  if (not_tls(first)) {
    throw TlsError("do_handshake", peer_, fmt::format("the peer does not speak TLS ({})", reason));
  }
  throw TlsError("do_handshake", peer_, reason);
}

void TlsStream::check_pin() {
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  const std::string got = cert != nullptr ? fingerprint_sha256(cert) : "none";
  if (normalise_fingerprint(got) != pin_) {
    throw TlsError("do_handshake", peer_,
                   fmt::format("certificate fingerprint {} is not the one pinned with "
                               "--ssl-fingerprint",
                               got));
  }
}

TlsSessionInfo TlsStream::info() const {
  TlsSessionInfo info;
  info.version = SSL_get_version(ssl_.get());
  info.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()));
  if (X509* cert = SSL_get0_peer_certificate(ssl_.get())) {
    info.peer_certificate = describe_certificate(cert);
  }
  info.verdict = explain_verify_result(SSL_get_verify_result(ssl_.get()));
  return info;
}

// ---------------------------------------------------------------------------------------
// Data.

// SSL_write has no MSG_DONTWAIT: a nonblocking socket is what keeps it from waiting (and
// from deadlocking with a peer that is itself blocked sending to us). poll() decides.
void TlsStream::for_poll_loop() {
  const Timeout mode = socket_.gettimeout();
  if (!mode || mode->count() != 0) socket_.setblocking(false);
}

// The buffer is sized now, before the handshake allocates it; reading ahead starts when
// the handshake is over, so that the handshake reads exactly its own records: a peer that
// does not speak TLS is refused as without it (its other bytes stay unread).
void TlsStream::read_ahead(std::size_t bytes) {
  SSL_set_default_read_buffer_len(ssl_.get(), bytes);
  read_ahead_ = true;
}

std::size_t TlsStream::recv(char* buffer, std::size_t size) {
  if (deferred_) std::rethrow_exception(std::exchange(deferred_, nullptr));
  std::size_t got = read_record(buffer, size);
  // Whole records read ahead may be here already: hand them over now, not one per poll.
  while (got > 0 && got < size && SSL_has_pending(ssl_.get()) == 1) {
    try {
      const std::size_t n = read_record(buffer + got, size - got);
      if (n == 0) break;  // the end of the stream: the next call reports it
      got += n;
    } catch (const WouldBlockError&) {
      break;  // the rest of a record is still on its way
    } catch (const SocketError&) {
      deferred_ = std::current_exception();  // reported after the bytes we have
      break;
    }
  }
  return got;
}

std::size_t TlsStream::read_record(char* buffer, std::size_t size) {
  trace::Call t("SSL_read");
  ERR_clear_error();
  const int n =
      SSL_read(ssl_.get(), buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  const int ssl_error = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), n);
  const int err = errno;  // before tracing writes anything
  if (t.on()) {
    t.describe(fmt::format("{}, {}", fd_, size), is_want(ssl_error)
                                                     ? std::string(want_python(ssl_error))
                                                     : fmt::format("ssl_sock.recv({})", size));
  }
  starved_ = ssl_error == SSL_ERROR_WANT_READ;
  if (n > 0) {
    recv_events_ = POLLIN;
    if (t.on()) t.ok(fmt::format("{} {}", n, trace::quote({buffer, static_cast<std::size_t>(n)})));
    return static_cast<std::size_t>(n);
  }
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {  // close_notify, or a FIN (see tls_context.cpp)
    t.ok("0 (end of stream)");
    return 0;
  }
  t.fail(failure_text(ssl_error));
  io_failed("SSL_read", ssl_error, err, recv_events_);
}

std::size_t TlsStream::send(std::string_view data) {
  trace::Call t("SSL_write");
  ERR_clear_error();
  const int size = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
  const int n = SSL_write(ssl_.get(), data.data(), size);
  const int ssl_error = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), n);
  const int err = errno;  // before tracing writes anything
  if (t.on()) {
    t.describe(fmt::format("{}, {}", fd_, trace::quote(data)),
               is_want(ssl_error) ? std::string(want_python(ssl_error))
                                  : fmt::format("ssl_sock.send(data[:{}])", size));
  }
  if (n > 0) {
    send_events_ = POLLOUT;
    t.ok(n);
    return static_cast<std::size_t>(n);
  }
  t.fail(failure_text(ssl_error));
  io_failed("SSL_write", ssl_error, err, send_events_);
}

void TlsStream::io_failed(const char* call, int ssl_error, int err, short& events) {
  if (is_want(ssl_error)) {
    events = ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    throw WouldBlockError(call, peer_, EAGAIN);
  }
  if (ssl_error == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    throw SocketError(call, peer_, err != 0 ? err : ECONNRESET);
  }
  throw TlsError(call, peer_, openssl_reason());
}

bool TlsStream::buffered() const {
  if (deferred_ || SSL_pending(ssl_.get()) > 0) return true;  // an error, decrypted bytes
  // Records read ahead, unless the last read found only part of one: the rest must come
  // from the socket first, and poll() is the right way to wait for it.
  return !starved_ && SSL_has_pending(ssl_.get()) == 1;
}

// close_notify says "no more data, and none was cut off": without it a peer cannot tell
// our end from an attacker's forged FIN. Then the FIN itself, as for plain TCP.
void TlsStream::shutdown_write() {
  if (!shut_) {
    trace::Call t("SSL_shutdown");
    if (t.on()) t.describe(std::to_string(fd_), "ssl_sock.unwrap() (its first half)");
    ERR_clear_error();
    const int result = SSL_shutdown(ssl_.get());
    if (result < 0) {
      const int ssl_error = SSL_get_error(ssl_.get(), result);
      t.fail(is_want(ssl_error) ? want_name(ssl_error) : "SSL_ERROR_SSL");
      if (is_want(ssl_error)) io_failed("SSL_shutdown", ssl_error, 0, send_events_);
      ERR_clear_error();  // the peer is gone already: nothing left to tell it
    } else {
      t.ok(fmt::format("{} (close_notify sent)", result));
    }
    shut_ = true;
  }
  SocketStream(socket_).shutdown_write();
}

}  // namespace sockchat
