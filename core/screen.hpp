// screen.hpp — where text lands on a terminal, so that a chat can erase the line being
// typed and draw it again. Pure code: no I/O, the terminal's width is a parameter.
//
// A terminal W columns wide wraps a longer line onto the next row by itself. "\r\x1b[K"
// (back to column 0, erase to the end of the row) then erases only the last row of it,
// and the rows above stay on screen. To erase all of it a program must know how many rows
// it took: count the columns of each character (one for "a" or "é", two for "中" or "😀",
// none for a combining accent), follow the terminal's wrapping, go up that many rows.
// Read: wcwidth(3), mbrtowc(3), uselocale(3), console_codes(4) (CUU "ESC [ n A", ED "ESC [ J"),
// Unicode UAX #11 (East Asian Width).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sockchat {

// The columns `text` (UTF-8) takes on a terminal: wcwidth(3) of each character — 2 for
// East Asian wide ones and most emoji, 0 for combining marks, 1 for the rest — and 1 for
// each byte that is not part of a valid character (terminals show U+FFFD for it). The
// widths are the C library's Unicode tables, asked in C.UTF-8 whatever LANG says: the
// chat's text is UTF-8. A terminal with older or newer tables may differ on rare
// characters (new emoji, ambiguous-width ones that CJK fonts draw wide).
std::size_t columns(std::string_view text);

// The input area as it is printed: the prompt, then the typed text with control characters
// made visible (visible() in core/text.hpp) and each tab turned into spaces up to the next
// multiple of 8 columns. What is printed is then exactly what columns() counts. The first
// bytes of a character whose last bytes have not been typed yet are left out until they are.
std::string input_area(std::string_view prompt, std::string_view typed);

// Rows that `text` (printed, as input_area() makes it) takes when printed from column 0 of
// a terminal `width` columns wide: at least 1, and the cursor is on the last one. A row
// filled exactly keeps the cursor on its last column (the terminal moves to the next row
// only when the next character comes), and a wide character that does not fit at the end
// of a row goes whole to the next one. A width of 0 counts as 1.
std::size_t rows_taken(std::string_view text, std::size_t width);

// The escape sequence that erases `rows` rows printed from column 0 with the cursor on the
// last one: "\r" (column 0), "ESC [ n A" (up n = rows - 1 rows, left out when 0), "ESC [ J"
// (erase to the end of the screen). The cursor ends where the first row began.
std::string erase_rows(std::size_t rows);

}  // namespace sockchat
