#include "server/data_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "server/tls_identity.h"

namespace ferry::server {
namespace {

Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return Status::FromErrno(errno, path);
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno(errno, path);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::FromErrno(err, path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Status::FromErrno(errno, path);
  return Status::Ok();
}

}  // namespace

DataRoot::DataRoot(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

std::string DataRoot::Resolve(const std::string& path) const {
  if (!path.empty() && path.front() == '/') return path;
  return dir_ + "/" + path;
}

Status DataRoot::Init(const std::string& dir) {
  const DataRoot root(dir);
  if (::access(root.database_path().c_str(), F_OK) == 0) {
    return Status(ErrorCode::kExists, fmt::format("{} is already a data root", dir));
  }
  // The folders above the data root are made as mkdir -p makes them; the data root itself is private.
  if (const auto parent = std::filesystem::path(root.dir()).parent_path(); !parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) return Status(ErrorCode::kIo, fmt::format("creating {}: {}", parent.string(), error.message()));
  }
  if (Status s = MakeDir(root.dir(), 0700); !s.ok()) return s;
  if (Status s = MakeDir(root.homes_path(), 0711); !s.ok()) return s;
  if (Status s = MakeDir(root.partials_path(), 0700); !s.ok()) return s;
  if (Status s = MakeDir(root.dir() + "/tls", 0700); !s.ok()) return s;
  if (Status s = GenerateSelfSignedIdentity(root.Resolve("tls/cert.pem"), root.Resolve("tls/key.pem"), "ferryd");
      !s.ok()) {
    return s;
  }
  if (auto key = root.EnsureHostKey(); !key.ok()) return key.status();
  if (::access(root.config_path().c_str(), F_OK) != 0) {
    if (Status s = WriteNewFile(root.config_path(), ServerConfig::DefaultFileText(), 0644); !s.ok()) return s;
  }
  auto users = storage::UserStore::Open(root.database_path(), /*create=*/true);
  if (!users.ok()) return users.status();
  return Status::Ok();
}

Result<storage::SshPublicKey> DataRoot::EnsureHostKey(bool* created) const {
  if (created != nullptr) *created = false;
  const std::string path = host_key_path();
  if (::access(path.c_str(), F_OK) == 0) return storage::ReadHostKey(path);
  if (Status s = MakeDir(dir_ + "/ssh", 0700); !s.ok()) return s;
  auto key = storage::CreateHostKey(path, "ferryd");
  if (key.ok() && created != nullptr) *created = true;
  if (!key.ok() && key.status().code() == ErrorCode::kExists) return storage::ReadHostKey(path);  // made meanwhile
  return key;
}

Result<std::unique_ptr<storage::UserStore>> DataRoot::OpenUsers() const {
  auto users = storage::UserStore::Open(database_path(), /*create=*/false);
  if (!users.ok() && users.status().code() == ErrorCode::kNotFound) {
    return Status(ErrorCode::kNotFound,
                  fmt::format("{} is not a data root (create one with: ferryd init {})", dir_, dir_));
  }
  return users;
}

Status DataRoot::AddUser(std::string_view name, std::string_view password, const storage::PasswordHashCost& cost,
                         const storage::UserPermissions& permissions, const storage::UserQuota& quota,
                         bool adopt_home) const {
  if (Status s = storage::UserStore::ValidateName(name); !s.ok()) return s;
  if (password.empty()) return Status(ErrorCode::kInvalid, "the password must not be empty");
  auto users = OpenUsers();
  if (!users.ok()) return users.status();
  if (Status s = (*users)->CheckAbsent(name); !s.ok()) return s;
  // A folder already there (left by a removed user, or made by hand) is given to the new user only when asked.
  const std::string home = home_of(name);
  struct stat existing {};
  const bool exists = ::lstat(home.c_str(), &existing) == 0;
  if (exists && !adopt_home) {
    return Status(ErrorCode::kExists,
                  fmt::format("{} exists already (the home of a removed user?): remove it, or pass --adopt-home to "
                              "give it and its files to {}",
                              home, name));
  }
  if (exists && !S_ISDIR(existing.st_mode)) return Status(ErrorCode::kNotDirectory, fmt::format("{} is not a folder", home));
  if (!exists) {
    if (::mkdir(home.c_str(), 0700) != 0) return Status::FromErrno(errno, home);
  }
  // Nothing is left behind when a step fails: neither the account nor a home made for it.
  Status status = (*users)->Add(name, password, cost);
  if (status.ok()) {
    status = (*users)->SetPermissions(name, permissions.read_only, permissions.can_exec);
    if (status.ok()) status = (*users)->SetQuota(name, quota.max_bytes, quota.max_files);
    if (!status.ok()) (void)(*users)->Remove(name);
  }
  if (!status.ok() && !exists) ::rmdir(home.c_str());
  return status;
}

Status DataRoot::RemoveUser(std::string_view name, bool remove_home) const {
  auto users = OpenUsers();
  if (!users.ok()) return users.status();
  if (Status s = (*users)->Remove(name); !s.ok()) return s;
  if (remove_home) {
    std::error_code error;
    std::filesystem::remove_all(partials_of(name), error);
    std::filesystem::remove_all(home_of(name), error);
    if (error) return Status(ErrorCode::kIo, fmt::format("removing {}: {}", home_of(name), error.message()));
  }
  return Status::Ok();
}

storage::PasswordHashCost HashCostFor(const ServerConfig& config) {
  return config.password_hash == "moderate" ? storage::PasswordHashCost::Moderate()
                                            : storage::PasswordHashCost::Interactive();
}

}  // namespace ferry::server
