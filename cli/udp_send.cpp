// udp-send — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_udp_send(CLI::App& app) {
  auto* sub =
      app.add_subcommand("udp-send", "send UDP datagrams (sendto), optionally waiting for echoes");
  sub->callback([] {
    exit_code() =
        guarded([]() -> int { throw std::runtime_error("udp-send: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
