// HomeDir: a user's home folder, and the only way Ferry turns a client's path into a file.
//
// Client paths are "virtual": "/" is the home, absolute paths start there, relative ones start at the session's
// current folder. Resolution is the kernel's: openat2(2) with RESOLVE_IN_ROOT against a descriptor of the home, so
// "..", absolute symlinks and symlinks swapped in mid-request all stay inside it; /proc magic links are refused.
// No path is ever checked as a string and then re-opened. Thread-compatible: const methods may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ferry::storage {

// An open folder of a home: a descriptor of its own, one shared with others (a session's cache of the folder it
// uploads into), or the home's own descriptor borrowed (for the top level, which needs no resolution). A borrowed
// one is valid while the HomeDir it came from lives.
class DirFd {
 public:
  DirFd() = default;
  explicit DirFd(UniqueFd owned) : owned_(std::move(owned)), fd_(owned_.get()) {}
  static DirFd Borrow(int fd) {
    DirFd dir;
    dir.fd_ = fd;
    return dir;
  }
  static DirFd Share(std::shared_ptr<const UniqueFd> shared) {
    DirFd dir;
    dir.fd_ = shared ? shared->get() : -1;
    dir.shared_ = std::move(shared);
    return dir;
  }
  DirFd(DirFd&& other) noexcept
      : owned_(std::move(other.owned_)), shared_(std::move(other.shared_)), fd_(std::exchange(other.fd_, -1)) {}
  DirFd& operator=(DirFd&& other) noexcept {
    owned_ = std::move(other.owned_);
    shared_ = std::move(other.shared_);
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // A descriptor of its own for the caller to keep: this one, or a duplicate of a borrowed or shared one (invalid if
  // the duplicate cannot be made; errno says why).
  UniqueFd TakeOwned();

 private:
  UniqueFd owned_;
  std::shared_ptr<const UniqueFd> shared_;
  int fd_ = -1;
};

// A directory descriptor plus one final name inside it, for operations on a name (mkdirat, unlinkat, renameat2).
struct ParentAndName {
  DirFd parent;
  std::string name;  // one component: never empty, ".", ".." nor containing '/'
};

class HomeDir {
 public:
  // Opens the folder at `server_path` (not following a final symlink). Fails if it is not a directory.
  static Result<HomeDir> Open(const std::string& server_path);

  HomeDir(HomeDir&&) = default;
  HomeDir& operator=(HomeDir&&) = default;

  // Joins `path` to `cwd` (a virtual absolute path) without touching the file system: an absolute `path` replaces
  // cwd, an empty one means cwd itself.
  static std::string Join(std::string_view cwd, std::string_view path);
  // Splits a virtual path into its parent and final component, lexically; "." components and repeated or
  // trailing slashes are dropped. The final component may be ".." (callers refuse it) and is empty for "/".
  static std::pair<std::string, std::string> SplitLast(std::string_view path);

  // Opens a virtual path with open(2) `flags` (O_CLOEXEC is added) and `mode` for O_CREAT, resolved in the home.
  Result<UniqueFd> OpenPath(std::string_view path, int flags, unsigned mode = 0) const;
  // Resolves the parent folder of a virtual path and returns it with the final name, for operations that act on
  // a name. EINVAL for "/" and for a final "." or ".."; `path` appears in messages exactly as given.
  Result<ParentAndName> OpenParent(std::string_view path) const;
  // True when a virtual path names the home itself by its form alone: only "/" and "." components.
  static bool IsRoot(std::string_view path);
  // The virtual path of an open directory inside this home ("/" for the home itself), read from the kernel.
  // ENOENT when it has been deleted or is not inside the home (e.g. moved out by an administrator).
  Result<std::string> VirtualPathOf(int dir_fd) const;

  int fd() const { return fd_.get(); }

 private:
  HomeDir(UniqueFd fd, std::string real_path) : fd_(std::move(fd)), real_path_(std::move(real_path)) {}

  UniqueFd fd_;
  std::string real_path_;  // the kernel's absolute path of the home when opened; never shown to clients
};

}  // namespace ferry::storage
