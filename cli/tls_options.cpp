// tls_options.cpp — see tls_options.hpp.
#include "cli/tls_options.hpp"

#include <fmt/format.h>

#include "cli/chat_loop.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

Timeout TlsOptions::handshake_bound() const {
  if (handshake_timeout <= 0) return std::nullopt;
  return std::chrono::duration<double>(handshake_timeout);
}

namespace {

CLI::Option* add_ssl_flag(CLI::App& sub, TlsOptions& tls, const std::string& what) {
  auto* ssl = sub.add_flag("--ssl", tls.ssl, what);
  sub.add_option("--ssl-handshake-timeout", tls.handshake_timeout,
                 "seconds a TLS handshake may take (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->needs(ssl);
  return ssl;
}

}  // namespace

void add_tls_server_options(CLI::App& sub, TlsOptions& tls) {
  auto* ssl =
      add_ssl_flag(sub, tls, "TLS: without --ssl-cert, an ephemeral self-signed certificate");
  auto* cert = sub.add_option("--ssl-cert", tls.cert, "PEM certificate (chain) to prove who we are")
                   ->needs(ssl);
  auto* key = sub.add_option("--ssl-key", tls.key, "PEM private key of --ssl-cert")->needs(ssl);
  cert->needs(key);
  key->needs(cert);
}

void add_tls_client_options(CLI::App& sub, TlsOptions& tls) {
  auto* ssl = add_ssl_flag(sub, tls, "TLS: the server's certificate and name are verified");
  sub.add_option("--ssl-trustfile", tls.client.trustfile,
                 "PEM CA certificates to trust instead of the system's")
      ->needs(ssl);
  auto* pin = sub.add_option("--ssl-fingerprint", tls.client.fingerprint,
                             "trust exactly the certificate with this SHA-256 fingerprint")
                  ->needs(ssl);
  sub.add_flag("--ssl-no-verify", tls.client.no_verify,
               "do not verify the certificate (warns and shows its fingerprint)")
      ->needs(ssl)
      ->excludes(pin);
}

std::optional<TlsContext> server_tls(const TlsOptions& tls) {
  if (!tls.ssl) return std::nullopt;
  if (tls.cert.empty()) return TlsContext::server_ephemeral();
  return TlsContext::server(tls.cert, tls.key);
}

std::optional<TlsContext> client_tls(const TlsOptions& tls) {
  if (!tls.ssl) return std::nullopt;
  return TlsContext::client(tls.client);
}

void report_handshake(const TlsStream& stream, const std::string& peer, bool warn_unverified) {
  const TlsSessionInfo info = stream.info();
  nlohmann::json event{{"event", "tls"},
                       {"peer", peer},
                       {"version", info.version},
                       {"cipher", info.cipher},
                       {"verified", info.verdict.ok},
                       {"verdict", info.verdict.kind}};
  std::string human = fmt::format("TLS with {}: {} {}", peer, info.version, info.cipher);
  if (const auto& cert = info.peer_certificate) {
    event["subject"] = cert->subject;
    event["issuer"] = cert->issuer;
    event["fingerprint"] = cert->fingerprint;
    human += fmt::format("; certificate {} issued by {}", cert->subject, cert->issuer);
  }
  notice(event, human);
  if (warn_unverified && info.peer_certificate) {
    warning(fmt::format(
        "--ssl-no-verify: the certificate of {} is not checked ({}), so anyone on the way "
        "could be in the middle. Its SHA-256 fingerprint is {}: compare it with the server's, "
        "then pin it with --ssl-fingerprint",
        peer, info.verdict.ok ? "it would verify" : info.verdict.kind,
        info.peer_certificate->fingerprint));
  }
}

std::string tls_connect_flags(const TlsContext& context, const TlsOptions& tls) {
  if (!tls.cert.empty()) return " --ssl";
  return fmt::format(" --ssl --ssl-fingerprint {}", context.own_fingerprint());
}

}  // namespace sockchat::cli
