// socket_file.hpp — Python's s.makefile(): a buffered reader and writer over a socket.
//
// TCP delivers a byte stream, not lines: one recv() may return half a line or three.
// readline() hides that by keeping what it has read in a buffer until a '\n' arrives;
// write() collects small writes and flush() sends them with one sendall().
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace sockchat {

class Socket;

class SocketFile {
 public:
  explicit SocketFile(Socket& socket, std::size_t chunk = 64 * 1024);
  // One line including its '\n', or what is left at end of stream ("" once all is read).
  // A line longer than `max` comes back in pieces of `max` bytes, as Python's does.
  std::string readline(std::size_t max = std::numeric_limits<std::size_t>::max());
  // Up to n bytes; fewer only at end of stream.
  std::string read(std::size_t n);
  void write(std::string_view data);  // buffered
  void flush();                       // sendall() what write() collected

 private:
  bool fill();  // one recv() into the buffer; false at end of stream
  Socket& socket_;
  std::size_t chunk_;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::string out_;
};

}  // namespace sockchat
