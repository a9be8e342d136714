#include "storage/home_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

namespace ferry::storage {
namespace {

// Bounded retries when the kernel reports a concurrent rename that could have confused ".." resolution.
constexpr int kMaxResolveAttempts = 8;

int OpenAt2(int dir_fd, const char* path, int flags, unsigned mode) {
  open_how how{};
  how.flags = static_cast<unsigned long long>(flags) | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN || attempt + 1 >= kMaxResolveAttempts) return static_cast<int>(fd);
  }
}

Result<std::string> ReadFdPath(int fd) {
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  std::string target(4096 + 64, '\0');
  const ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
  if (n < 0) return Status::FromErrno(errno, "resolving an open folder");
  if (static_cast<size_t>(n) >= target.size()) return Status(ErrorCode::kNameTooLong, "folder path too long");
  target.resize(static_cast<size_t>(n));
  return target;
}

}  // namespace

Result<HomeDir> HomeDir::Open(const std::string& server_path) {
  UniqueFd fd(::open(server_path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "opening home folder");
  auto real = ReadFdPath(fd.get());
  if (!real.ok()) return real.status();
  return HomeDir(std::move(fd), std::move(real).value());
}

std::string HomeDir::Join(std::string_view cwd, std::string_view path) {
  if (path.empty()) return std::string(cwd);
  if (path.front() == '/') return std::string(path);
  std::string joined(cwd);
  if (joined.empty() || joined.back() != '/') joined += '/';
  joined += path;
  return joined;
}

std::pair<std::string, std::string> HomeDir::SplitLast(std::string_view path) {
  // Trailing slashes and trailing "." components name the same entry: "a/b/./" is b.
  while (true) {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (!path.ends_with("/.")) break;
    path.remove_suffix(1);
  }
  if (path.empty() || path == ".") return {".", ""};
  if (path == "/") return {"/", ""};
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(path)};
  std::string parent(path.substr(0, slash));
  if (parent.empty()) parent = "/";
  return {std::move(parent), std::string(path.substr(slash + 1))};
}

Result<UniqueFd> HomeDir::OpenPath(std::string_view path, int flags, unsigned mode) const {
  const std::string relative = path.empty() ? std::string(".") : std::string(path);
  UniqueFd fd(OpenAt2(fd_.get(), relative.c_str(), flags, mode));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  return fd;
}

UniqueFd DirFd::TakeOwned() {
  if (owned_.valid()) {
    fd_ = -1;
    return std::move(owned_);
  }
  UniqueFd copy(fd_ >= 0 ? ::fcntl(fd_, F_DUPFD_CLOEXEC, 0) : -1);
  fd_ = -1;
  shared_.reset();
  return copy;
}

bool HomeDir::IsRoot(std::string_view path) {
  while (!path.empty()) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

Result<ParentAndName> HomeDir::OpenParent(std::string_view path) const {
  auto [parent_path, name] = SplitLast(path);
  if (name.empty() || name == "..") {
    return Status(ErrorCode::kInvalid, fmt::format("'{}' does not name an entry that can be changed", path));
  }
  // A name in the top level needs no resolution: the home's own descriptor is its parent.
  if (IsRoot(parent_path)) return ParentAndName{DirFd::Borrow(fd_.get()), std::move(name)};
  UniqueFd parent(OpenAt2(fd_.get(), parent_path.c_str(), O_PATH | O_DIRECTORY, 0));
  if (!parent.valid()) return Status::FromErrno(errno, path);
  return ParentAndName{DirFd(std::move(parent)), std::move(name)};
}

Result<std::string> HomeDir::VirtualPathOf(int dir_fd) const {
  if (dir_fd == fd_.get()) return std::string("/");
  auto real = ReadFdPath(dir_fd);
  if (!real.ok()) return real.status();
  const std::string& p = *real;
  if (p == real_path_) return std::string("/");
  if (p.size() > real_path_.size() && p.compare(0, real_path_.size(), real_path_) == 0 &&
      p[real_path_.size()] == '/' && !p.ends_with(" (deleted)")) {
    return p.substr(real_path_.size());
  }
  return Status(ErrorCode::kNotFound, "folder no longer exists");
}

}  // namespace ferry::storage
