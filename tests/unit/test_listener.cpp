// test_listener.cpp — core/listener: the listening recipe, the stale unix socket file, the
// spare descriptor and the raised descriptor limit.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/listener.hpp"
#include "loopback.hpp"

using namespace sockchat;
using namespace sockchat::test;

namespace {
std::string temp_path(const char* name) {
  return "/tmp/sockchat-test-" + std::to_string(::getpid()) + "-" + name;
}
}  // namespace

TEST_CASE("open_listener listens with SO_REUSEADDR on TCP", "[listener][bind][listen]") {
  Socket listener = open_listener(loopback4(), 4);
  CHECK(listener.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 1);
  CHECK(listener.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 1);
  Socket client(AF_INET, SOCK_STREAM);
  CHECK(client.connect_ex(listener.getsockname()) == 0);
}

TEST_CASE("a stale unix socket file is replaced, a live one or a plain file is not",
          "[listener][bind]") {
  const std::string path = temp_path("stale");
  ::unlink(path.c_str());
  const Address address = Address::unix_path(path);
  {
    Socket dead = open_listener(address, 4);  // closed at the end of the block: stale file
  }
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  Socket live = open_listener(address, 4);                            // replaces the stale file
  CHECK(errno_of([&] { open_listener(address, 4); }) == EADDRINUSE);  // a live server stays
  live.close();
  ::unlink(path.c_str());
  std::ofstream(path) << "the user's file";
  CHECK(errno_of([&] { open_listener(address, 4); }) == EADDRINUSE);  // never removed
  ::unlink(path.c_str());
}

TEST_CASE("the spare descriptor gives one back and takes it again", "[listener]") {
  SpareDescriptor spare;
  spare.release();
  CHECK(spare.reopen());
  CHECK(out_of_descriptors(EMFILE));
  CHECK(out_of_descriptors(ENFILE));
  CHECK_FALSE(out_of_descriptors(EPROTO));
}

TEST_CASE("raise_descriptor_limit raises the soft limit to the hard one", "[listener][setrlimit]") {
  const std::size_t soft = raise_descriptor_limit();
  rlimit now{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(now.rlim_cur == now.rlim_max);
  CHECK(soft == std::min<std::size_t>(now.rlim_cur, std::size_t{1} << 20));
}
