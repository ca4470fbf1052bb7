// test_tls_stream.cpp — TlsStream over a loopback TCP pair, both ends in this thread:
// the nonblocking handshake in steps, and read-ahead (several records per recv, and
// buffered() telling a poll loop when records wait inside OpenSSL).
#include <poll.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/tls_context.hpp"
#include "core/tls_stream.hpp"
#include "core/wait.hpp"
#include "loopback.hpp"

namespace sockchat::test {
namespace {

constexpr std::size_t kRecord = 10 * 1024;  // each SSL_write below: one TLS record

struct TlsPair {
  Connected tcp = connected_pair();
  TlsContext server_context = TlsContext::server_ephemeral();
  TlsContext client_context = TlsContext::client([] {
    TlsClientOptions options;
    options.no_verify = true;
    return options;
  }());
  TlsStream server = TlsStream::server(server_context, tcp.server, "client");
  TlsStream client = TlsStream::client(client_context, tcp.client, "", "server");

  explicit TlsPair(bool read_ahead) {
    tcp.server.setblocking(false);
    tcp.client.setblocking(false);
    if (read_ahead) server.read_ahead();
    // Both ends step their handshakes in turn until both are done (bounded).
    bool server_done = false, client_done = false;
    for (int step = 0; step < 100 && !(server_done && client_done); ++step) {
      if (!client_done) client_done = !client.try_handshake();
      if (!server_done) server_done = !server.try_handshake();
      if (!(server_done && client_done)) {
        wait_ready(tcp.server.fileno(), POLLIN, Deadline(std::chrono::milliseconds(100)));
      }
    }
    REQUIRE(server_done);
    REQUIRE(client_done);
  }

  // `count` records from the client; loopback has them in the server's socket on return.
  void send_records(int count) {
    for (int i = 0; i < count; ++i) {
      const std::string record(kRecord, static_cast<char>('a' + i));
      REQUIRE(client.send(record) == kRecord);
    }
    REQUIRE(wait_ready(tcp.server.fileno(), POLLIN, Deadline(std::chrono::seconds(5))));
  }
};

}  // namespace

TEST_CASE("without read-ahead, one recv gives one record", "[tls]") {
  TlsPair pair(false);
  pair.send_records(3);
  std::vector<char> buffer(64 * 1024);
  CHECK(pair.server.recv(buffer.data(), buffer.size()) == kRecord);
  CHECK_FALSE(pair.server.buffered());  // the others are in the socket, where poll sees them
}

TEST_CASE("with read-ahead, one recv gives every record that has come", "[tls]") {
  TlsPair pair(true);
  pair.send_records(3);
  std::vector<char> buffer(64 * 1024);
  const std::size_t n = pair.server.recv(buffer.data(), buffer.size());
  REQUIRE(n == 3 * kRecord);
  CHECK(std::string(buffer.data() + 2 * kRecord, kRecord) == std::string(kRecord, 'c'));
  CHECK_FALSE(pair.server.buffered());
  CHECK_THROWS_AS(pair.server.recv(buffer.data(), buffer.size()), WouldBlockError);
}

TEST_CASE("read-ahead: records that did not fit are buffered(), for the poll loop", "[tls]") {
  TlsPair pair(true);
  pair.send_records(3);
  std::vector<char> buffer(kRecord + 100);
  REQUIRE(pair.server.recv(buffer.data(), buffer.size()) == kRecord + 100);
  CHECK(pair.server.buffered());  // poll() would not wake for them: they are read already
  std::vector<char> rest(64 * 1024);
  REQUIRE(pair.server.recv(rest.data(), rest.size()) == 2 * kRecord - 100);
  CHECK(std::string(rest.data(), kRecord - 100) == std::string(kRecord - 100, 'b'));
  CHECK_FALSE(pair.server.buffered());
}

TEST_CASE("read-ahead: the end of the stream comes after the bytes before it", "[tls]") {
  TlsPair pair(true);
  pair.send_records(2);
  pair.client.shutdown_write();  // close_notify, then FIN
  REQUIRE(wait_ready(pair.tcp.server.fileno(), POLLIN, Deadline(std::chrono::seconds(5))));
  std::vector<char> buffer(64 * 1024);
  std::size_t got = 0;
  for (int i = 0; i < 10 && got < 2 * kRecord; ++i) {
    try {
      got += pair.server.recv(buffer.data(), buffer.size());
    } catch (const WouldBlockError&) {
      wait_ready(pair.tcp.server.fileno(), POLLIN, Deadline(std::chrono::seconds(1)));
    }
  }
  REQUIRE(got == 2 * kRecord);
  CHECK(pair.server.recv(buffer.data(), buffer.size()) == 0);
}

}  // namespace sockchat::test
