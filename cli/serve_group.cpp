// serve-group — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_serve_group(CLI::App& app) {
  auto* sub = app.add_subcommand("serve-group",
                                 "group chat server for a classroom (ncat --chat, done right)");
  sub->callback([] {
    exit_code() =
        guarded([]() -> int { throw std::runtime_error("serve-group: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
