#include "service/program_service.h"

#include <fcntl.h>
#include <sys/wait.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "service/file_service.h"

namespace ferry::service {
namespace {

// How many bytes of the command line the audit log keeps.
constexpr std::size_t kAuditCommandBytes = 512;

std::string CommandText(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
    if (text.size() > kAuditCommandBytes) {
      text.resize(kAuditCommandBytes);
      text += "...";
      break;
    }
  }
  return text;
}

}  // namespace

Result<RunningProgram> ProgramService::Start(UserSession& session, std::string_view cwd,
                                             std::vector<std::string> argv, bool shell, bool with_stdin) const {
  const std::string command = CommandText(argv);
  const auto refuse = [&](const Status& status) -> Result<RunningProgram> {
    session.Audit("exec", cwd, status, std::nullopt, {}, command);
    return status;
  };
  if (shell) {
    if (!policy_.allow_shell) {
      return refuse(Status(ErrorCode::kNotPermitted,
                           "this server runs programs only without a shell (exec.allow_shell is off)"));
    }
    if (argv.size() != 1) return refuse(Status(ErrorCode::kInvalid, "with 'shell', argv holds one command line"));
    argv = {"/bin/sh", "-c", argv.front()};
  }
  // Read on every request, so a change reaches sessions already open.
  auto permissions = session.options_.users->Permissions(session.user());
  if (!permissions.ok() || !permissions->can_exec) {
    return refuse(Status(ErrorCode::kNotPermitted, "this account may not run programs on the server"));
  }
  if (launcher_ == nullptr) return refuse(unavailable_);
  auto slot = slots_->Admit(session.user());
  if (!slot) return refuse(Status(ErrorCode::kBusy, "too many programs are running on the server; try again later"));
  auto cwd_fd = session.home_.OpenPath(cwd, O_PATH | O_DIRECTORY);
  if (!cwd_fd.ok()) return refuse(cwd_fd.status());
  LaunchRequest request;
  request.argv = std::move(argv);
  request.user = session.user();
  request.home_path = session.options_.homes_path + "/" + session.user();
  request.cwd = std::string(cwd);
  request.cwd_fd = cwd_fd->get();
  request.stdin_pipe = with_stdin;
  // No single file may outgrow what is left of the quota.
  if (auto quota = session.options_.users->Quota(session.user()); quota.ok() && quota->max_bytes) {
    const storage::QuotaUsage usage = session.options_.quotas->Usage(session.user());
    const std::uint64_t taken = usage.bytes + usage.reserved_bytes;
    request.max_file_size = taken < *quota->max_bytes ? *quota->max_bytes - taken : 0;
  }
  auto launched = launcher_->Launch(request);
  if (!launched.ok()) return refuse(launched.status());
  spdlog::info("{}: '{}' runs {}", session.client().peer, session.user(), command);
  return RunningProgram(&session, std::string(cwd), command, std::move(launched).value(), std::move(slot));
}

RunningProgram::RunningProgram(RunningProgram&& other) noexcept
    : session_(other.session_),
      cwd_(std::move(other.cwd_)),
      command_(std::move(other.command_)),
      process_(std::move(other.process_)),
      slot_(std::move(other.slot_)),
      finished_(std::exchange(other.finished_, true)) {}

RunningProgram::~RunningProgram() {
  if (finished_) return;
  // Ended before the front end saw it finish (a disconnect, a shutdown): it goes now.
  CommandLauncher::KillTree(process_);
  const int wait_status = CommandLauncher::Reap(process_);
  Finish({wait_status, false, 0});
}

void RunningProgram::Finish(const ProgramOutcome& outcome) {
  finished_ = true;
  session_->Remeasure();
  const int status = outcome.wait_status;
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const Status result = outcome.timed_out ? Status(ErrorCode::kBusy, "time limit")
                        : exit_code == 0  ? Status::Ok()
                                          : Status(ErrorCode::kIo, fmt::format("exit status {}", exit_code));
  session_->Audit("exec", cwd_, result, outcome.output_bytes, {}, command_);
}

}  // namespace ferry::service
