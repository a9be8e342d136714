// WalkTree: visits everything below a folder, at any depth, without recursion.
//
// Trees are as deep as their owner makes them (a program run on the server can nest folders far past PATH_MAX), so
// the walk keeps no descriptor per level and no stack frame per level: it holds at most two descriptors and, per
// level it is inside, only the names of the sub-folders still to visit. It climbs back up through "..", checking
// that ".." is still the folder it came down from (device and inode), so a folder moved during the walk ends it with
// an error instead of taking it anywhere else: the walk never leaves the folder it started in.
// Entries are opened by name with O_NOFOLLOW: a symlink is visited as a link, never followed.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string_view>

#include "common/status.h"

namespace ferry::storage {

struct TreeVisitor {
  enum class Next { kSkip, kDescend };
  // Called for every entry of every folder visited (not for the starting folder itself), with the folder's
  // descriptor, the entry's name and its lstat. kDescend visits a folder's contents next (ignored for entries that are
  // not folders). An error ends the walk with it.
  std::function<Result<Next>(int dir_fd, const char* name, const struct stat& st)> on_entry;
  // Called (if set) once a folder's contents have all been visited, with its parent's descriptor and its name.
  std::function<Status(int parent_fd, const char* name)> on_leave;
};

// Walks the folder `dir_fd` (any descriptor of it, O_PATH too; it is left as it is). `what` names it in errors.
// Entries that vanish during the walk are skipped.
Status WalkTree(int dir_fd, std::string_view what, const TreeVisitor& visitor);

}  // namespace ferry::storage
