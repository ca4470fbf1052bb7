// commands.hpp — one setup function per subcommand, each in its own file (as CLI11's
// subcom_in_files example does). setup_X adds the subcommand, its options, and a callback
// that runs it and stores the exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace sockchat::cli {

void setup_serve_1to1(CLI::App& app);
void setup_serve_group(CLI::App& app);
void setup_connect(CLI::App& app);
void setup_udp_send(CLI::App& app);
void setup_udp_recv(CLI::App& app);
void setup_probe(CLI::App& app);

}  // namespace sockchat::cli
