// fuzz.hpp — what every fuzz target in tests/fuzz/ shares. No libFuzzer header is needed:
// each target defines LLVMFuzzerTestOneInput, which libFuzzer calls with its mutated inputs
// (the clang build, `make fuzz`) and replay.cpp calls with the committed corpus (the normal
// build, as a ctest). See docs/fuzzing.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sockchat::fuzz {

// A property of the parser does not hold: say which, and abort so that libFuzzer keeps the
// input that broke it (a crash-* file) and the replay test fails.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  if (!detail.empty()) {
    std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

inline void require(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// Reads the fuzzer's bytes as a script: small numbers that choose what to do next, and
// strings to do it with. Past the end it returns zeros and empty strings.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return bytes_.empty(); }
  std::uint8_t byte() {
    if (bytes_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return b;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
    return v;
  }
  // A string whose length is the next byte (so one input holds many of them).
  std::string_view string() { return take(byte()); }
  std::string_view take(std::size_t n) {
    const std::string_view s = bytes_.substr(0, n);
    bytes_.remove_prefix(s.size());
    return s;
  }
  std::string_view rest() { return take(bytes_.size()); }

 private:
  std::string_view bytes_;
};

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace sockchat::fuzz
