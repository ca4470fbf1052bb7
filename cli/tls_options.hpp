// tls_options.hpp — the --ssl options of connect, serve-1to1 (and later serve-group and
// probe), and what they turn into: a TlsContext, the TLS session on a connected socket,
// and the lines that tell the user what TLS did.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/address.hpp"
#include "core/tls_context.hpp"
#include "core/tls_stream.hpp"
#include "core/wait.hpp"

namespace sockchat::cli {

struct TlsOptions {
  bool ssl = false;
  std::string cert;  // servers: --ssl-cert FILE and --ssl-key FILE
  std::string key;
  TlsClientOptions client;          // connect: --ssl-trustfile, --ssl-fingerprint, --ssl-no-verify
  double handshake_timeout = 10;    // --ssl-handshake-timeout S
  Timeout handshake_bound() const;  // 0 means no bound
};

// --ssl, --ssl-cert, --ssl-key, --ssl-handshake-timeout.
void add_tls_server_options(CLI::App& sub, TlsOptions& tls);
// --ssl, --ssl-trustfile, --ssl-fingerprint, --ssl-no-verify, --ssl-handshake-timeout.
void add_tls_client_options(CLI::App& sub, TlsOptions& tls);

// A server's context: --ssl-cert and --ssl-key, or an ephemeral self-signed certificate.
// nullopt without --ssl. Bad files are a UsageError (exit 2), before anything listens.
std::optional<TlsContext> server_tls(const TlsOptions& tls);
// The same for connect; nullopt without --ssl.
std::optional<TlsContext> client_tls(const TlsOptions& tls);

// The handshake's outcome for the user: a "tls" event, and with --ssl-no-verify the
// warning that carries the fingerprint to pin.
void report_handshake(const TlsStream& stream, const std::string& peer, bool warn_unverified);

// "connect with: sockchat connect HOST PORT --ssl ..." for a TLS server, so that a student
// can copy it: with an ephemeral certificate it pins the certificate's fingerprint.
std::string tls_connect_flags(const TlsContext& context, const TlsOptions& tls);

}  // namespace sockchat::cli
