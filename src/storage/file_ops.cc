#include "storage/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "storage/tree_walk.h"

namespace ferry::storage {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirStream = std::unique_ptr<DIR, DirCloser>;

// A directory stream over its own duplicate of `dir_fd`, positioned at the start.
Result<DirStream> OpenDirStream(int dir_fd, std::string_view what) {
  const int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return Status::FromErrno(errno, what);
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup_fd);
    return Status::FromErrno(err, what);
  }
  return DirStream(dir);
}

bool IsDotOrDotDot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

FileInfo InfoFromStat(std::string name, const struct stat& st) {
  FileInfo info;
  info.name = std::move(name);
  if (S_ISREG(st.st_mode)) {
    info.type = FileType::kFile;
  } else if (S_ISDIR(st.st_mode)) {
    info.type = FileType::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    info.type = FileType::kSymlink;
  } else {
    info.type = FileType::kOther;
  }
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.mtime = st.st_mtim.tv_sec;
  info.mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
  info.nlink = st.st_nlink;
  info.device = static_cast<std::uint64_t>(st.st_dev);
  info.inode = static_cast<std::uint64_t>(st.st_ino);
  return info;
}

std::string BaseName(std::string_view virtual_path) {
  if (virtual_path == "/") return "/";
  return std::string(virtual_path.substr(virtual_path.rfind('/') + 1));
}

// The name of the folder an absolute path without ".." components names: its last component other than ".", or
// "/" for the root. Nothing when the path is relative or climbs (then only the kernel knows where it ends).
std::optional<std::string> LexicalFolderName(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::string_view last = "/";
  while (!path.empty()) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") last = part;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return std::string(last);
}

// Takes what `st` describes out of `change` (if any).
void Subtract(SpaceChange* change, const struct stat& st) {
  if (change == nullptr) return;
  if (S_ISREG(st.st_mode)) change->bytes -= static_cast<std::int64_t>(st.st_size);
  change->entries -= 1;
}

// Empties the folder `name` inside `parent_fd`, at any depth (storage/tree_walk.h). An entry is unlinked by name
// first and descended into only if that fails because it is a folder, so a symlink swapped in for a folder is removed,
// never followed.
Status EmptyTree(int parent_fd, const std::string& name, std::string_view what, SpaceChange* change) {
  UniqueFd dir_fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir_fd.valid()) return Status::FromErrno(errno, what);
  TreeVisitor remove;
  remove.on_entry = [what, change](int dir, const char* child, const struct stat& st) -> Result<TreeVisitor::Next> {
    if (::unlinkat(dir, child, 0) == 0) {
      Subtract(change, st);
      return TreeVisitor::Next::kSkip;
    }
    if (errno == ENOENT) return TreeVisitor::Next::kSkip;
    if (errno != EISDIR && errno != EPERM) return Status::FromErrno(errno, what);
    return TreeVisitor::Next::kDescend;
  };
  remove.on_leave = [what, change](int dir, const char* child) {
    if (::unlinkat(dir, child, AT_REMOVEDIR) != 0) {
      if (errno != ENOENT) return Status::FromErrno(errno, what);
    } else if (change != nullptr) {
      change->entries -= 1;
    }
    return Status::Ok();
  };
  return WalkTree(dir_fd.get(), what, remove);
}

}  // namespace

std::string_view FileTypeName(FileType type) {
  switch (type) {
    case FileType::kFile: return "file";
    case FileType::kDirectory: return "dir";
    case FileType::kSymlink: return "link";
    case FileType::kOther: break;
  }
  return "other";
}

Result<FileInfo> StatPath(const HomeDir& home, std::string_view path, bool follow) {
  const auto [parent_path, name] = HomeDir::SplitLast(path);
  if (name.empty() || name == "..") {
    // The folder itself ("/", ".", "a/.."): stat what it resolves to. The home's top level needs no resolution.
    if (HomeDir::IsRoot(path)) {
      struct stat st {};
      if (::fstat(home.fd(), &st) != 0) return Status::FromErrno(errno, path);
      return InfoFromStat("/", st);
    }
    auto fd = home.OpenPath(path, O_PATH);
    if (!fd.ok()) return fd.status();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Status::FromErrno(errno, path);
    // The folder's name: read off the path itself when it climbs nowhere (no ".."), else asked of the kernel.
    if (auto lexical = LexicalFolderName(path)) return InfoFromStat(*lexical, st);
    auto virtual_path = home.VirtualPathOf(fd->get());
    return InfoFromStat(virtual_path.ok() ? BaseName(*virtual_path) : std::string(name), st);
  }
  if (follow || path.back() == '/' || path.ends_with("/.")) {
    // "link/" and "link/." name what the link leads to, as in POSIX path resolution, not the link itself.
    auto fd = home.OpenPath(path, O_PATH);
    if (!fd.ok()) return fd.status();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Status::FromErrno(errno, path);
    return InfoFromStat(name, st);
  }
  auto parent = home.OpenParent(path);
  if (!parent.ok()) return parent.status();
  struct stat st {};
  if (::fstatat(parent->parent.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno(errno, path);
  }
  return InfoFromStat(parent->name, st);
}

void DirectoryLister::DirCloser::operator()(void* dir) const { ::closedir(static_cast<DIR*>(dir)); }

Result<DirectoryLister> DirectoryLister::Open(const HomeDir& home, std::string_view path) {
  auto dir_fd = home.OpenPath(path, O_RDONLY | O_DIRECTORY);
  if (!dir_fd.ok()) return dir_fd.status();
  auto stream = OpenDirStream(dir_fd->get(), path);
  if (!stream.ok()) return stream.status();
  return DirectoryLister(std::move(dir_fd).value(), stream->release(), std::string(path));
}

Result<std::vector<FileInfo>> DirectoryLister::Next(std::size_t max_entries) {
  auto* dir = static_cast<DIR*>(dir_.get());
  std::vector<FileInfo> batch;
  errno = 0;
  while (batch.size() < max_entries) {
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    if (IsDotOrDotDot(entry->d_name)) continue;
    struct stat st {};
    if (::fstatat(fd_.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {  // removed while we listed
        errno = 0;
        continue;
      }
      return Status::FromErrno(errno, path_);
    }
    batch.push_back(InfoFromStat(entry->d_name, st));
    errno = 0;
  }
  if (errno != 0) return Status::FromErrno(errno, path_);
  return batch;
}

Status ListDirectory(const HomeDir& home, std::string_view path, std::size_t batch_size,
                     const std::function<void(std::vector<FileInfo>&&)>& sink) {
  auto lister = DirectoryLister::Open(home, path);
  if (!lister.ok()) return lister.status();
  while (true) {
    auto batch = lister->Next(batch_size);
    if (!batch.ok()) return batch.status();
    const bool last = batch->size() < batch_size;
    if (!batch->empty() || last) sink(std::move(batch).value());
    if (last) return Status::Ok();
  }
}

Result<std::string> ResolveDirectory(const HomeDir& home, std::string_view path) {
  auto fd = home.OpenPath(path, O_PATH | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  return home.VirtualPathOf(fd->get());
}

std::uint64_t ComponentCount(std::string_view path) {
  std::uint64_t count = 0;
  bool in_name = false;
  for (const char c : path) {
    if (c != '/' && !in_name) ++count;
    in_name = c != '/';
  }
  return count;
}

Status MakeDirectory(const HomeDir& home, std::string_view path, bool parents, SpaceChange* change,
                     std::uint64_t max_new) {
  constexpr mode_t kFolderMode = 0755;
  std::uint64_t created = 0;
  const auto over_quota = [&] {
    return Status(ErrorCode::kQuota, fmt::format("creating {} would exceed your file-count quota", path));
  };
  if (!parents) {
    auto target = home.OpenParent(path);
    if (!target.ok()) return target.status();
    if (max_new == 0) return over_quota();
    if (::mkdirat(target->parent.get(), target->name.c_str(), kFolderMode) != 0) return Status::FromErrno(errno, path);
    if (change != nullptr) change->entries += 1;
    return Status::Ok();
  }
  // mkdir -p: create each missing ancestor in turn, resolving every prefix afresh inside the home.
  std::size_t end = 0;
  while (end < path.size()) {
    end = path.find('/', end + 1);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view prefix = path.substr(0, end);
    const auto [parent_path, name] = HomeDir::SplitLast(prefix);
    if (name.empty() || name == "..") continue;
    auto target = home.OpenParent(prefix);
    if (!target.ok()) return Status(target.status().code(), target.status().message());
    struct stat st {};
    if (created >= max_new && ::fstatat(target->parent.get(), target->name.c_str(), &st, 0) != 0) {
      return over_quota();
    }
    if (::mkdirat(target->parent.get(), target->name.c_str(), kFolderMode) == 0) {
      ++created;
      if (change != nullptr) change->entries += 1;
      continue;
    }
    if (errno != EEXIST) return Status::FromErrno(errno, prefix);
    auto existing = home.OpenPath(prefix, O_PATH | O_DIRECTORY);
    if (!existing.ok()) return Status(existing.status().code(), existing.status().message());
  }
  return Status::Ok();
}

Status RemoveDirectory(const HomeDir& home, std::string_view path, SpaceChange* change) {
  auto target = home.OpenParent(path);
  if (!target.ok()) return target.status();
  if (::unlinkat(target->parent.get(), target->name.c_str(), AT_REMOVEDIR) != 0) {
    return Status::FromErrno(errno, path);
  }
  if (change != nullptr) change->entries -= 1;
  return Status::Ok();
}

Status RemovePath(const HomeDir& home, std::string_view path, bool recursive, SpaceChange* change) {
  auto target = home.OpenParent(path);
  if (!target.ok()) return target.status();
  const int parent_fd = target->parent.get();
  const char* name = target->name.c_str();
  struct stat st {};
  if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return Status::FromErrno(errno, path);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent_fd, name, 0) != 0) return Status::FromErrno(errno, path);
    Subtract(change, st);
    return Status::Ok();
  }
  if (!recursive) return Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", path));
  Status emptied = EmptyTree(parent_fd, target->name, path, change);
  if (!emptied.ok()) return emptied;
  if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0) return Status::FromErrno(errno, path);
  if (change != nullptr) change->entries -= 1;
  return Status::Ok();
}

Status SetAttributes(const HomeDir& home, std::string_view path, std::optional<std::uint32_t> mode,
                     std::optional<timespec> mtime, bool follow) {
  if (!follow) {
    auto parent = home.OpenParent(path);
    if (!parent.ok()) return parent.status();
    struct stat st {};
    if (::fstatat(parent->parent.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno(errno, path);
    }
    if (S_ISLNK(st.st_mode)) {
      if (mode) return Status(ErrorCode::kNotSupported, fmt::format("{}: a link has no permissions of its own", path));
      if (mtime) {
        const timespec times[2] = {{0, UTIME_OMIT}, *mtime};
        if (::utimensat(parent->parent.get(), parent->name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
          return Status::FromErrno(errno, path);
        }
      }
      return Status::Ok();
    }
  }
  // O_NONBLOCK: a FIFO must not stall the session.
  auto fd = home.OpenPath(path, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return fd.status();
  if (mode) {
    // The home's own mode is the server's business: without its owner's permissions no session could open it again.
    struct stat target {};
    struct stat root {};
    if (::fstat(fd->get(), &target) == 0 && ::fstat(home.fd(), &root) == 0 && target.st_dev == root.st_dev &&
        target.st_ino == root.st_ino) {
      return Status(ErrorCode::kNotPermitted, "the permissions of your home folder cannot be changed");
    }
  }
  if (mode && ::fchmod(fd->get(), *mode & 0777) != 0) return Status::FromErrno(errno, path);
  if (mtime) {
    const timespec times[2] = {{0, UTIME_OMIT}, *mtime};
    if (::futimens(fd->get(), times) != 0) return Status::FromErrno(errno, path);
  }
  return Status::Ok();
}

Status Rename(const HomeDir& home, std::string_view from, std::string_view to, bool overwrite, SpaceChange* change,
              RenameTarget how) {
  auto source = home.OpenParent(from);
  if (!source.ok()) return source.status();
  DirFd target_parent;
  std::string target_name;
  std::string target_shown(to);  // the target as errors name it
  auto into = how == RenameTarget::kIntoFolder ? home.OpenPath(to, O_PATH | O_DIRECTORY)
                                               : Result<UniqueFd>(Status(ErrorCode::kNotDirectory, "not asked"));
  if (into.ok()) {
    target_parent = DirFd(std::move(into).value());
    target_name = source->name;
    if (target_shown.empty() || target_shown.back() != '/') target_shown += '/';
    target_shown += target_name;
    // Moving a name into the folder that already holds it: nothing to move.
    struct stat from_dir {};
    struct stat to_dir {};
    if (::fstat(source->parent.get(), &from_dir) == 0 && ::fstat(target_parent.get(), &to_dir) == 0 &&
        from_dir.st_dev == to_dir.st_dev && from_dir.st_ino == to_dir.st_ino) {
      return Status(ErrorCode::kInvalid, fmt::format("'{}' and '{}' are the same file", from, target_shown));
    }
  } else {
    auto target = home.OpenParent(to);
    if (!target.ok()) return target.status();
    target_parent = std::move(target->parent);
    target_name = std::move(target->name);
  }
  const unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  struct stat replaced {};
  const bool replacing = overwrite && change != nullptr &&
                         ::fstatat(target_parent.get(), target_name.c_str(), &replaced, AT_SYMLINK_NOFOLLOW) == 0;
  if (::renameat2(source->parent.get(), source->name.c_str(), target_parent.get(), target_name.c_str(), flags) != 0) {
    const int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return Status(ErrorCode::kExists, fmt::format("target exists: {}", target_shown));
    }
    return Status::FromErrno(err, from);
  }
  if (replacing) {
    // Renaming a name onto itself (or onto another link to the same file) removes nothing.
    struct stat source_now {};
    const bool same = ::fstatat(target_parent.get(), target_name.c_str(), &source_now, AT_SYMLINK_NOFOLLOW) == 0 &&
                      source_now.st_ino == replaced.st_ino && source_now.st_dev == replaced.st_dev;
    if (!same) Subtract(change, replaced);
  }
  return Status::Ok();
}

Result<std::string> ReadLink(const HomeDir& home, std::string_view path) {
  auto parent = home.OpenParent(path);
  if (!parent.ok()) return parent.status();
  std::string text(PATH_MAX, '\0');
  const ssize_t n = ::readlinkat(parent->parent.get(), parent->name.c_str(), text.data(), text.size());
  if (n < 0) return Status::FromErrno(errno, path);
  text.resize(static_cast<std::size_t>(n));
  return text;
}

namespace {

// The components of an absolute path with "." and ".." applied; nullopt when ".." would climb above "/".
std::optional<std::vector<std::string_view>> Components(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  return parts;
}

}  // namespace

Result<std::string> LinkText(std::string_view link_folder, std::string_view target) {
  if (target.empty()) return Status(ErrorCode::kInvalid, "a link needs a target");
  if (target.find('\0') != std::string_view::npos) return Status(ErrorCode::kInvalid, "a link target may not hold NUL");
  const std::string absolute =
      target.front() == '/' ? std::string(target) : std::string(link_folder) + "/" + std::string(target);
  const auto folder = Components(link_folder);
  const auto to = Components(absolute);
  if (!folder || !to) {
    return Status(ErrorCode::kAccessDenied, fmt::format("'{}' leads out of your home: a link must stay inside it", target));
  }
  std::size_t common = 0;
  while (common < folder->size() && common < to->size() && (*folder)[common] == (*to)[common]) ++common;
  std::string text;
  for (std::size_t i = common; i < folder->size(); ++i) text += text.empty() ? ".." : "/..";
  for (std::size_t i = common; i < to->size(); ++i) {
    if (!text.empty()) text += '/';
    text.append((*to)[i]);
  }
  if (text.empty()) text = ".";
  if (text.size() >= PATH_MAX) return Status(ErrorCode::kNameTooLong, "link target too long");
  return text;
}

Status MakeSymlink(const HomeDir& home, std::string_view path, std::string_view target, SpaceChange* change) {
  auto parent = home.OpenParent(path);
  if (!parent.ok()) return parent.status();
  auto folder = home.VirtualPathOf(parent->parent.get());
  if (!folder.ok()) return folder.status();
  auto text = LinkText(*folder, target);
  if (!text.ok()) return text.status();
  if (::symlinkat(text->c_str(), parent->parent.get(), parent->name.c_str()) != 0) {
    return Status::FromErrno(errno, path);
  }
  if (change != nullptr) change->entries += 1;
  return Status::Ok();
}

}  // namespace ferry::storage
