#include "service/program_service.h"

#include <fcntl.h>
#include <sys/wait.h>

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/byte_size.h"
#include "service/file_service.h"

namespace ferry::service {
namespace {

// How many bytes of the arguments the audit log keeps, all together.
constexpr std::size_t kAuditCommandBytes = 512;

// The argument list as the audit log keeps it: the argument that passes the limit is cut and ends in "...", and
// none follows it.
std::vector<std::string> AuditedCommand(const std::vector<std::string>& argv) {
  std::vector<std::string> kept;
  std::size_t total = 0;
  for (const auto& arg : argv) {
    if (total + arg.size() > kAuditCommandBytes) {
      kept.push_back(arg.substr(0, kAuditCommandBytes - total) + "...");
      break;
    }
    total += arg.size();
    kept.push_back(arg);
  }
  return kept;
}

std::string_view StopName(ProgramStop stop) {
  switch (stop) {
    case ProgramStop::kNone: return "";
    case ProgramStop::kTimeLimit: return "time_limit";
    case ProgramStop::kQuota: return "quota";
    case ProgramStop::kInterrupted: return "interrupted";
    case ProgramStop::kDisconnected: return "disconnected";
    case ProgramStop::kOutputLimit: return "output_limit";
  }
  return "";
}

}  // namespace

Result<RunningProgram> ProgramService::Start(UserSession& session, std::string_view cwd,
                                             std::vector<std::string> argv, bool shell, bool with_stdin) const {
  session.ForgetUploadFolder();  // the program may rename or remove folders
  std::vector<std::string> command = AuditedCommand(argv);
  const auto refuse = [&](const Status& status) -> Result<RunningProgram> {
    session.AuditExec(cwd, status, command, nullptr, std::nullopt);
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
  bool user_full = false;
  auto slot = slots_->Admit(session.user(), &user_full);
  if (!slot && user_full) {
    return refuse(Status(ErrorCode::kBusy, fmt::format("you already run {} programs, the most one user may run at "
                                                       "once (exec.max_programs_per_user); try again later",
                                                       policy_.max_per_user)));
  }
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
  spdlog::info("{}: '{}' runs {}", session.client().peer, session.user(), fmt::join(command, " "));
  return RunningProgram(&session, std::string(cwd), std::move(command), std::move(launched).value(),
                        std::move(slot));
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
  Finish({wait_status, ProgramStop::kDisconnected, 0});
}

asio::awaitable<std::optional<std::string>> RunningProgram::CheckQuota() const {
  const FileServiceOptions& options = session_->options_;
  auto quota = options.users->Quota(session_->user());
  if (!quota.ok() || (!quota->max_bytes && !quota->max_files)) co_return std::nullopt;
  const int home_fd = session_->home_.fd();
  const int partials_fd = session_->partials_.fd();
  const auto measure = [home_fd, partials_fd]() -> std::optional<storage::QuotaUsage> {
    auto measured = storage::MeasureUsage(home_fd, partials_fd);
    if (!measured.ok()) return std::nullopt;
    return *measured;
  };
  std::optional<storage::QuotaUsage> usage;
  if (options.login_pool == nullptr) {
    usage = measure();
  } else {
    usage = co_await asio::co_spawn(
        *options.login_pool,
        [&measure]() -> asio::awaitable<std::optional<storage::QuotaUsage>> { co_return measure(); },
        asio::use_awaitable);
  }
  if (!usage) co_return std::nullopt;
  options.quotas->Remeasure(session_->user(), *usage);
  if (quota->max_bytes && usage->bytes > *quota->max_bytes) {
    co_return fmt::format("the program passed your quota ({} used of {})",
                          HumanBytes(static_cast<double>(usage->bytes)),
                          HumanBytes(static_cast<double>(*quota->max_bytes)));
  }
  if (quota->max_files && usage->entries > *quota->max_files) {
    co_return fmt::format("the program passed your quota ({} files of {})", usage->entries, *quota->max_files);
  }
  co_return std::nullopt;
}

void RunningProgram::Finish(const ProgramOutcome& outcome) {
  finished_ = true;
  slot_.reset();  // another program may start
  session_->Remeasure();
  const int status = outcome.wait_status;
  ProgramEnd end;
  if (WIFEXITED(status)) end.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
  end.stopped = StopName(outcome.stop);
  session_->AuditExec(cwd_, Status::Ok(), command_, &end, outcome.output_bytes);
}

}  // namespace ferry::service
