// Parsing what the user types: shell-like words, and the [USER@]HOST[:PORT] target.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"

namespace ferry::client {

// Splits a command line into words as a POSIX shell would for plain words: whitespace separates, 'single quotes'
// keep everything literally, "double quotes" keep everything but \" and \\, and a backslash outside quotes escapes
// the next character. EINVAL for an unclosed quote or a trailing backslash.
Result<std::vector<std::string>> SplitWords(std::string_view line);

// Quotes a word so SplitWords gives it back unchanged (for completion and messages).
std::string QuoteWord(std::string_view word);

struct Target {
  std::string user;  // empty when not given
  HostPort address;
};

// "[USER@]HOST[:PORT]", with IPv6 hosts in brackets: "alice@[::1]:7021".
Result<Target> ParseTarget(std::string_view text);

}  // namespace ferry::client
