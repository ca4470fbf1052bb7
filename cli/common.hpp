// common.hpp — what every subcommand shares: the global options, how events are printed
// (human text or JSON Lines), colour, and the option helpers for timeouts and addresses.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/address.hpp"
#include "core/wait.hpp"

namespace sockchat::cli {

struct GlobalOptions {
  bool trace = false;
  bool json = false;
  std::string color = "auto";  // auto | always | never
};
GlobalOptions& global_options();

// One event for the user: with --json a JSON object on one line of stdout (the object
// must carry "event"); otherwise `human` (if not empty) as a line of stdout. Thread-safe.
void emit(const nlohmann::json& event, std::string_view human);
// A line for a person only (prompts, banners): stderr with --json, else stdout.
void say(std::string_view human);
// Where the lines of emit() and say() bound for stdout go: by default straight to stdout.
// A server that must never block on its console (serve-group) installs its own writer;
// an empty function restores the default. The writer is called under the output lock.
using LineWriter = std::function<void(std::string_view line)>;
void set_stdout_writer(LineWriter writer);
// "sockchat: TEXT" on stderr, plus an "error" event on stdout with --json.
void error(std::string_view text, std::string_view errno_name = {});

// Where a TCP server listens, from its --host and --port: port 0 asks the kernel for a free
// one; "--host 127.0.0.1:8000" is refused with the way to say it (--host 127.0.0.1 --port
// 8000), not left to fail as an unknown host name.
Address listen_address(const std::string& host, const std::string& port);

// An option whose empty value ("$NAME" unset) is refused rather than taken as "not given":
// "expected EXPECTED, got ''". TYPE is the value's name in --help (NAME, ADDR...).
CLI::Validator not_empty(const std::string& expected, const std::string& type);

// "1 client", "2 clients": a count and its noun, in the right number.
std::string plural(std::uint64_t n, std::string_view word);

// Colour for a stream (1 = stdout, 2 = stderr): --color, NO_COLOR and isatty decide.
bool use_color(int fd);
// Wraps text in an ANSI SGR colour code ("1;32") when `on`.
std::string paint(bool on, std::string_view sgr, std::string_view text);

// Adds --timeout S and --nonblocking to a subcommand, and turns them into Python's model:
// neither → blocking (nullopt), --nonblocking → 0, --timeout S → S seconds.
struct ModeOptions {
  std::optional<double> timeout;
  bool nonblocking = false;
  Timeout to_timeout() const;
};
void add_mode_options(CLI::App& sub, ModeOptions& mode);

// Runs a subcommand body, turning exceptions into the contract's exit codes:
// SocketError → 1 (network failure), UsageError → 2, anything else → 1. Never a trace.
int guarded(const std::function<int()>& body);

// The exit code the chosen subcommand's callback stored.
int& exit_code();

}  // namespace sockchat::cli
