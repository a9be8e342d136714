#include "service/command_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ferry::service {
namespace {

constexpr const char* kSearchPath = "/usr/local/bin:/usr/bin:/bin";
// Folders of the system shown read-only in the sandbox. Symlinks among them (merged /usr) are recreated as links.
constexpr const char* kSystemFolders[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
// Files of /etc programs need (the dynamic linker's cache, time zone, alternatives); nothing secret.
constexpr const char* kSystemFiles[] = {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                                        "/etc/alternatives", "/etc/localtime"};
// The descriptor bubblewrap reads its set-up from (--args), in the child.
constexpr int kSandboxOptionsFd = 3;
// How long the start-up check may take.
constexpr int kProbeTimeoutMs = 10000;

// The first executable `name` in `search_path` (a name with a '/' is taken as it is); "" if none.
std::string FindProgram(const std::string& name, const char* search_path) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::string_view rest = search_path;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "creating a pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// In the child between fork and exec: only async-signal-safe calls.
void WriteError(const char* what, const char* name) {
  const auto put = [](const char* text) { (void)!::write(STDERR_FILENO, text, std::strlen(text)); };
  put("ferryd: ");
  put(what);
  put(": ");
  put(name);
  put("\n");
}

void SetLimit(int resource, rlim_t value) {
  const rlimit limit{value, value};
  ::setrlimit(resource, &limit);
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// The kernel exempts root from RLIMIT_NPROC: a server running as root bounds programs' processes with a pids
// cgroup each, or says that it cannot.
std::shared_ptr<PidsCgroups> ProcessLimitForRoot(unsigned max_processes) {
  if (::geteuid() != 0) return nullptr;
  auto cgroups = PidsCgroups::Create(max_processes);
  if (!cgroups.ok()) {
    spdlog::warn("the process limit of programs (exec.max_processes = {}) does NOT hold: ferryd runs as root, which "
                 "the kernel exempts from RLIMIT_NPROC, and no pids cgroup can be used ({}). Run ferryd as an "
                 "unprivileged user of its own, or as root where the pids controller is mounted writable "
                 "(cgroup v2 at /sys/fs/cgroup, or v1 at /sys/fs/cgroup/pids)",
                 max_processes, cgroups.status().message());
    return nullptr;
  }
  spdlog::info("programs' processes are bounded by pids cgroups (cgroup {}) under {}", (*cgroups)->version(),
               (*cgroups)->path());
  return std::shared_ptr<PidsCgroups>(std::move(cgroups).value());
}

// A program cannot be given more processes than the server may have: raising the hard limit fails (prlimit would
// refuse to start the program; setrlimit would leave the server's own). Root has no such bound.
unsigned ClampToOwnProcessLimit(unsigned max_processes) {
  rlimit own {};
  if (::geteuid() == 0 || ::getrlimit(RLIMIT_NPROC, &own) != 0 || own.rlim_max == RLIM_INFINITY ||
      max_processes <= own.rlim_max) {
    return max_processes;
  }
  spdlog::warn("exec.max_processes = {} is above ferryd's own hard limit of processes ({}): programs get {}",
               max_processes, own.rlim_max, own.rlim_max);
  return static_cast<unsigned>(own.rlim_max);
}

}  // namespace

Result<CommandLauncher> CommandLauncher::Create(const LaunchPolicy& policy, const std::string& data_root) {
  LaunchPolicy resolved = policy;
  resolved.max_processes = ClampToOwnProcessLimit(policy.max_processes);
  if (!policy.sandbox) {
    CommandLauncher unconfined(std::move(resolved));
    unconfined.cgroups_ = ProcessLimitForRoot(unconfined.policy_.max_processes);
    return unconfined;
  }
  const char* path = std::getenv("PATH");
  resolved.bwrap = FindProgram(policy.bwrap, path != nullptr && *path != '\0' ? path : "/usr/bin:/bin");
  if (resolved.bwrap.empty()) {
    return Status(ErrorCode::kNotSupported,
                  fmt::format("the sandbox program '{}' was not found (install the bubblewrap package)", policy.bwrap));
  }
  char real_root[PATH_MAX];
  if (::realpath(data_root.c_str(), real_root) == nullptr) return Status::FromErrno(errno, data_root);
  for (const char* shown : kSystemFolders) {
    const std::string prefix = std::string(shown) + "/";
    if (std::string_view(real_root).substr(0, prefix.size()) == prefix) {
      return Status(ErrorCode::kInvalid, fmt::format("the data root {} lies inside {}, which the sandbox shows to "
                                                     "programs; move it elsewhere (for example /srv)",
                                                     real_root, shown));
    }
  }

  // Run a trivial program in the sandbox, as every exec will, to find out now whether the kernel allows it.
  CommandLauncher launcher(std::move(resolved));
  launcher.cgroups_ = ProcessLimitForRoot(launcher.policy_.max_processes);
  if (::geteuid() != 0) {
    // RLIMIT_NPROC on bubblewrap would count every process of the server's user, the server's own threads and
    // other programs included, when it makes the sandbox's user namespace: enough threads and no program could
    // start. Set inside that namespace, the kernel counts only the processes in it, this program's.
    launcher.prlimit_ = FindProgram("prlimit", kSearchPath);
    if (launcher.prlimit_.empty()) {
      spdlog::warn("prlimit (util-linux) was not found in {}: a program's process limit (exec.max_processes = {}) "
                   "counts every process of ferryd's user, the server's threads and other programs included",
                   kSearchPath, launcher.policy_.max_processes);
    }
  }
  LaunchRequest probe;
  probe.argv = {"true"};
  probe.user = "probe";
  probe.home_path = real_root;  // bound at /home/probe; the probe reads nothing
  probe.cwd = "/";
  auto process = launcher.Launch(probe);
  if (!process.ok()) return process.status();
  pollfd exited{process->pidfd.get(), POLLIN, 0};
  if (::poll(&exited, 1, kProbeTimeoutMs) <= 0) KillTree(*process);
  const int status = Reap(*process);
  std::string why(512, '\0');
  const ssize_t n = ::read(process->stderr_fd.get(), why.data(), why.size());
  why.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(ErrorCode::kNotSupported,
                  fmt::format("the sandbox cannot be set up here ({}): {}", launcher.policy_.bwrap,
                              why.empty() ? fmt::format("wait status {}", status) : why));
  }
  return launcher;
}

namespace {

// The user and group a program runs as in its sandbox when the server runs as root (mapped to root outside, with no
// capability).
constexpr const char* kSandboxId = "1000";

// Whether this host lets processes make user namespaces (user.max_user_namespaces above 0; assumed when unreadable).
bool UserNamespacesAvailable() {
  std::ifstream in("/proc/sys/user/max_user_namespaces");
  long most = 1;
  return !(in >> most) || most > 0;
}

}  // namespace

std::vector<std::string> CommandLauncher::SandboxOptions(const LaunchRequest& request) const {
  const std::string home = "/home/" + request.user;
  std::vector<std::string> command = {"--die-with-parent", "--new-session", "--unshare-all",
                                      "--clearenv", "--setenv", "PATH", kSearchPath, "--setenv", "HOME", home,
                                      "--setenv", "USER", request.user, "--setenv", "LOGNAME", request.user,
                                      "--setenv", "LANG", "C.UTF-8", "--setenv", "TMPDIR", "/tmp",
                                      "--hostname", "ferry"};
  // A privileged bwrap keeps capabilities unless told; an unprivileged one never has any to give. Nor is the program
  // root in its namespace: as root it would act as one (rsync -a gives every file it receives to its sender's owner,
  // and fails where that owner is not mapped); as an ordinary user it owns the home and nothing else.
  if (::geteuid() == 0) {
    command.insert(command.end(), {"--cap-drop", "ALL"});
    // bubblewrap can set the ids only in a user namespace of the program's own, which a host may have turned off.
    if (UserNamespacesAvailable()) command.insert(command.end(), {"--uid", kSandboxId, "--gid", kSandboxId});
  }
  for (const char* folder : kSystemFolders) {
    struct stat st {};
    if (::lstat(folder, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      const ssize_t n = ::readlink(folder, target, sizeof target - 1);
      if (n <= 0) continue;
      command.insert(command.end(), {"--symlink", std::string(target, static_cast<std::size_t>(n)), folder});
    } else if (S_ISDIR(st.st_mode)) {
      command.insert(command.end(), {"--ro-bind", folder, folder});
    }
  }
  for (const char* file : kSystemFiles) command.insert(command.end(), {"--ro-bind-try", file, file});
  const std::string cwd = request.cwd == "/" ? home : home + request.cwd;
  // /dev holds only bubblewrap's harmless devices and is read-only: a program cannot fill it. /tmp and /dev/shm are
  // memory, so each has its own bound.
  const std::string tmp_size = std::to_string(policy_.tmp_size);
  command.insert(command.end(), {"--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--size", tmp_size,
                                 "--tmpfs", "/dev/shm", "--size", tmp_size, "--tmpfs", "/tmp", "--dir", "/home",
                                 "--bind", request.home_path, home, "--chdir", cwd});
  return command;
}

Result<LaunchedProcess> CommandLauncher::Launch(const LaunchRequest& request) const {
  if (request.argv.empty()) return Status(ErrorCode::kInvalid, "no program to run");
  // Everything the child needs is prepared here: between fork and exec it may only make async-signal-safe calls.
  std::vector<std::string> argv;
  std::string program;
  std::vector<std::string> environment;
  UniqueFd sandbox_options;
  if (policy_.sandbox) {
    // A name without a slash is looked for in the sandbox's PATH, whose folders are the host's own (bound read-only):
    // one found nowhere is "command not found", as a shell says (exit status 127), not bubblewrap's execvp error.
    const std::string& name = request.argv.front();
    if (name.find('/') == std::string::npos && FindProgram(name, kSearchPath).empty()) {
      return Status(ErrorCode::kNotFound, fmt::format("{}: command not found", name));
    }
    // The set-up goes through a descriptor, NUL-separated: bubblewrap's own command line (the sandbox's
    // /proc/1/cmdline) then shows no path of the host.
    std::string options;
    for (const auto& option : SandboxOptions(request)) {
      options += option;
      options += '\0';
    }
    sandbox_options.Reset(::memfd_create("bwrap-args", MFD_CLOEXEC));
    if (!sandbox_options.valid()) return Status::FromErrno(errno, "memfd_create");
    if (::write(sandbox_options.get(), options.data(), options.size()) != static_cast<ssize_t>(options.size()) ||
        ::lseek(sandbox_options.get(), 0, SEEK_SET) != 0) {
      return Status::FromErrno(errno, "writing the sandbox's set-up");
    }
    argv = {policy_.bwrap, "--args", std::to_string(kSandboxOptionsFd), "--"};
    if (!prlimit_.empty()) {
      // prlimit sets the limit (soft and hard) and executes the program in its place.
      argv.insert(argv.end(), {prlimit_, fmt::format("--nproc={}", policy_.max_processes), "--"});
    }
    argv.insert(argv.end(), request.argv.begin(), request.argv.end());
    program = policy_.bwrap;
    environment = {"PATH=/usr/bin:/bin"};
  } else {
    program = FindProgram(request.argv.front(), kSearchPath);
    if (program.empty()) {
      return Status(ErrorCode::kNotFound, fmt::format("{}: command not found", request.argv.front()));
    }
    argv = request.argv;
    environment = {std::string("PATH=") + kSearchPath, "HOME=" + request.home_path, "USER=" + request.user,
                   "LOGNAME=" + request.user, "LANG=C.UTF-8", "TMPDIR=/tmp"};
  }
  std::vector<char*> argv_pointers = Pointers(argv);
  std::vector<char*> environment_pointers = Pointers(environment);

  auto out = MakePipe();
  if (!out.ok()) return out.status();
  auto err = MakePipe();
  if (!err.ok()) return err.status();
  Pipe in;
  if (request.stdin_pipe) {
    auto made = MakePipe();
    if (!made.ok()) return made.status();
    in = std::move(made).value();
  } else {
    in.read.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!in.read.valid()) return Status::FromErrno(errno, "/dev/null");
  }
  const int cwd_fd = policy_.sandbox ? -1 : request.cwd_fd;
  const int options_fd = sandbox_options.valid() ? sandbox_options.get() : -1;
  // The kernel ignores RLIMIT_NPROC for root: a cgroup instead. In a sandbox, prlimit sets it.
  const bool limit_processes = ::geteuid() != 0 && !(policy_.sandbox && !prlimit_.empty());
  ProgramCgroup cgroup;
  if (cgroups_) {
    auto added = cgroups_->Add();
    if (!added.ok()) return added.status();
    cgroup = std::move(added).value();
  }
  const int cgroup_fd = cgroup.procs.valid() ? cgroup.procs.get() : -1;

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    if (cgroups_) cgroups_->Remove(cgroup);
    return Status::FromErrno(error, "starting the program");
  }
  if (pid == 0) {
    if (::dup2(in.read.get(), STDIN_FILENO) < 0 || ::dup2(out->write.get(), STDOUT_FILENO) < 0 ||
        ::dup2(err->write.get(), STDERR_FILENO) < 0) {
      ::_exit(127);
    }
    // Into the program's cgroup before anything else starts, so that everything it starts is counted.
    if (cgroup_fd >= 0 && ::write(cgroup_fd, "0", 1) != 1) {
      WriteError("cannot enter the program's cgroup", "pids");
      ::_exit(127);
    }
    ::setsid();
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // the server ignores it; the program should not
    if (cwd_fd >= 0 && ::fchdir(cwd_fd) != 0) {
      WriteError("cannot enter the working folder", request.cwd.c_str());
      ::_exit(127);
    }
    SetLimit(RLIMIT_AS, policy_.memory_limit);
    SetLimit(RLIMIT_NOFILE, policy_.max_open_files);
    SetLimit(RLIMIT_CPU, policy_.cpu_seconds);
    SetLimit(RLIMIT_CORE, 0);
    if (request.max_file_size) SetLimit(RLIMIT_FSIZE, *request.max_file_size);
    if (limit_processes) SetLimit(RLIMIT_NPROC, policy_.max_processes);
    if (options_fd >= 0) {
      // dup2 onto itself would keep close-on-exec.
      if (options_fd == kSandboxOptionsFd ? ::fcntl(options_fd, F_SETFD, 0) < 0
                                          : ::dup2(options_fd, kSandboxOptionsFd) < 0) {
        ::_exit(127);
      }
    }
    ::syscall(SYS_close_range, options_fd >= 0 ? kSandboxOptionsFd + 1U : 3U, ~0U, 0U);
    ::execve(program.c_str(), argv_pointers.data(), environment_pointers.data());
    WriteError("cannot run", program.c_str());
    ::_exit(127);
  }

  LaunchedProcess process;
  process.pid = pid;
  process.cgroups = cgroups_.get();
  process.cgroup = std::move(cgroup);
  process.pidfd.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!process.pidfd.valid()) {
    const int error = errno;
    KillTree(process);
    Reap(process);
    return Status::FromErrno(error, "watching the program (pidfd_open)");
  }
  process.stdout_fd = std::move(out->read);
  process.stderr_fd = std::move(err->read);
  if (request.stdin_pipe) process.stdin_fd = std::move(in.write);
  return process;
}

void CommandLauncher::KillTree(const LaunchedProcess& process) {
  if (process.pid <= 0) return;
  // Until it is reaped the leader's pid, and so its process group, cannot be reused: these reach only its own.
  ::kill(-process.pid, SIGKILL);
  ::kill(process.pid, SIGKILL);
  // And what left the process group: its cgroup holds all of it.
  if (!process.cgroup.path.empty()) PidsCgroups::KillAll(process.cgroup.path);
}

int CommandLauncher::Reap(LaunchedProcess& process) {
  if (process.pid <= 0) return 0;
  int status = 0;
  while (::waitpid(process.pid, &status, 0) < 0 && errno == EINTR) {
  }
  process.pid = -1;
  if (process.cgroups != nullptr) process.cgroups->Remove(process.cgroup);
  return status;
}

}  // namespace ferry::service
