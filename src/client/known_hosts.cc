#include "client/known_hosts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ferry::client {

std::string KnownHosts::DefaultPath() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.ferry/known_hosts";
}

Result<std::optional<std::string>> KnownHosts::Lookup(const std::string& host_port) const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::FromErrno(errno, path_);
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string host;
    std::string fingerprint;
    if (!(fields >> host >> fingerprint) || host.starts_with('#')) continue;
    if (host == host_port) return std::optional<std::string>(fingerprint);
  }
  return std::optional<std::string>();
}

Status KnownHosts::Add(const std::string& host_port, const std::string& fingerprint) const {
  const auto slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path_.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, dir);
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, path_);
  const std::string line = fmt::format("{} {}\n", host_port, fingerprint);
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) return Status::FromErrno(n < 0 ? err : EIO, path_);
  return Status::Ok();
}

}  // namespace ferry::client
