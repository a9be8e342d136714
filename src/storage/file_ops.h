// File-system operations on virtual paths inside a HomeDir. Every call resolves through the HomeDir and then works
// only with descriptors and single names (fstatat, mkdirat, unlinkat, renameat2), so nothing can be redirected
// outside the home between resolution and use. Errors name the path as the client gave it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/home_dir.h"

namespace ferry::storage {

enum class FileType { kFile, kDirectory, kSymlink, kOther };

// "file", "dir", "link", "other": the names used on the wire.
std::string_view FileTypeName(FileType type);

struct FileInfo {
  std::string name;  // final component; "/" for the home itself
  FileType type = FileType::kOther;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;        // permission bits only (07777)
  std::int64_t mtime = 0;        // seconds since the epoch
  std::uint32_t mtime_nsec = 0;  // nanoseconds within the second
  std::uint64_t nlink = 0;
  std::uint64_t device = 0;  // with `inode`, what tells entries apart (FTP's "unique" fact)
  std::uint64_t inode = 0;
};

// What an operation added to (positive) or took from (negative) a home: bytes of regular files and entries (files,
// folders, links). Operations that report one add to it even when they fail part-way.
struct SpaceChange {
  std::int64_t bytes = 0;
  std::int64_t entries = 0;
};

// Information about the entry itself (a symlink is reported as a link, not followed); with `follow`, about what a
// symlink leads to inside the home, under the link's name.
Result<FileInfo> StatPath(const HomeDir& home, std::string_view path, bool follow = false);

// Reads a folder a batch at a time, so a session can send each batch before reading the next and memory stays
// bounded however large the folder is. Entries come in directory order without "." and "..".
class DirectoryLister {
 public:
  // ENOTDIR if `path` is not a folder.
  static Result<DirectoryLister> Open(const HomeDir& home, std::string_view path);

  // Up to `max_entries` further entries; an empty vector once the folder is exhausted.
  Result<std::vector<FileInfo>> Next(std::size_t max_entries);

 private:
  struct DirCloser {
    void operator()(void* dir) const;
  };
  DirectoryLister(UniqueFd fd, void* dir, std::string path)
      : fd_(std::move(fd)), dir_(dir), path_(std::move(path)) {}

  UniqueFd fd_;
  std::unique_ptr<void, DirCloser> dir_;  // DIR*, reading its own duplicate of fd_
  std::string path_;                      // as the client named it, for messages
};

// Lists a folder, calling `sink` with batches of at most `batch_size` entries in directory order (the last batch is
// the first one smaller than `batch_size`, possibly empty), so memory stays
// bounded however large the folder; callers sort. "." and ".." are omitted. ENOTDIR if `path` is not a folder.
Status ListDirectory(const HomeDir& home, std::string_view path, std::size_t batch_size,
                     const std::function<void(std::vector<FileInfo>&&)>& sink);

// The virtual path of the folder `path` names (following symlinks inside the home): what cd moves to.
Result<std::string> ResolveDirectory(const HomeDir& home, std::string_view path);

// Creates a folder (mode 0755 less the umask). With `parents`, creates missing ancestors and succeeds if the
// folder exists, like mkdir -p. Creates at most `max_new` folders (EQUOTA beyond); counts them in `change`.
Status MakeDirectory(const HomeDir& home, std::string_view path, bool parents, SpaceChange* change = nullptr,
                     std::uint64_t max_new = UINT64_MAX);

// The number of path components of `path`: the most folders mkdir -p can create for it.
std::uint64_t ComponentCount(std::string_view path);

// Removes an empty folder. ENOTEMPTY if it is not empty, ENOTDIR if it is not a folder.
Status RemoveDirectory(const HomeDir& home, std::string_view path, SpaceChange* change = nullptr);

// Removes a file or symlink; with `recursive`, also a folder and everything below it (symlinks are removed, never
// followed), at any depth. EISDIR for a folder without `recursive`. The home itself can never be removed. What was
// removed is subtracted in `change`, also when the removal stops part-way.
Status RemovePath(const HomeDir& home, std::string_view path, bool recursive, SpaceChange* change = nullptr);

// Sets the permission bits (setuid, setgid and sticky bits are dropped) and/or the modification time of the file or
// folder `path` names (following symlinks inside the home). Without `follow`, a symlink `path` names is changed
// itself: its time can be set; it has no permission bits of its own (EOPNOTSUPP).
Status SetAttributes(const HomeDir& home, std::string_view path, std::optional<std::uint32_t> mode,
                     std::optional<timespec> mtime, bool follow = true);

// The text of the symbolic link `path` names (the link is not followed). EINVAL when it is not a link.
Result<std::string> ReadLink(const HomeDir& home, std::string_view path);

// Where a symbolic link made at `path` to `target` leads, as the link's text: `target` is a path of the home,
// absolute (from the home's top) or relative to the link's folder `link_folder` (a virtual path without links in
// it), and is kept relative to that folder, so the link leads to the same place for every front end and for programs
// in the exec sandbox (which see the home elsewhere). EACCES when it would lead above the home.
Result<std::string> LinkText(std::string_view link_folder, std::string_view target);

// Makes `path` a symbolic link to `target` (see LinkText). EEXIST if `path` exists. One entry is added in `change`.
Status MakeSymlink(const HomeDir& home, std::string_view path, std::string_view target, SpaceChange* change = nullptr);

// How Rename takes its target: as mv does (an existing folder receives `from` under its own name), or as rename(2)
// does (the target is the new name itself, whatever is there).
enum class RenameTarget { kIntoFolder, kExactName };

// Renames `from` to `to`. If `to` is an existing folder, `from` moves into it under its own name (like mv), unless
// `how` is kExactName. An existing target is replaced only with `overwrite` (a folder only when empty, as rename(2)
// does); otherwise EEXIST. Moving a folder into itself is EINVAL. A replaced target is subtracted in `change`.
Status Rename(const HomeDir& home, std::string_view from, std::string_view to, bool overwrite,
              SpaceChange* change = nullptr, RenameTarget how = RenameTarget::kIntoFolder);

}  // namespace ferry::storage
