// text.hpp — showing bytes from the network on a terminal. Pure code.
//
// A peer can send anything, including escape sequences that move the cursor, change the
// title or clear the screen. A chat client shows text, so control characters are made
// visible (^[, ^G, \x9b) while UTF-8 text, Chinese included, passes unchanged.
#pragma once

#include <string>
#include <string_view>

namespace sockchat {

// Control characters (C0 except tab, DEL, and C1 as UTF-8) as ^X or \xNN; bytes that are
// not valid UTF-8 as \xNN; everything else unchanged. Newlines are kept only if keep_newlines.
std::string visible(std::string_view bytes, bool keep_newlines = false);
void append_visible(std::string& out, std::string_view bytes, bool keep_newlines = false);

// A message printed as exactly one line, so that a newline inside it cannot pass for a
// line of its own: a backslash becomes \\, a newline \n, a carriage return \r; every
// other byte is unchanged. Reversible (printf '%b' undoes it).
std::string one_line(std::string_view bytes);

// "/NICK" → "/nick": A-Z lowered, every other byte as it is.
char ascii_lower(char c);
std::string ascii_lower(std::string_view text);

// True if `bytes` is entirely valid UTF-8.
bool valid_utf8(std::string_view bytes);

}  // namespace sockchat
