// Escaping text that came from a peer before it reaches a log line or a terminal.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// `text` with every byte that could end a line or drive a terminal written as an escape: \n, \r, \t and \\ as
// such, other C0 controls, DEL, the C1 controls (U+0080 to U+009F) and bytes that are not valid UTF-8 as \xHH.
// Printable ASCII and valid UTF-8 otherwise stay as they are ("café" is unchanged). So the result is one line that
// shows everything the text held and cannot forge another line or move a cursor.
std::string EscapeControl(std::string_view text);

}  // namespace ferry
