#include "service/partial_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "transfer/checksum.h"

namespace ferry::service {
namespace {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, path);
  return Status::Ok();
}

// The partial of an upload is named after the canonical target path, so a resumed upload finds it again.
std::string PartialName(std::string_view canonical_target) {
  transfer::Checksum key(transfer::ChecksumAlgorithm::kXxh3);
  key.Update(canonical_target);
  return key.HexDigest() + ".part";
}

// The process's umask, read once without changing it: umask(2) reads it only by setting it, which would race with
// other threads creating files. 0777 when it cannot be read, so that no mode is taken for granted. ferryd never
// changes its umask after it starts; were it to, a partial made with a mode would have to be set again.
mode_t CurrentUmask() {
  static const mode_t mask = [] {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (!line.starts_with("Umask:")) continue;
      try {
        return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8) & 0777);
      } catch (const std::exception&) {
        break;
      }
    }
    return static_cast<mode_t>(0777);
  }();
  return mask;
}

}  // namespace

Result<PartialStore> PartialStore::Open(const std::string& partials_root, std::string_view user,
                                        std::size_t max_kept) {
  const std::string path = partials_root + "/" + std::string(user);
  if (Status s = MakeDir(partials_root); !s.ok()) return s;
  if (Status s = MakeDir(path); !s.ok()) return s;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  // A default ACL (inherited from the data root, say) replaces the umask for files made here: then no mode is taken
  // for granted.
  errno = 0;
  const bool default_acl = ::fgetxattr(fd.get(), "system.posix_acl_default", nullptr, 0) >= 0 ||
                           (errno != ENODATA && errno != ENOTSUP);
  return PartialStore(std::move(fd), max_kept, default_acl ? static_cast<mode_t>(0777) : CurrentUmask());
}

Result<PartialStore::Locked> PartialStore::Lock(std::string_view canonical_target, mode_t mode) const {
  Locked locked;
  locked.name = PartialName(canonical_target);
  const bool as_asked = (mode & ~static_cast<mode_t>(0777)) == 0 && (mode & 0600) == 0600 && (mode & narrowing_) == 0;
  constexpr int kFlags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
  locked.file.Reset(::openat(fd_.get(), locked.name.c_str(), kFlags | O_EXCL, as_asked ? mode : 0600));
  const bool created = locked.file.valid();
  if (!created && errno == EEXIST) locked.file.Reset(::openat(fd_.get(), locked.name.c_str(), kFlags, 0600));
  if (!locked.file.valid()) return Status::FromErrno(errno, "creating the partial upload");
  if (::flock(locked.file.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status(ErrorCode::kBusy, fmt::format("another upload of {} is in progress", canonical_target));
  }
  locked.created = created;
  locked.mode_set = created && as_asked;
  if (created) {
    constexpr auto kLookAgain = std::chrono::seconds(1);
    const auto now = std::chrono::steady_clock::now();
    if (looked_ != std::chrono::steady_clock::time_point{} && now - looked_ < kLookAgain && counted_ + 1 <= max_kept_) {
      ++counted_;
    } else {
      locked.evicted_bytes = Evict(locked.name);
    }
  }
  return locked;
}

std::uint64_t PartialStore::Evict(const std::string& keep) const {
  struct Kept {
    std::string name;
    timespec modified;
  };
  // This runs for a new upload when the count could pass the bound (see counted_): the names alone (one getdents)
  // decide whether anything goes; only then is each partial looked at.
  std::vector<std::string> names;
  const int stream_fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (stream_fd < 0) return 0;
  DIR* dir = ::fdopendir(stream_fd);
  if (dir == nullptr) {
    ::close(stream_fd);
    return 0;
  }
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.' || entry->d_name == keep) continue;
    if (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) continue;
    names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  looked_ = std::chrono::steady_clock::now();
  counted_ = names.size() + 1;
  if (names.size() + 1 <= max_kept_) return 0;
  std::vector<Kept> kept;
  for (std::string& name : names) {
    struct stat st {};
    if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    kept.push_back({std::move(name), st.st_mtim});
  }
  if (kept.size() + 1 <= max_kept_) return 0;
  std::sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) {
    return a.modified.tv_sec != b.modified.tv_sec ? a.modified.tv_sec < b.modified.tv_sec
                                                  : a.modified.tv_nsec < b.modified.tv_nsec;
  });
  std::uint64_t freed = 0;
  std::size_t left = kept.size() + 1;
  for (const Kept& oldest : kept) {
    if (left <= max_kept_) break;
    UniqueFd file(::openat(fd_.get(), oldest.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (!file.valid() || ::fstat(file.get(), &st) != 0) continue;
    if (::flock(file.get(), LOCK_EX | LOCK_NB) != 0) continue;  // an upload is writing it
    if (::unlinkat(fd_.get(), oldest.name.c_str(), 0) != 0) continue;
    freed += static_cast<std::uint64_t>(st.st_size);
    --left;
  }
  counted_ = left;
  return freed;
}

Result<std::uint64_t> PartialStore::Size(std::string_view canonical_target) const {
  struct stat st {};
  if (::fstatat(fd_.get(), PartialName(canonical_target).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kNotFound, "no unfinished upload");
  }
  return static_cast<std::uint64_t>(st.st_size);
}

void PartialStore::Remove(const std::string& name) const { ::unlinkat(fd_.get(), name.c_str(), 0); }

int PartialStore::RemoveStale(const std::string& partials_root, std::int64_t max_age_seconds,
                              const std::function<void(const std::string&, std::uint64_t)>& removed_one) {
  int removed = 0;
  const auto now = std::chrono::system_clock::now();
  std::error_code error;
  for (const auto& user_dir : std::filesystem::directory_iterator(partials_root, error)) {
    std::error_code inner;
    if (!user_dir.is_directory(inner) || user_dir.is_symlink(inner)) continue;
    UniqueFd dir(::open(user_dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) continue;
    for (const auto& entry : std::filesystem::directory_iterator(user_dir.path(), inner)) {
      const std::string name = entry.path().filename().string();
      UniqueFd file(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      struct stat st {};
      if (!file.valid() || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const auto modified = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
      if (now - modified < std::chrono::seconds(max_age_seconds)) continue;
      if (::flock(file.get(), LOCK_EX | LOCK_NB) != 0) continue;  // an upload is writing it
      if (::unlinkat(dir.get(), name.c_str(), 0) != 0) continue;
      ++removed;
      if (removed_one) removed_one(user_dir.path().filename().string(), static_cast<std::uint64_t>(st.st_size));
    }
  }
  return removed;
}

}  // namespace ferry::service
