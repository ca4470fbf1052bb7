// stdio.hpp — the two plain descriptors a conversation runs on besides its socket: stdin
// (0) and stdout (1). Shared by the byte pump and the terminal chat. Read: read(2), write(2).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace sockchat::cli {

// stdout went away (`sockchat connect ... | head -1`): the conversation is over.
struct StdoutClosed {};

// write(2) until all is written: a pipe may take part of it. Throws StdoutClosed on EPIPE.
void write_all(int fd, std::string_view data);

// read(2) from stdin: the byte count (0 at end of file), or nullopt if nothing was there.
std::optional<std::size_t> read_stdin(char* buffer, std::size_t size);

bool stdin_is_a_file();  // a regular file: `sockchat connect HOST < big.iso`

}  // namespace sockchat::cli
