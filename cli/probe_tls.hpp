// probe_tls.hpp — `sockchat probe --ssl`: for an open port, a TLS handshake and what it
// shows, as `openssl s_client` and nmap's ssl-cert script do: the protocol version, the
// cipher, the server's certificate (subject, issuer, names, validity, SHA-256) and whether
// a client would trust it, and if not, why (expired, self-signed, wrong name, unknown
// issuer). The handshake goes through whatever the verdict: probing is looking, not trusting.
#pragma once

#include <chrono>
#include <string>

#include "core/address.hpp"

namespace sockchat::cli {

// Connects to `target`, handshakes (SNI and the name check from `host`, the name the user
// typed; trust from the system's store or `trustfile`), and reports: a "tls" event with
// --json, else a few lines. False when the connection or the handshake failed (said too).
bool report_tls(const Address& target, const std::string& host, const std::string& trustfile,
                std::chrono::duration<double> timeout);

}  // namespace sockchat::cli
