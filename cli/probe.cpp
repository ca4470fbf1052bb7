// probe — (being written)
#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace sockchat::cli {

void setup_probe(CLI::App& app) {
  auto* sub =
      app.add_subcommand("probe", "probe TCP/UDP ports and explain each verdict (nmap -sT, nc -z)");
  sub->callback([] {
    exit_code() = guarded([]() -> int { throw std::runtime_error("probe: not implemented yet"); });
  });
}

}  // namespace sockchat::cli
