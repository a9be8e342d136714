#include "client/local_paths.h"

#include <glob.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "common/glob.h"

namespace ferry::client {
namespace {

std::string HomeOf(const std::string& user) {
  if (user.empty()) {
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  }
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  const int rc = user.empty() ? ::getpwuid_r(::getuid(), &entry, buffer, sizeof buffer, &found)
                              : ::getpwnam_r(user.c_str(), &entry, buffer, sizeof buffer, &found);
  if (rc != 0 || found == nullptr || found->pw_dir == nullptr) return "";
  return found->pw_dir;
}

}  // namespace

std::string ExpandTilde(const std::string& path) {
  if (!path.starts_with('~')) return path;
  const std::size_t slash = path.find('/');
  const std::string user = path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  const std::string home = HomeOf(user);
  if (home.empty()) return path;
  return slash == std::string::npos ? home : home + path.substr(slash);
}

std::vector<std::string> ExpandLocal(const std::string& path) {
  const std::string expanded = ExpandTilde(path);
  if (!HasGlob(expanded)) return {UnescapeGlob(expanded)};
  glob_t matches{};
  const int rc = ::glob(expanded.c_str(), 0, nullptr, &matches);
  std::vector<std::string> paths;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  if (paths.empty()) paths.push_back(UnescapeGlob(expanded));
  return paths;
}

}  // namespace ferry::client
