// PidsCgroups: the process limit of programs for a server running as root, which the kernel exempts from
// RLIMIT_NPROC.
//
// Each program gets a cgroup of its own under the pids controller, with pids.max set to the limit: the child joins
// it between fork and exec (it writes "0" to the cgroup.procs it inherited open), so everything the program starts
// is counted, bubblewrap's own processes included. Layout: PIDS/ferryd-<server pid>/program-<n>, where PIDS is
// /sys/fs/cgroup with cgroup v2 (when its cgroup.controllers lists pids) or /sys/fs/cgroup/pids with cgroup v1.
// A program's cgroup is removed once the program has been reaped (what is left in it is killed first); the server's
// is removed when this object goes. Folders left by a server that was killed are swept at the next start.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ferry::service {

// One program's cgroup.
struct ProgramCgroup {
  std::string path;
  UniqueFd procs;  // its cgroup.procs, open for writing (close-on-exec): the child writes "0" to join
};

class PidsCgroups {
 public:
  // Finds a writable pids controller and creates the server's cgroup in it. `root` is the folder where the cgroup
  // hierarchies are mounted (/sys/fs/cgroup). A failure says why, for the administrator.
  static Result<std::unique_ptr<PidsCgroups>> Create(unsigned max_processes, const std::string& root = "/sys/fs/cgroup");
  PidsCgroups(const PidsCgroups&) = delete;
  PidsCgroups& operator=(const PidsCgroups&) = delete;
  // Kills whatever is left in the server's cgroups and removes them.
  ~PidsCgroups();

  // A new cgroup for one program, with pids.max set.
  Result<ProgramCgroup> Add();
  // Kills what is left in the program's cgroup and removes it. A cgroup whose processes are still dying is removed
  // later (at the next Add, or when this object goes).
  void Remove(ProgramCgroup& cgroup);
  // Kills every process in the cgroup at `path`.
  static void KillAll(const std::string& path);

  const std::string& path() const { return path_; }
  const char* version() const { return v2_ ? "v2" : "v1"; }

 private:
  PidsCgroups(std::string path, bool v2, unsigned max_processes)
      : path_(std::move(path)), v2_(v2), max_processes_(max_processes) {}
  // Tries to remove the cgroups left over; those still busy stay in the list. REQUIRES: mutex_ held.
  void RemoveLeftovers();

  std::mutex mutex_;
  std::string path_;  // PIDS/ferryd-<pid>
  bool v2_;
  unsigned max_processes_;
  unsigned long next_ = 0;
  std::vector<std::string> leftovers_;
};

}  // namespace ferry::service
