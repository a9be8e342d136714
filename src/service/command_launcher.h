// CommandLauncher: starts a user's program for remote execution, confined and bounded.
//
// With the sandbox (the default) the program runs under bubblewrap: new user, mount, PID, network, IPC and UTS
// namespaces, no capabilities, a new session (no terminal injection), the system's /usr read-only, a private /proc,
// a read-only /dev of the harmless devices, a /tmp and /dev/shm of bounded size (memory-backed), and the user's home
// bound at /home/USER as the only writable folder and the only user data in view; no other home, no data root, no
// server secret, no network. bubblewrap reads its set-up from a descriptor (--args), so no host path is on its
// command line, where the program could read it in /proc/1/cmdline. Without it (exec.sandbox = false) the program
// runs as the server's user in the user's current folder: only for trusted users.
// Either way it gets no shell (argv goes to execve as it is), a clean environment, its own process group and
// session, and rlimits on memory, open files, CPU time, file size and processes. The kernel does not apply the
// process rlimit to root: a server running as root puts each program in a pids cgroup of its own instead
// (PidsCgroups), and warns at start where it cannot.
// Thread-safe after Create: Launch only reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "service/pids_cgroups.h"

namespace ferry::service {

struct LaunchPolicy {
  bool sandbox = true;
  std::string bwrap = "bwrap";  // a path, or a name looked up in PATH
  std::uint64_t memory_limit = 1ull << 30;
  unsigned max_processes = 64;
  unsigned max_open_files = 256;
  unsigned cpu_seconds = 61;
  std::uint64_t tmp_size = 64ull << 20;  // bytes each of /tmp and /dev/shm in the sandbox may hold
};

struct LaunchRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in /usr/local/bin, /usr/bin and /bin unless it has a '/'
  std::string user;
  std::string home_path;  // the home's path on the server: bound into the sandbox
  std::string cwd;        // the working folder as a virtual path of the home ("/", "/docs")
  int cwd_fd = -1;        // the working folder itself, for a run without the sandbox
  std::optional<std::uint64_t> max_file_size;  // RLIMIT_FSIZE (room left under the user's quota)
  bool stdin_pipe = false;                     // false: stdin is /dev/null
};

struct LaunchedProcess {
  pid_t pid = -1;
  UniqueFd pidfd;      // readable once the process has exited
  UniqueFd stdin_fd;   // write end, if stdin_pipe
  UniqueFd stdout_fd;  // read ends
  UniqueFd stderr_fd;
  PidsCgroups* cgroups = nullptr;  // the launcher's; null when programs get no cgroup
  ProgramCgroup cgroup;            // the program's own, removed when it is reaped
};

class CommandLauncher {
 public:
  // Checks that programs can be started as `policy` says: finds bubblewrap and runs a trivial program in the
  // sandbox. A failure says why in words an administrator can act on. `data_root` must not be visible inside.
  // Running as root, it also sets up the pids cgroups that bound each program's processes (or warns that the
  // process limit does not hold).
  static Result<CommandLauncher> Create(const LaunchPolicy& policy, const std::string& data_root);

  Result<LaunchedProcess> Launch(const LaunchRequest& request) const;

  // Kills the process and everything it started (its sandbox and process group). Safe to call again; a no-op once
  // the process has been reaped (`process.pid` < 0).
  static void KillTree(const LaunchedProcess& process);
  // Waits for an exited (or killed) process and returns its wait status; the pid is cleared. What is left of it in
  // its cgroup is killed and the cgroup removed.
  static int Reap(LaunchedProcess& process);

  const LaunchPolicy& policy() const { return policy_; }
  // The pids cgroups in use; null when programs get none (not running as root, or none writable).
  const PidsCgroups* cgroups() const { return cgroups_.get(); }
  // The bubblewrap options that set up the sandbox for `request` (passed through --args, before "--" and the
  // program's arguments).
  std::vector<std::string> SandboxOptions(const LaunchRequest& request) const;

 private:
  explicit CommandLauncher(LaunchPolicy policy) : policy_(std::move(policy)) {}

  LaunchPolicy policy_;
  std::shared_ptr<PidsCgroups> cgroups_;
  // util-linux's prlimit, run first in the sandbox to set RLIMIT_NPROC there (see Launch); empty when the limit is
  // set on bubblewrap itself or not at all (root).
  std::string prlimit_;
};

}  // namespace ferry::service
