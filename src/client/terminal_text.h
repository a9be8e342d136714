// How the client shows text that came from the server (file names, paths, messages) on a terminal.
#pragma once

#include <string>
#include <string_view>

namespace ferry::client {

// `text` made safe to print: a hostile file name cannot move the cursor, recolour, retitle or clear the terminal,
// nor pass for several lines. The rule is that of GNU `ls -b` (C escapes):
//   - \a \b \t \n \v \f \r for those control characters, and \\ for a backslash itself;
//   - \ooo (three octal digits) for every other byte of a character that does not print: the other C0 controls
//     (ESC is \033), DEL (\177), the C1 controls U+0080..U+009F (e.g. \302\233), the line and paragraph
//     separators U+2028/U+2029 and the bidirectional controls (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069);
//   - \ooo for each byte that is not part of valid UTF-8 (a stray byte, a truncated, overlong or surrogate sequence).
// Everything else, spaces and valid UTF-8 such as "café" or "日本" included, is kept unchanged.
// The result is unambiguous: different names never look the same.
std::string EscapeForTerminal(std::string_view text);

}  // namespace ferry::client
