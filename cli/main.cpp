// main.cpp — wires the subcommands together; each lives in its own file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/signals.hpp"
#include "core/text.hpp"

namespace {

// CLI11 answers "sockchat frobnicate" with "A subcommand is required"; name the word instead.
std::string explain(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return e.what();
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == argv[1]) return e.what();
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return fmt::format("unknown command '{}' (commands: {})", argv[1], names);
}

// `sockchat serve-1to1 >&-` starts with descriptor 1 closed, and the first socket() would
// then get 1: our "stdout" would be the listening socket. Give every closed standard
// descriptor /dev/null instead (open(2) takes the lowest free number), as ssh and the BSD
// tools do, so that stdin reads end-of-file and stdout swallows what is written.
void open_missing_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) ::open("/dev/null", O_RDWR);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sockchat::cli;
  // A peer that closes while we write must be an EPIPE error, not a silent death. Sockets
  // use MSG_NOSIGNAL already; this covers writes to stdout into a closed pipe too.
  sockchat::ignore_sigpipe();
  open_missing_standard_descriptors();

  CLI::App app{"sockchat — TCP and UDP sockets, made visible: chat, netcat, probe, teach."};
  app.set_version_flag("--version", std::string("sockchat ") + SOCKCHAT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  auto& global = global_options();
  app.add_flag("--trace", global.trace, "print every socket call to stderr as it happens");
  app.add_flag("--json", global.json, "events as JSON Lines on stdout instead of human text");
  app.add_option("--color", global.color, "colour on a terminal: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  setup_serve_1to1(app);
  setup_serve_group(app);
  setup_connect(app);
  setup_udp_send(app);
  setup_udp_recv(app);
  setup_probe(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_name() == "CallForVersion") {
      std::printf("%s\n", e.what());  // CLI11 2.1 prints it without a newline
      return 0;
    }
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // The contract: one line saying what is wrong, a hint, and exit status 2.
    std::fprintf(stderr, "sockchat: %s\nRun with --help for more information.\n",
                 sockchat::visible(explain(app, e, argc, argv)).c_str());
    return 2;
  }
  return exit_code();
}
