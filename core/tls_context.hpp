// tls_context.hpp — TLS settings shared by every connection of one side, on OpenSSL:
// Python's ssl.SSLContext. A client context knows whom to trust (the system's certificate
// store, a --ssl-trustfile, or one pinned fingerprint); a server context holds the
// certificate and key it proves itself with (files, or an ephemeral self-signed pair made
// at start, as ncat does). Also: what a certificate says (subject, issuer, names, dates,
// SHA-256 fingerprint) and why a verification failed, in words.
// Read: ssl(7ssl), SSL_CTX_new(3ssl), SSL_CTX_set_verify(3ssl), x509(1ssl), verify(1ssl).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

namespace sockchat {

// How a client decides whether to trust the server's certificate.
struct TlsClientOptions {
  std::string trustfile;    // PEM CA certificates to trust instead of the system's store
  std::string fingerprint;  // pin: trust exactly the certificate with this SHA-256
  bool no_verify = false;   // trust anything (the caller warns and shows the fingerprint)
};

class TlsContext {
 public:
  // Python: ssl.create_default_context() (+ load_verify_locations(trustfile)). The
  // certificate is verified and its name checked unless pinned or no_verify. A trustfile
  // that cannot be read is a UsageError.
  static TlsContext client(const TlsClientOptions& options);
  // Python: ctx.load_cert_chain(cert, key). A file that cannot be read or a key that does
  // not match the certificate is a UsageError naming the option and the file.
  static TlsContext server(const std::string& cert_file, const std::string& key_file);
  // A fresh P-256 key and a self-signed certificate for localhost, 127.0.0.1 and ::1,
  // valid from an hour ago for 30 days, made in memory and never written anywhere.
  static TlsContext server_ephemeral();

  SSL_CTX* get() const { return ctx_.get(); }
  bool verifies() const { return verifies_; }      // the handshake fails on a bad chain
  const std::string& pin() const { return pin_; }  // normalised SHA-256, or empty
  std::string own_fingerprint() const;             // a server's certificate's SHA-256

 private:
  struct Free {
    void operator()(SSL_CTX* ctx) const;
  };
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  std::unique_ptr<SSL_CTX, Free> ctx_;
  bool verifies_ = false;
  std::string pin_;
};

// What a certificate says, as `openssl x509 -text` would show it.
struct CertificateInfo {
  std::string subject;             // "CN=localhost, O=sockchat"
  std::string issuer;              // the same as subject when self-signed
  std::vector<std::string> names;  // subjectAltName: "DNS:localhost", "IP:127.0.0.1"
  std::string not_before;          // "2026-12-03 04:20:00 UTC"
  std::string not_after;
  std::string fingerprint;  // SHA-256 of the DER certificate, "AB:CD:..." (64 hex digits)
};
CertificateInfo describe_certificate(X509* cert);

// SHA-256 of the certificate as 32 hex pairs with colons, as `openssl x509 -fingerprint
// -sha256` prints it.
std::string fingerprint_sha256(X509* cert);
// "AB:CD:…", "abcd…", "sha256:AB CD …" → 64 upper-case hex digits; empty if it is not a
// SHA-256 fingerprint.
std::string normalise_fingerprint(std::string_view text);

// A verification result (X509_V_OK, X509_V_ERR_CERT_HAS_EXPIRED...) in words.
struct Verdict {
  bool ok = false;
  std::string kind;    // "ok", "expired", "not yet valid", "self-signed", "wrong name",
                       // "unknown issuer", or "other"
  std::string reason;  // OpenSSL's words: "certificate has expired"
};
Verdict explain_verify_result(long code);

// The oldest error in OpenSSL's error queue in its own words ("wrong version number"),
// or `fallback` if the queue is empty. The queue is emptied.
std::string openssl_reason(std::string_view fallback = "unknown TLS error");

}  // namespace sockchat
