// byte_stream.cpp — a plain Socket as a ByteStream (see byte_stream.hpp).
#include "core/byte_stream.hpp"

#include <cerrno>

#include "core/error.hpp"

namespace sockchat {

std::size_t SocketStream::recv(char* buffer, std::size_t size) {
  return socket_.recv(buffer, size);
}

// MSG_DONTWAIT: take what fits now and come back on the next POLLOUT. Waiting inside
// send() for the rest could deadlock: the peer may be blocked sending to us.
std::size_t SocketStream::send(std::string_view data) {
  return socket_.send(data, MSG_DONTWAIT);
}

void SocketStream::shutdown_write() {
  try {
    socket_.shutdown(SHUT_WR);
  } catch (const SocketError& e) {
    if (e.error_number() != ENOTCONN) throw;  // ENOTCONN: the peer reset it already
  }
}

}  // namespace sockchat
