// Local paths as the ferry shell takes them: ~ for the home, and glob patterns expanded as a shell would.
#pragma once

#include <string>
#include <vector>

namespace ferry::client {

// "~" and "~/..." as $HOME (the password database's home when unset), "~NAME/..." as NAME's home; anything else, and
// a ~ whose user is unknown, as it is.
std::string ExpandTilde(const std::string& path);

// ExpandTilde, then a path with glob characters (common/glob.h) as the local paths it matches, sorted as glob(3)
// sorts them; a pattern that matches nothing stands for itself, its escapes removed, as in a shell.
std::vector<std::string> ExpandLocal(const std::string& path);

}  // namespace ferry::client
