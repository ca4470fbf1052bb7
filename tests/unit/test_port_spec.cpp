// parse_port_spec: PORTS as nmap -p spells them. Pure: no socket is opened.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/port_spec.hpp"

using namespace sockchat;
using Ports = std::vector<std::uint16_t>;

namespace {

// A tiny /etc/services, so the tests do not depend on the machine's.
std::optional<std::uint16_t> table(std::string_view name) {
  if (name == "http") return 80;
  if (name == "ssh") return 22;
  if (name == "ms-sql-s") return 1433;
  return std::nullopt;
}

std::string usage_error_of(std::string_view spec, const ServiceLookup& lookup = {}) {
  try {
    parse_port_spec(spec, lookup);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a port, a list, a range and a mix of them", "[port_spec]") {
  CHECK(parse_port_spec("8000") == Ports{8000});
  CHECK(parse_port_spec("22,80") == Ports{22, 80});
  CHECK(parse_port_spec("8000-8003") == Ports{8000, 8001, 8002, 8003});
  CHECK(parse_port_spec("22,80,8000-8002") == Ports{22, 80, 8000, 8001, 8002});
  CHECK(parse_port_spec("1") == Ports{1});
  CHECK(parse_port_spec("65535") == Ports{65535});
  CHECK(parse_port_spec("7-7") == Ports{7});
}

TEST_CASE("ports come back sorted, without duplicates", "[port_spec]") {
  CHECK(parse_port_spec("80,22,80") == Ports{22, 80});
  CHECK(parse_port_spec("81,79-81,80") == Ports{79, 80, 81});
}

TEST_CASE("spaces around items and dashes are ignored", "[port_spec]") {
  CHECK(parse_port_spec(" 22 , 80 - 82 ") == Ports{22, 80, 81, 82});
}

TEST_CASE("open ranges, as in nmap: -N, N- and -", "[port_spec]") {
  CHECK(parse_port_spec("-3") == Ports{1, 2, 3});
  CHECK(parse_port_spec("65533-") == Ports{65533, 65534, 65535});
  const Ports all = parse_port_spec("-");
  REQUIRE(all.size() == 65535);
  CHECK(all.front() == 1);
  CHECK(all.back() == 65535);
  CHECK(parse_port_spec("1-65535") == all);
}

TEST_CASE("service names go through the lookup, dashes in names included", "[port_spec]") {
  CHECK(parse_port_spec("http,ssh", table) == Ports{22, 80});
  CHECK(parse_port_spec("ms-sql-s", table) == Ports{1433});
  // A range is digits on both sides of the dash: "ssh-23" is a (bad) name, not a range.
  CHECK(usage_error_of("ssh-23", table) ==
        "bad port 'ssh-23' in 'ssh-23': not a number 1-65535 or a service name");
}

TEST_CASE("bad specs are usage errors with a one-line reason", "[port_spec]") {
  CHECK(usage_error_of("0") == "port 0 is out of range (1-65535)");
  CHECK(usage_error_of("70000") == "port 70000 is out of range (1-65535)");
  CHECK(usage_error_of("99999999999999999999") ==
        "port 99999999999999999999 is out of range (1-65535)");
  CHECK(usage_error_of("5-3") == "bad port range '5-3': 5 is greater than 3");
  CHECK(usage_error_of("x") == "bad port 'x' in 'x': not a number 1-65535");
  CHECK(usage_error_of("x", table) ==
        "bad port 'x' in 'x': not a number 1-65535 or a service name");
  CHECK(usage_error_of("") == "port spec is empty");
  CHECK(usage_error_of("  ") == "port spec is empty");
  CHECK(usage_error_of("22,,80") == "bad port spec '22,,80': an empty item");
  CHECK(usage_error_of("22,") == "bad port spec '22,': an empty item");
  CHECK(usage_error_of("0-5") == "port 0 is out of range (1-65535)");
  CHECK(usage_error_of("-0") == "port 0 is out of range (1-65535)");
  CHECK(usage_error_of("1-70000") == "port 70000 is out of range (1-65535)");
  CHECK(usage_error_of("5--3") == "bad port '5--3' in '5--3': not a number 1-65535");
  CHECK(usage_error_of("+80") == "bad port '+80' in '+80': not a number 1-65535");
  CHECK(usage_error_of("http") == "bad port 'http' in 'http': not a number 1-65535");
}

TEST_CASE("format_port_spec folds runs back into ranges", "[port_spec]") {
  CHECK(format_port_spec({}).empty());
  CHECK(format_port_spec({22}) == "22");
  CHECK(format_port_spec({22, 80, 81, 82, 443}) == "22,80-82,443");
  CHECK(format_port_spec(parse_port_spec("-")) == "1-65535");
  const Ports some = parse_port_spec("1-3,7,9-10");
  CHECK(parse_port_spec(format_port_spec(some)) == some);
}

// 1,000 copies of "1-65535" once expanded to 65 million ports before duplicates went
// (150 MB for probe). Runs are merged first: the result never holds more than the
// distinct ports, whatever the repetition.
TEST_CASE("repeated and overlapping ranges are merged before they are expanded", "[probe]") {
  std::string spec = "1-65535";
  for (int i = 1; i < 1000; ++i) spec += ",1-65535";
  const Ports all = parse_port_spec(spec);
  CHECK(all.size() == 65535);
  CHECK(all.capacity() <= 2 * 65536);
  CHECK(all.front() == 1);
  CHECK(all.back() == 65535);
  CHECK(parse_port_spec("10-20,5-12,21,30,19-25,1") == Ports{1,  5,  6,  7,  8,  9,  10, 11,
                                                             12, 13, 14, 15, 16, 17, 18, 19,
                                                             20, 21, 22, 23, 24, 25, 30});
  CHECK(format_port_spec(parse_port_spec("100-200,150-300,301,50")) == "50,100-301");
}
