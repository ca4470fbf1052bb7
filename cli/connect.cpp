// connect — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_connect(CLI::App& app) {
  auto* sub = app.add_subcommand("connect",
                                 "connect to a TCP or unix server and chat, or pipe bytes like nc");
  sub->callback([] {
    exit_code() =
        guarded([]() -> int { throw std::runtime_error("connect: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
