#include "storage/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry::storage {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// A folder the walk is inside: who it is, its name in its parent, and its sub-folders not visited yet.
struct Level {
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;
  std::vector<std::string> folders_left;
};

bool Same(const struct stat& st, const Level& level) { return st.st_dev == level.dev && st.st_ino == level.ino; }

// Calls on_entry for each entry of the folder `fd`, keeping the names of the folders to descend into.
Status VisitEntries(int fd, std::string_view what, const TreeVisitor& visitor, Level& level) {
  const int stream_fd = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (stream_fd < 0) return Status::FromErrno(errno, what);
  std::unique_ptr<DIR, DirCloser> stream(::fdopendir(stream_fd));
  if (!stream) {
    const int err = errno;
    ::close(stream_fd);
    return Status::FromErrno(err, what);
  }
  errno = 0;
  while (const dirent* entry = ::readdir(stream.get())) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return Status::FromErrno(errno, what);
      errno = 0;
      continue;
    }
    auto next = visitor.on_entry(fd, entry->d_name, st);
    if (!next.ok()) return next.status();
    if (*next == TreeVisitor::Next::kDescend) level.folders_left.emplace_back(name);
    errno = 0;  // readdir reports its own failure only through errno
  }
  if (errno != 0) return Status::FromErrno(errno, what);
  return Status::Ok();
}

Status Moved(std::string_view what) {
  return Status(ErrorCode::kBusy, fmt::format("{}: a folder was moved while the tree was being walked; try again", what));
}

}  // namespace

Status WalkTree(int dir_fd, std::string_view what, const TreeVisitor& visitor) {
  UniqueFd current(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!current.valid()) return Status::FromErrno(errno, what);
  struct stat st {};
  if (::fstat(current.get(), &st) != 0) return Status::FromErrno(errno, what);
  std::vector<Level> levels;
  levels.push_back(Level{st.st_dev, st.st_ino, {}, {}});
  if (Status s = VisitEntries(current.get(), what, visitor, levels.back()); !s.ok()) return s;
  while (true) {
    Level& level = levels.back();
    if (!level.folders_left.empty()) {
      const std::string name = std::move(level.folders_left.back());
      level.folders_left.pop_back();
      UniqueFd child(::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) {
        if (errno == ENOENT) continue;  // gone meanwhile
        return Status::FromErrno(errno, what);
      }
      if (::fstat(child.get(), &st) != 0) return Status::FromErrno(errno, what);
      current = std::move(child);
      levels.push_back(Level{st.st_dev, st.st_ino, name, {}});
      if (Status s = VisitEntries(current.get(), what, visitor, levels.back()); !s.ok()) return s;
      continue;
    }
    if (levels.size() == 1) return Status::Ok();
    // Done with this folder: up to the one it was entered from, if ".." still is that one.
    const std::string name = std::move(level.name);
    levels.pop_back();
    UniqueFd parent(::openat(current.get(), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!parent.valid()) return Status::FromErrno(errno, what);
    if (::fstat(parent.get(), &st) != 0) return Status::FromErrno(errno, what);
    if (!Same(st, levels.back())) return Moved(what);
    current = std::move(parent);
    if (visitor.on_leave) {
      if (Status s = visitor.on_leave(current.get(), name.c_str()); !s.ok()) return s;
    }
  }
}

}  // namespace ferry::storage
