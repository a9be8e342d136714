// Fuzzes path resolution in the home jail (HomeDir and file_ops) over a temporary home that holds files, folders,
// a FIFO and symlinks aiming outside it (relative, absolute, to "/", to /proc magic links, loops).
//
// Input: lines, each an operation letter followed by a path ("from\tto" for renames); see kOps below. Paths with a
// NUL byte or longer than the protocol's limit are skipped, as the protocol layer refuses them before storage sees
// them. Invariants checked:
//   - every descriptor the jail hands out (OpenPath, OpenParent, the folder a listing reads) is, by the kernel's
//     own account in /proc/self/fd, the home or below it;
//   - OpenParent's name is one component: not empty, ".", ".." nor containing '/';
//   - ResolveDirectory and VirtualPathOf give virtual paths ("/..." with no "..");
//   - StatPath never describes the file outside (it has a size nothing in the home has);
//   - after all operations, the tree outside the home (a sibling folder) is exactly as it was: nothing created,
//     removed, renamed, chmod-ed or touched there; and no descriptor leaked.
// Under root the target drops to nobody first (a jail bug must not let the fuzzer remove real files).
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "fuzz_check.h"
#include "storage/file_ops.h"
#include "storage/home_dir.h"

namespace {

namespace fs = std::filesystem;
using ferry::storage::HomeDir;

constexpr std::size_t kMaxPathLength = 4096;        // protocol/messages.h
constexpr std::uint64_t kSecretSize = 7777;         // no file in the home has this size
constexpr std::uint32_t kNobody = 65534;

std::string base;      // BASE/home is the home, BASE/outside what must never be reached
std::string home_path;
std::string home_real;  // the kernel's path of the home

void WriteFile(const std::string& path, std::string_view content, mode_t mode) {
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(content.data(), 1, content.size(), f) == content.size());
  std::fclose(f);
  FUZZ_CHECK(::chmod(path.c_str(), mode) == 0);
}

void BuildHome() {
  std::error_code ec;
  fs::remove_all(home_path, ec);
  FUZZ_CHECK(::mkdir(home_path.c_str(), 0700) == 0);
  const std::string h = home_path + "/";
  WriteFile(h + "a.txt", "a", 0644);
  FUZZ_CHECK(::mkdir((h + "dir").c_str(), 0755) == 0);
  WriteFile(h + "dir/b.txt", "bb", 0600);
  FUZZ_CHECK(::mkdir((h + "dir/sub").c_str(), 0755) == 0);
  FUZZ_CHECK(::mkfifo((h + "fifo").c_str(), 0600) == 0);
  const std::pair<const char*, std::string> links[] = {
      {"dir/up", "../../outside/secret"},  // relative, climbing out
      {"rel", "../outside"},
      {"abs", base + "/outside"},           // the real absolute path of the outside folder
      {"abs_secret", base + "/outside/secret"},
      {"dotdot", ".."},
      {"root", "/"},
      {"etc", "/etc/passwd"},
      {"magic", "/proc/self/root"},
      {"magic_fd", "/proc/self/fd/0"},
      {"loop", "loop"},
      {"dir/sub/back", "../../dir"},
  };
  for (const auto& [name, target] : links) FUZZ_CHECK(::symlink(target.c_str(), (h + name).c_str()) == 0);
}

void BuildOutside() {
  const std::string o = base + "/outside";
  FUZZ_CHECK(::mkdir(o.c_str(), 0777) == 0);
  WriteFile(o + "/secret", std::string(kSecretSize, 's'), 0666);
  FUZZ_CHECK(::mkdir((o + "/inner").c_str(), 0777) == 0);
  WriteFile(o + "/inner/file", std::string(kSecretSize, 'i'), 0666);
}

// Everything observable about the outside tree (and the base folder's entries), to compare before and after.
using Snapshot = std::map<std::string, std::tuple<std::uint32_t, std::int64_t, std::int64_t, std::int64_t, ino_t>>;
Snapshot TakeSnapshot() {
  Snapshot snapshot;
  for (const auto& entry : fs::directory_iterator(base)) snapshot[entry.path().string()] = {};
  for (const auto& entry : fs::recursive_directory_iterator(base + "/outside")) {
    struct stat st {};
    FUZZ_CHECK(::lstat(entry.path().c_str(), &st) == 0);
    snapshot[entry.path().string()] = {st.st_mode, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino};
  }
  return snapshot;
}
Snapshot outside_before;

int CountOpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::string PathOfFd(int fd) {
  char buffer[kMaxPathLength + 64];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buffer, sizeof buffer);
  FUZZ_CHECK(n > 0);
  return std::string(buffer, static_cast<std::size_t>(n));
}

void CheckInsideHome(int fd) {
  const std::string path = PathOfFd(fd);
  const bool inside = path == home_real || (path.starts_with(home_real + "/"));
  if (!inside) std::fprintf(stderr, "descriptor outside the home: %s\n", path.c_str());
  FUZZ_CHECK(inside);
}

void CheckVirtualPath(const std::string& path) {
  FUZZ_CHECK(!path.empty() && path.front() == '/');
  FUZZ_CHECK(path.find("/../") == std::string::npos && !path.ends_with("/.."));
  FUZZ_CHECK(path.find(home_real) == std::string::npos || home_real.size() <= 1);  // no server paths leak
}

void DropPrivileges() {
  if (::geteuid() != 0) return;
  FUZZ_CHECK(::chown(base.c_str(), kNobody, kNobody) == 0);
  FUZZ_CHECK(::setgroups(0, nullptr) == 0);
  FUZZ_CHECK(::setresgid(kNobody, kNobody, kNobody) == 0);
  FUZZ_CHECK(::setresuid(kNobody, kNobody, kNobody) == 0);
  // A changed uid makes /proc/self/fd root's; the jail reads it (VirtualPathOf) and so do the checks.
  FUZZ_CHECK(::prctl(PR_SET_DUMPABLE, 1) == 0);
}

void RunOperation(const HomeDir& home, char op, std::string_view path, std::string_view second, bool* changed) {
  using namespace ferry::storage;
  switch (op) {
    case 'o': case 'p': case 'n': case 'd': case 'w': {
      const int flags = op == 'o'   ? O_RDONLY | O_NONBLOCK
                        : op == 'p' ? O_PATH
                        : op == 'n' ? O_PATH | O_NOFOLLOW
                        : op == 'd' ? O_RDONLY | O_DIRECTORY
                                    : O_WRONLY | O_CREAT | O_NONBLOCK;
      if (op == 'w') *changed = true;
      auto fd = home.OpenPath(path, flags, 0600);
      if (fd.ok()) CheckInsideHome(fd->get());
      break;
    }
    case 'P': {
      auto parent = home.OpenParent(path);
      if (!parent.ok()) break;
      CheckInsideHome(parent->parent.get());
      const std::string& name = parent->name;
      FUZZ_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos);
      break;
    }
    case 's': {
      auto info = StatPath(home, path);
      if (info.ok()) FUZZ_CHECK(info->size != kSecretSize);
      break;
    }
    case 'l': {
      auto fd = home.OpenPath(path, O_RDONLY | O_DIRECTORY);
      if (fd.ok()) CheckInsideHome(fd->get());
      (void)ListDirectory(home, path, 3, [](std::vector<FileInfo>&& batch) {
        for (const auto& info : batch) FUZZ_CHECK(info.size != kSecretSize);
      });
      break;
    }
    case 'r': {
      auto resolved = ResolveDirectory(home, path);
      if (resolved.ok()) CheckVirtualPath(*resolved);
      break;
    }
    case 'm': *changed = true; (void)MakeDirectory(home, path, false); break;
    case 'M': *changed = true; (void)MakeDirectory(home, path, true, nullptr, 4); break;
    case 'R': *changed = true; (void)RemoveDirectory(home, path); break;
    case 'x': *changed = true; (void)RemovePath(home, path, false); break;
    case 'X': *changed = true; (void)RemovePath(home, path, true); break;
    case 'v': *changed = true; (void)Rename(home, path, second, false); break;
    case 'V': *changed = true; (void)Rename(home, path, second, true); break;
    case 'c': {
      *changed = true;
      (void)SetAttributes(home, path, 0700, timespec{12345, 0});
      break;
    }
    case 'j': {
      // Lexical helpers: no file system, only their contracts.
      const std::string joined = HomeDir::Join("/dir", path);
      FUZZ_CHECK(!joined.empty());
      const auto [parent, name] = HomeDir::SplitLast(path);
      FUZZ_CHECK(!parent.empty());
      FUZZ_CHECK(name.find('/') == std::string::npos && name != ".");
      break;
    }
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ferry-home-fuzz-XXXXXX";
  FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
  base = pattern;
  DropPrivileges();
  ::umask(022);
  home_path = base + "/home";
  BuildOutside();
  BuildHome();
  auto home = HomeDir::Open(home_path);
  FUZZ_CHECK(home.ok());
  home_real = PathOfFd(home->fd());
  outside_before = TakeSnapshot();
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(base, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fds_before = CountOpenFds();
  bool changed = false;
  {
    auto home = HomeDir::Open(home_path);
    FUZZ_CHECK(home.ok());
    std::string_view input(reinterpret_cast<const char*>(data), size);
    int operations = 0;
    while (!input.empty() && operations++ < 64) {
      const std::size_t end = input.find('\n');
      std::string_view line = input.substr(0, end);
      input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
      if (line.empty()) continue;
      const char op = line.front();
      line.remove_prefix(1);
      std::string_view second;
      if (const std::size_t tab = line.find('\t'); tab != std::string_view::npos) {
        second = line.substr(tab + 1);
        line = line.substr(0, tab);
      }
      if (line.find('\0') != std::string_view::npos || second.find('\0') != std::string_view::npos) continue;
      if (line.size() > kMaxPathLength || second.size() > kMaxPathLength) continue;
      RunOperation(*home, op, line, second, &changed);
    }
    if (changed) {
      const Snapshot outside_after = TakeSnapshot();
      if (outside_after != outside_before) {
        for (const auto& [path, _] : outside_after) {
          if (!outside_before.contains(path)) std::fprintf(stderr, "appeared outside: %s\n", path.c_str());
        }
        for (const auto& [path, value] : outside_before) {
          auto it = outside_after.find(path);
          if (it == outside_after.end()) std::fprintf(stderr, "vanished outside: %s\n", path.c_str());
          else if (it->second != value) std::fprintf(stderr, "changed outside: %s\n", path.c_str());
        }
      }
      FUZZ_CHECK(outside_after == outside_before);
    }
  }
  FUZZ_CHECK(CountOpenFds() == fds_before);
  if (changed) BuildHome();
  return 0;
}
