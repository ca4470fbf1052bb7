// probe_options.hpp — `sockchat probe --show-options`: connect, then show what the kernel
// says about the socket (getsockname, getpeername, getsockopt), set a few options the way
// real programs do, and show what changed.
#pragma once

#include <chrono>

#include "core/address.hpp"

namespace sockchat::cli {

// Connects to `target` (TCP, or a connected UDP socket with `udp`) and reports. Returns
// false when the connection failed (the error is reported, nothing is thrown).
bool show_socket_options(const Address& target, std::chrono::duration<double> timeout, bool udp);

}  // namespace sockchat::cli
