// probe_tls.cpp — see probe_tls.hpp.
#include "cli/probe_tls.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/probe_report.hpp"
#include "core/error.hpp"
#include "core/tls_context.hpp"
#include "core/tls_stream.hpp"

namespace sockchat::cli {

namespace {

nlohmann::json tls_event(const Address& target, const TlsSessionInfo& info) {
  nlohmann::json event{{"event", "tls"},
                       {"host", target.host()},
                       {"port", target.port()},
                       {"version", info.version},
                       {"cipher", info.cipher},
                       {"verified", info.verdict.ok},
                       {"verdict", info.verdict.kind},
                       {"reason", info.verdict.reason}};
  if (const auto& cert = info.peer_certificate) {
    event["subject"] = cert->subject;
    event["issuer"] = cert->issuer;
    event["names"] = cert->names;
    event["not_before"] = cert->not_before;
    event["not_after"] = cert->not_after;
    event["fingerprint"] = cert->fingerprint;
  }
  return event;
}

void say_tls(const Address& target, const TlsSessionInfo& info) {
  say_out(fmt::format("TLS on {}: {} {}", target.to_string(), info.version, info.cipher));
  if (const auto& cert = info.peer_certificate) {
    say_out(fmt::format("  {:<9}{}", "subject", cert->subject));
    say_out(fmt::format("  {:<9}{}", "issuer", cert->issuer));
    say_out(fmt::format("  {:<9}{}", "names", fmt::join(cert->names, ", ")));
    say_out(fmt::format("  {:<9}{} to {}", "valid", cert->not_before, cert->not_after));
    say_out(fmt::format("  {:<9}{}", "sha256", cert->fingerprint));
  }
  say_out(fmt::format("  {:<9}{}", "verdict",
                      info.verdict.ok ? "trusted: " + info.verdict.reason
                                      : fmt::format("not trusted: {} ({})", info.verdict.kind,
                                                    info.verdict.reason)));
}

}  // namespace

bool report_tls(const Address& target, const std::string& host, const std::string& trustfile,
                std::chrono::duration<double> timeout) {
  // no_verify: the handshake goes through, and OpenSSL still records the verdict.
  const TlsContext context = TlsContext::client({trustfile, {}, true});
  try {
    Socket socket(target.family(), SOCK_STREAM);
    socket.settimeout(timeout);
    socket.connect(target);
    TlsStream tls = TlsStream::client(context, socket, host, target.to_string());
    tls.do_handshake(timeout);
    const TlsSessionInfo info = tls.info();
    try {
      tls.shutdown_write();  // close_notify: leave as politely as openssl s_client does
    } catch (const SocketError&) {
      // No room for it, or the server left first: nothing more to say anyway.
    }
    emit(tls_event(target, info), {});  // with --json; say_tls() without
    say_tls(target, info);
    return true;
  } catch (const SocketError& e) {
    emit({{"event", "tls"},
          {"host", target.host()},
          {"port", target.port()},
          {"error", e.what()},
          {"errno", errno_name(e.error_number())}},
         {});
    say_out(fmt::format("TLS on {}: {}", target.to_string(), e.what()));
    return false;
  }
}

}  // namespace sockchat::cli
