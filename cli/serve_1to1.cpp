// serve-1to1 — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_serve_1to1(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "serve-1to1", "one-to-one chat server: accept one client, chat full duplex (nc -l)");
  sub->callback([] {
    exit_code() =
        guarded([]() -> int { throw std::runtime_error("serve-1to1: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
