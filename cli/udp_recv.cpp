// udp-recv — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_udp_recv(CLI::App& app) {
  auto* sub =
      app.add_subcommand("udp-recv", "receive UDP datagrams (recvfrom) from any number of senders");
  sub->callback([] {
    exit_code() =
        guarded([]() -> int { throw std::runtime_error("udp-recv: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
