// Escaping text that came from a peer before it reaches a log line or a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

// The length (1 to 4) of the valid UTF-8 sequence at the start of `text`, with its code point in `code_point`; 0 if
// it does not start one (a stray byte, or a truncated, overlong or surrogate sequence). REQUIRES: !text.empty().
std::size_t DecodeUtf8(std::string_view text, char32_t& code_point);

// False for characters that act on a terminal or a line instead of printing: the C0 controls, DEL, the C1 controls
// (U+0080 to U+009F), the line and paragraph separators U+2028/U+2029 and the bidirectional controls (U+200E, U+200F,
// U+202A to U+202E, U+2066 to U+2069).
bool PrintsAsIs(char32_t c);

// `text` as one log line: \n, \r, \t and \\ as such, every other byte of a character that does not print as it is
// (PrintsAsIs) and every byte that is not valid UTF-8 as \xHH. Printable ASCII and valid UTF-8 stay as they are
// ("café" is unchanged). So what a client sent cannot forge another line or drive the terminal of whoever reads it.
std::string EscapeControl(std::string_view text);

}  // namespace ferry
