#include "storage/mount_info.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ferry::storage {
namespace {

// mountinfo writes space, tab, newline and backslash in paths as \NNN (octal).
std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// Whether `path` is `prefix` or below it, comparing whole components.
bool IsAtOrBelow(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": fields 4 and 5 are the two paths.
    std::string_view fields[5];
    std::string_view rest = line;
    bool complete = true;
    for (auto& field : fields) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const std::size_t space = rest.find(' ');
      if (rest.empty()) {
        complete = false;
        break;
      }
      field = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space);
    }
    if (!complete || fields[3].empty() || fields[4].empty()) continue;
    mounts.push_back({Unescape(fields[3]), Unescape(fields[4])});
  }
  return mounts;
}

std::string PathWithinFileSystem(const std::vector<MountEntry>& mounts, std::string_view path) {
  const MountEntry* covering = nullptr;
  for (const MountEntry& mount : mounts) {
    if (!IsAtOrBelow(path, mount.mount_point)) continue;
    // The longest mount point wins; among equal ones the later, which is mounted over the earlier.
    if (covering == nullptr || mount.mount_point.size() >= covering->mount_point.size()) covering = &mount;
  }
  if (covering == nullptr) return "";
  std::string_view below = covering->mount_point == "/" ? path : path.substr(covering->mount_point.size());
  if (covering->root == "/") return below.empty() ? "/" : std::string(below);
  return covering->root + std::string(below);
}

Result<std::string> PathWithinFileSystem(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return Status::FromErrno(errno, path);
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Status(ErrorCode::kIo, "cannot read /proc/self/mountinfo");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string shown = PathWithinFileSystem(ParseMountInfo(text.str()), resolved);
  if (shown.empty()) return Status(ErrorCode::kNotFound, std::string("no mount covers ") + resolved);
  return shown;
}

}  // namespace ferry::storage
