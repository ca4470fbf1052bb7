#include "cli/common.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/trace.hpp"

namespace sockchat::cli {

Address listen_address(const std::string& host, const std::string& port) {
  const auto [address, attached] = split_host_port(host);
  if (!address.empty() && !attached.empty()) {
    throw UsageError(
        fmt::format("--host takes no port: use --host {} --port {}", address, attached));
  }
  return Address::resolve(host, port == "0" ? 0 : parse_port(port)).front();
}

CLI::Validator not_empty(const std::string& expected, const std::string& type) {
  return CLI::Validator(
      [expected](std::string& value) {
        return value.empty() ? "expected " + expected + ", got ''" : std::string();
      },
      type);
}

std::string plural(std::uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

namespace {
std::mutex g_output_mutex;
LineWriter g_stdout_writer;  // empty: write stdout directly
}  // namespace

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

int& exit_code() {
  static int code = 0;
  return code;
}

static void write_line(std::FILE* out, std::string_view line) {
  if (out == stdout && g_stdout_writer) return g_stdout_writer(line);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fputc('\n', out);
  std::fflush(out);
}

void emit(const nlohmann::json& event, std::string_view human) {
  std::lock_guard lock(g_output_mutex);
  if (global_options().json) {
    // dump's replace mode: invalid UTF-8 from the network becomes U+FFFD, never an exception.
    write_line(stdout, event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (!human.empty()) {
    write_line(stdout, human);
  }
}

void set_stdout_writer(LineWriter writer) {
  std::lock_guard lock(g_output_mutex);
  std::fflush(stdout);  // what stdio holds goes first, in order
  g_stdout_writer = std::move(writer);
}

void say(std::string_view human) {
  std::lock_guard lock(g_output_mutex);
  write_line(global_options().json ? stderr : stdout, human);
}

void error(std::string_view text, std::string_view errno_name) {
  {
    std::lock_guard lock(g_output_mutex);
    // An error quotes what the user typed ("bad port '...'"): shown through visible(), a
    // newline or an escape sequence in it can neither split the line nor drive the terminal.
    write_line(stderr, fmt::format("sockchat: {}", visible(text)));
  }
  if (global_options().json) {
    nlohmann::json event{{"event", "error"}, {"message", text}};
    if (!errno_name.empty()) event["errno"] = errno_name;
    emit(event, {});
  }
}

bool use_color(int fd) {
  const auto& mode = global_options().color;
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(fd) == 1;
}

std::string paint(bool on, std::string_view sgr, std::string_view text) {
  if (!on) return std::string(text);
  return fmt::format("\x1b[{}m{}\x1b[0m", sgr, text);
}

Timeout ModeOptions::to_timeout() const {
  if (nonblocking) return std::chrono::duration<double>(0);
  if (timeout) return std::chrono::duration<double>(*timeout);
  return std::nullopt;
}

// A number of seconds >= 0. (CLI::NonNegativeNumber's message prints DBL_MAX in full.)
static std::string check_seconds(std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value < 0) {
    return "expected a number of seconds >= 0, got " + text;
  }
  return {};
}

void add_mode_options(CLI::App& sub, ModeOptions& mode) {
  sub.add_option("--timeout", mode.timeout,
                 "seconds a blocking call may wait, like Python's settimeout(S)")
      ->check(CLI::Validator(check_seconds, "SECONDS"));
  sub.add_flag("--nonblocking", mode.nonblocking,
               "nonblocking sockets on a poll loop, like setblocking(False)");
}

int guarded(const std::function<int()>& body) {
  trace::enable(global_options().trace);
  try {
    return body();
  } catch (const SocketError& e) {
    error(e.what(), errno_name(e.error_number()));
    return 1;
  } catch (const UsageError& e) {
    error(e.what());
    return 2;
  } catch (const std::exception& e) {
    error(e.what());
    return 1;
  }
}

}  // namespace sockchat::cli
