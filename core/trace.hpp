// trace.hpp — `--trace`: one line per socket call on stderr, strace-like.
//
//   bind(3, 127.0.0.1:8000) = 0  # s.bind(('127.0.0.1', 8000))
//   recv(4, 1024) = 6 "hello\n" <2.31s>
//   connect(5, 127.0.0.1:9) = -1 ECONNREFUSED (Connection refused)
//
// Every call in core/ reports here, so tracing lives in one place. Lines are written with
// a single write(2), so threads never interleave within a line.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace sockchat::trace {

void enable(bool on);
bool enabled();

// Writes `line` plus a newline to stderr when tracing is on.
void emit(std::string_view line);

// Sends each line (without its newline) to `sink` instead of stderr, e.g. to collect them
// in a test or a GUI; an empty function restores stderr. Lines still appear only while
// tracing is enabled. The sink is called under a lock, so it sees whole lines, one at a time.
void set_sink(std::function<void(std::string_view)> sink);

// Bytes as a C string literal, cut after `max` bytes with "...": "hello\n".
std::string quote(std::string_view bytes, std::size_t max = 32);

// "AF_INET", "SOCK_STREAM", "SOL_SOCKET", "SO_REUSEADDR", "TCP_NODELAY"...
std::string family_name(int family);
std::string type_name(int type);
std::string level_name(int level);
std::string option_name(int level, int option);

// One traced call. Construct it before the syscall (it starts the clock), then call
// ok() or fail(): it emits "NAME(ARGS) = RESULT  # PYTHON <T s>", the time only when the
// call waited long enough to notice. Cheap when tracing is off.
class Call {
 public:
  Call(std::string_view name, std::string args, std::string python = {});
  // For the hot paths (recv, send...): formatting costs more than the syscall's own
  // overhead, so describe the call only when a line will be printed:
  //   trace::Call t("recv");
  //   if (t.on()) t.describe(fmt::format("{}, {}", fd, size), fmt::format("s.recv({})", size));
  explicit Call(std::string_view name);
  bool on() const { return on_; }
  void describe(std::string args, std::string python = {});
  void ok(std::string_view result) const;
  void ok(long long result) const;        // a count or a descriptor, formatted only when tracing
  void fail(int err) const;               // "= -1 ENAME (text)"
  void fail(std::string_view why) const;  // "= -1 ETIMEDOUT (timed out after 2 s)"

 private:
  void finish(std::string_view result) const;
  std::string_view name_;
  std::string args_;
  std::string python_;
  std::chrono::steady_clock::time_point start_;
  bool on_ = false;  // tracing was on when the call started
};

}  // namespace sockchat::trace
