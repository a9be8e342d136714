// Glob patterns as the ferry client and server share them: * ? and [...] match within one name (fnmatch(3) with
// FNM_PERIOD, so a leading dot is matched only by a dot, as in a shell), and a backslash makes a glob character plain
// ("report\*.txt" names a file with a star in its name).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// True when `text` holds a * ? or [ not escaped by a backslash.
bool HasGlob(std::string_view text);

// `text` with the backslashes before * ? [ and \ removed: the name a pattern stands for when it matches nothing, or
// has no glob character (other backslashes are kept: a name may hold one).
std::string UnescapeGlob(std::string_view text);

// Whether `name` (one name, no slash) matches `pattern`.
bool GlobMatches(const std::string& pattern, const std::string& name);

// A path's parts between slashes (empty parts dropped); `absolute` says whether it started with one.
std::vector<std::string> SplitPathParts(std::string_view path, bool& absolute);

}  // namespace ferry
