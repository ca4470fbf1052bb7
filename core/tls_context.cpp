// tls_context.cpp — see tls_context.hpp.
#include "core/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "core/error.hpp"

namespace sockchat {

namespace {

SSL_CTX* new_context(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new: " + openssl_reason());
  // TLS 1.2 at least, as Python's default context. A peer that closes the TCP connection
  // without close_notify ends the stream like a FIN, as Python's suppress_ragged_eofs
  // does: nc-style peers often do. Writes may be partial, from a buffer that moves.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No TLS 1.3 session tickets: nothing here resumes sessions, and a client that sends
  // and closes without reading would leave the unread tickets behind, which makes its
  // kernel reset the connection instead of closing it.
  SSL_CTX_set_num_tickets(ctx, 0);
  return ctx;
}

struct FreeKey {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct FreeCert {
  void operator()(X509* cert) const { X509_free(cert); }
};

// "CN=localhost, O=sockchat", in the order the certificate lists them.
std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

std::string time_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// An IP address SAN holds the address's 4 or 16 bytes.
std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char text[INET6_ADDRSTRLEN] = "?";
  const int family = ip->length == 4 ? AF_INET : ip->length == 16 ? AF_INET6 : AF_UNSPEC;
  if (family != AF_UNSPEC) ::inet_ntop(family, ip->data, text, sizeof text);
  return text;
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      names.push_back("DNS:" + std::string(reinterpret_cast<const char*>(dns->data),
                                           static_cast<std::size_t>(dns->length)));
    } else if (name->type == GEN_IPADD) {
      names.push_back("IP:" + ip_text(name->d.iPAddress));
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

std::unique_ptr<X509, FreeCert> self_signed_certificate(EVP_PKEY* key) {
  std::unique_ptr<X509, FreeCert> cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3, for subjectAltName
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // a client's clock a little behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sockchat"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);  // self-signed: the issuer is the subject
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) {
    throw std::runtime_error("X509_sign: " + openssl_reason());
  }
  return cert;
}

}  // namespace

void TlsContext::Free::operator()(SSL_CTX* ctx) const {
  SSL_CTX_free(ctx);
}

TlsContext TlsContext::client(const TlsClientOptions& options) {
  TlsContext context(new_context(TLS_client_method()));
  SSL_CTX* ctx = context.get();
  // The trust store is loaded whatever the mode: a pinned or unverified connection still
  // learns the verdict (SSL_get_verify_result), to report it.
  if (!options.trustfile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.trustfile.c_str(), nullptr) != 1) {
      throw UsageError(fmt::format("--ssl-trustfile {}: cannot read PEM certificates ({})",
                                   options.trustfile, openssl_reason()));
    }
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  if (!options.fingerprint.empty()) {
    context.pin_ = normalise_fingerprint(options.fingerprint);
    if (context.pin_.empty()) {
      throw UsageError(
          fmt::format("--ssl-fingerprint: expected a SHA-256 fingerprint (64 hex digits), got '{}'",
                      options.fingerprint));
    }
  }
  context.verifies_ = !options.no_verify && context.pin_.empty();
  SSL_CTX_set_verify(ctx, context.verifies_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return context;
}

TlsContext TlsContext::server(const std::string& cert_file, const std::string& key_file) {
  TlsContext context(new_context(TLS_server_method()));
  SSL_CTX* ctx = context.get();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    throw UsageError(fmt::format("--ssl-cert {}: cannot read a PEM certificate ({})", cert_file,
                                 openssl_reason()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      throw UsageError(fmt::format("--ssl-key {}: this key does not belong to --ssl-cert {}",
                                   key_file, cert_file));
    }
    throw UsageError(fmt::format("--ssl-key {}: cannot read a PEM private key ({})", key_file,
                                 openssl_reason()));
  }
  return context;
}

TlsContext TlsContext::server_ephemeral() {
  TlsContext context(new_context(TLS_server_method()));
  const std::unique_ptr<EVP_PKEY, FreeKey> key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EVP_EC_gen: " + openssl_reason());
  const auto cert = self_signed_certificate(key.get());
  SSL_CTX_use_certificate(context.get(), cert.get());
  SSL_CTX_use_PrivateKey(context.get(), key.get());
  return context;
}

std::string TlsContext::own_fingerprint() const {
  X509* cert = SSL_CTX_get0_certificate(ctx_.get());
  return cert != nullptr ? fingerprint_sha256(cert) : std::string();
}

CertificateInfo describe_certificate(X509* cert) {
  return {name_text(X509_get_subject_name(cert)),
          name_text(X509_get_issuer_name(cert)),
          alt_names(cert),
          time_text(X509_get0_notBefore(cert)),
          time_text(X509_get0_notAfter(cert)),
          fingerprint_sha256(cert)};
}

std::string fingerprint_sha256(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha256(), digest, &size);
  std::string text;
  for (unsigned int i = 0; i < size; ++i) {
    text += fmt::format("{}{:02X}", i == 0 ? "" : ":", digest[i]);
  }
  return text;
}

std::string normalise_fingerprint(std::string_view text) {
  if (text.size() > 7 && (text.substr(0, 7) == "sha256:" || text.substr(0, 7) == "SHA256:")) {
    text.remove_prefix(7);
  }
  std::string hex;
  for (const char c : text) {
    if (c == ':' || c == ' ') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return {};
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return hex.size() == 64 ? hex : std::string();
}

Verdict explain_verify_result(long code) {
  const std::string reason = X509_verify_cert_error_string(code);
  switch (code) {
    case X509_V_OK:
      return {true, "ok", "the chain leads to a trusted issuer and the name matches"};
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return {false, "expired", reason};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {false, "not yet valid", reason};
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return {false, "self-signed", reason};
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {false, "wrong name", reason};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return {false, "unknown issuer", reason};
    default:
      return {false, "other", reason};
  }
}

std::string openssl_reason(std::string_view fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", code);
}

}  // namespace sockchat
