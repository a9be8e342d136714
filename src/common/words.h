// Shell-like words: what a user types as a command line, split without a shell (no expansion of any kind).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry {

// Splits a command line into words as a POSIX shell would for plain words: whitespace separates, 'single quotes'
// keep everything literally, "double quotes" keep everything but \" and \\, and a backslash outside quotes escapes
// the next character. EINVAL for an unclosed quote or a trailing backslash.
Result<std::vector<std::string>> SplitWords(std::string_view line);

// SplitWords for a command run without a shell (a command sent over SSH) in the user's home: also EINVAL, saying
// which, for an unquoted character a shell would act on (| & ; < > ( ) $ ` and a line break), since passing it on as
// a plain word would run something other than what was meant. An unquoted ~ that starts a word ("~", "~/bk") is the
// home, and so becomes "." ("./bk"). Glob characters (* ? [) are passed on as they are.
Result<std::vector<std::string>> SplitCommand(std::string_view line);

// Quotes a word so SplitWords gives it back unchanged (for completion and messages).
std::string QuoteWord(std::string_view word);

}  // namespace ferry
