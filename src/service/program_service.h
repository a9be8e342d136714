// ProgramService: running a user's program on the server (remote execution), for the Ferry front end alone.
//
// Kept apart from the file service on purpose: a front end that has no business running programs (FTP's SITE EXEC,
// an SFTP extension) cannot reach it by accident, because it is never handed one. The service holds the rules: the
// account's permission, the slots (server-wide and per user), the shell policy, the file-size bound from the quota,
// watching the quota while the program runs, counting the home again afterwards and the audit line. The front end
// moves the program's input and output.
// Thread-safe after construction (Start only reads the policy and takes a slot).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "common/connection_limiter.h"
#include "common/status.h"
#include "service/command_launcher.h"
#include "service/user_session.h"

namespace ferry::service {

struct ProgramPolicy {
  bool allow_shell = false;                  // may a request ask for /bin/sh -c
  std::chrono::seconds time_limit{60};       // wall-clock time before the program is killed
  std::uint64_t output_limit = 64ull << 20;  // bytes of output passed on; the rest is dropped
  unsigned max_per_user = 4;                 // programs one user may run at once (the slots count all users)
  std::chrono::milliseconds quota_check_interval{200};  // how often the home is counted while a program runs
};

// Why a program was stopped before it ended by itself.
enum class ProgramStop { kNone, kTimeLimit, kQuota, kInterrupted, kDisconnected, kOutputLimit };

// How a program ended, for the audit line.
struct ProgramOutcome {
  int wait_status = 0;
  ProgramStop stop = ProgramStop::kNone;
  std::uint64_t output_bytes = 0;
};

// One program started for a session. Dropping it kills and reaps the program if it still runs, and records it.
// REQUIRES: the UserSession it was started for outlives it.
class RunningProgram {
 public:
  RunningProgram(RunningProgram&& other) noexcept;
  RunningProgram& operator=(RunningProgram&&) = delete;
  ~RunningProgram();

  LaunchedProcess& process() { return process_; }
  const std::vector<std::string>& command() const { return command_; }

  // Counts the user's home now, on the service's bounded pool (off the caller's event loop), and says whether the
  // program has taken the user past the byte or file quota: why, in words for the user, or nothing. The count
  // also updates the user's usage.
  asio::awaitable<std::optional<std::string>> CheckQuota() const;

  // The program has ended and been reaped: counts the home again (it may have written there) and writes the audit
  // line. Call once.
  void Finish(const ProgramOutcome& outcome);

 private:
  friend class ProgramService;
  RunningProgram(UserSession* session, std::string cwd, std::vector<std::string> command, LaunchedProcess process,
                 std::shared_ptr<void> slot)
      : session_(session), cwd_(std::move(cwd)), command_(std::move(command)), process_(std::move(process)),
        slot_(std::move(slot)) {}

  UserSession* session_;
  std::string cwd_;
  std::vector<std::string> command_;  // as the audit log keeps it
  LaunchedProcess process_;
  std::shared_ptr<void> slot_;
  bool finished_ = false;
};

class ProgramService {
 public:
  // `launcher` null: programs cannot run here, for the reason in `unavailable`. `slots` counts programs running at
  // once, overall and per user (its per-key limit is `policy.max_per_user`). Both must outlive the service.
  ProgramService(const CommandLauncher* launcher, Status unavailable, ConnectionLimiter* slots, ProgramPolicy policy)
      : launcher_(launcher), unavailable_(std::move(unavailable)), slots_(slots), policy_(policy) {}

  // Starts `argv` (or, with `shell`, the one command line in it under /bin/sh -c) in the folder `cwd` of the user's
  // home. Refusals (no permission, shell not allowed, no slot, a launch failure) are audited and say why.
  Result<RunningProgram> Start(UserSession& session, std::string_view cwd, std::vector<std::string> argv, bool shell,
                               bool with_stdin) const;

  const ProgramPolicy& policy() const { return policy_; }

 private:
  const CommandLauncher* launcher_;
  Status unavailable_;
  ConnectionLimiter* slots_;
  ProgramPolicy policy_;
};

}  // namespace ferry::service
