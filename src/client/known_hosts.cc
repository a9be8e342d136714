#include "client/known_hosts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace ferry::client {

std::string KnownHosts::DefaultPath() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.ferry/known_hosts";
}

namespace {

struct Entry {
  std::string host;  // "" for comments and lines without two fields
  std::string fingerprint;
};

Entry Parse(const std::string& line) {
  std::istringstream fields(line);
  Entry entry;
  if (!(fields >> entry.host >> entry.fingerprint) || entry.host.starts_with('#')) return {};
  return entry;
}

// The file's lines, in order; none when it does not exist.
Result<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::vector<std::string>();
    return Status::FromErrno(errno, path);
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

}  // namespace

Result<std::optional<std::string>> KnownHosts::Lookup(const std::string& host_port) const {
  auto lines = ReadLines(path_);
  if (!lines.ok()) return lines.status();
  for (const std::string& line : *lines) {
    Entry entry = Parse(line);
    if (entry.host == host_port) return std::optional<std::string>(std::move(entry.fingerprint));
  }
  return std::optional<std::string>();
}

Result<std::size_t> KnownHosts::LineOf(const std::string& host_port) const {
  auto lines = ReadLines(path_);
  if (!lines.ok()) return lines.status();
  for (std::size_t i = 0; i < lines->size(); ++i) {
    if (Parse((*lines)[i]).host == host_port) return i + 1;
  }
  return std::size_t{0};
}

Result<std::size_t> KnownHosts::Forget(const std::string& host_port) const {
  auto lines = ReadLines(path_);
  if (!lines.ok()) return lines.status();
  std::string kept;
  std::size_t removed = 0;
  for (const std::string& line : *lines) {
    if (Parse(line).host == host_port) {
      ++removed;
    } else {
      kept += line + "\n";
    }
  }
  if (removed == 0) return removed;
  struct stat st {};
  const mode_t mode = ::stat(path_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
  const std::string temporary = path_ + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::FromErrno(errno, temporary);
  const ssize_t n = ::write(fd, kept.data(), kept.size());
  const int err = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(kept.size()) || !synced) {
    ::unlink(temporary.c_str());
    return Status::FromErrno(n < 0 ? err : EIO, temporary);
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temporary.c_str());
    return Status::FromErrno(rename_errno, path_);
  }
  return removed;
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
