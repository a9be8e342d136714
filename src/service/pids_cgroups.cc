#include "service/pids_cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace ferry::service {
namespace {

// How long removing a program's cgroup waits for its last processes to die before it is left for later; and how
// long the server's going waits for all of them.
constexpr auto kRemoveWait = std::chrono::milliseconds(100);
constexpr auto kFinalWait = std::chrono::seconds(2);

std::string ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

Status WriteFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return Status::FromErrno(errno, path);
  }
  return Status::Ok();
}

bool HasWord(std::string_view text, std::string_view word) {
  std::size_t at = 0;
  while ((at = text.find(word, at)) != std::string_view::npos) {
    const bool starts = at == 0 || text[at - 1] == ' ' || text[at - 1] == '\n';
    const std::size_t end = at + word.size();
    if (starts && (end == text.size() || text[end] == ' ' || text[end] == '\n')) return true;
    at = end;
  }
  return false;
}

// Subfolders of `path` (cgroups), by name.
std::vector<std::string> Children(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

// Kills what is in the cgroup and removes it, waiting up to `wait` for its processes to die; false if it stays.
bool KillAndRemove(const std::string& path, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    for (const auto& child : Children(path)) KillAndRemove(path + "/" + child, std::chrono::milliseconds(0));
    PidsCgroups::KillAll(path);
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Removes the cgroups of servers that are gone (killed before they could remove their own).
void SweepStale(const std::string& base) {
  for (const auto& name : Children(base)) {
    if (name.rfind("ferryd-", 0) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + 7, &end, 10);
    if (end == nullptr || *end != '\0' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // that server still runs
    KillAndRemove(base + "/" + name, std::chrono::milliseconds(0));
  }
}

}  // namespace

Result<std::unique_ptr<PidsCgroups>> PidsCgroups::Create(unsigned max_processes, const std::string& root) {
  std::string base;
  bool v2 = false;
  if (HasWord(ReadSmallFile(root + "/cgroup.controllers"), "pids")) {
    base = root;
    v2 = true;
  } else if (::access((root + "/pids/cgroup.procs").c_str(), F_OK) == 0) {
    base = root + "/pids";
  } else {
    return Status(ErrorCode::kNotSupported,
                  fmt::format("no pids cgroup controller is mounted (neither cgroup v2 with pids at {0} nor v1 at "
                              "{0}/pids)", root));
  }
  SweepStale(base);
  if (v2 && !HasWord(ReadSmallFile(base + "/cgroup.subtree_control"), "pids")) {
    if (Status s = WriteFile(base + "/cgroup.subtree_control", "+pids"); !s.ok()) return s;
  }
  const std::string path = fmt::format("{}/ferryd-{}", base, ::getpid());
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Status::FromErrno(errno, "creating " + path);
  std::unique_ptr<PidsCgroups> cgroups(new PidsCgroups(path, v2, max_processes));
  if (v2) {
    if (Status s = WriteFile(path + "/cgroup.subtree_control", "+pids"); !s.ok()) return s;
  }
  // Try one program's cgroup now, so that a controller that cannot be used is found at start.
  auto probe = cgroups->Add();
  if (!probe.ok()) return probe.status();
  cgroups->Remove(*probe);
  return cgroups;
}

PidsCgroups::~PidsCgroups() {
  std::lock_guard lock(mutex_);
  KillAndRemove(path_, std::chrono::duration_cast<std::chrono::milliseconds>(kFinalWait));
}

Result<ProgramCgroup> PidsCgroups::Add() {
  std::lock_guard lock(mutex_);
  RemoveLeftovers();
  ProgramCgroup cgroup;
  cgroup.path = fmt::format("{}/program-{}", path_, next_++);
  if (::mkdir(cgroup.path.c_str(), 0755) != 0) return Status::FromErrno(errno, "creating " + cgroup.path);
  if (Status s = WriteFile(cgroup.path + "/pids.max", std::to_string(max_processes_)); !s.ok()) {
    ::rmdir(cgroup.path.c_str());
    return s;
  }
  cgroup.procs.Reset(::open((cgroup.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!cgroup.procs.valid()) {
    const Status failed = Status::FromErrno(errno, cgroup.path + "/cgroup.procs");
    ::rmdir(cgroup.path.c_str());
    return failed;
  }
  return cgroup;
}

void PidsCgroups::Remove(ProgramCgroup& cgroup) {
  if (cgroup.path.empty()) return;
  cgroup.procs.Reset();
  if (!KillAndRemove(cgroup.path, kRemoveWait)) {
    std::lock_guard lock(mutex_);
    leftovers_.push_back(cgroup.path);
  }
  cgroup.path.clear();
}

void PidsCgroups::RemoveLeftovers() {
  std::erase_if(leftovers_, [](const std::string& path) { return KillAndRemove(path, std::chrono::milliseconds(0)); });
}

void PidsCgroups::KillAll(const std::string& path) {
  // cgroup v2 since Linux 5.14 kills the whole cgroup at once, new forks included.
  if (WriteFile(path + "/cgroup.kill", "1").ok()) return;
  // Otherwise one by one, a few rounds for processes forked meanwhile (pids.max bounds how many there can be).
  for (int round = 0; round < 5; ++round) {
    const std::string procs = ReadSmallFile(path + "/cgroup.procs");
    bool any = false;
    for (std::size_t at = 0; at < procs.size();) {
      char* end = nullptr;
      const long pid = std::strtol(procs.c_str() + at, &end, 10);
      if (end == procs.c_str() + at) break;
      if (pid > 0) {
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        any = true;
      }
      at = static_cast<std::size_t>(end - procs.c_str());
    }
    if (!any) return;
  }
}

}  // namespace ferry::service
