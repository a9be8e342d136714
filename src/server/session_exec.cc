// Session: remote execution. One program per session at a time; while it runs the session reads only the client's
// input for it (exec_input, exec_kill), and keeps any other request for afterwards.
#include <fcntl.h>
#include <sys/wait.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/session.h"

namespace ferry::server {
namespace {

using protocol::Json;
using namespace asio::experimental::awaitable_operators;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Arguments: how many, and their total size.
constexpr std::size_t kMaxArguments = 4096;
constexpr std::size_t kMaxArgumentBytes = 128 * 1024;
// Bytes read from the program's stdout or stderr at a time: one frame each.
constexpr std::size_t kOutputChunk = 64 * 1024;
// Once the program has exited, how long output still in its pipes may take to drain (a process that escaped its
// process group could keep them open).
constexpr auto kDrainTime = std::chrono::seconds(2);
// How many bytes of the command line the audit log keeps.
constexpr std::size_t kAuditCommandBytes = 512;

// Kills and reaps the program if the session ends while it runs (a disconnect, a shutdown).
struct ProgramGuard {
  LaunchedProcess& process;
  SessionHandle& handle;
  ~ProgramGuard() {
    CommandLauncher::KillTree(process);
    CommandLauncher::Reap(process);
    handle.program = -1;
  }
};

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

Result<std::vector<std::string>> Session::ExecArguments(const protocol::RequestFields& fields) {
  const Json& header = fields.header();
  const auto args = header.find("argv");
  if (args == header.end() || !args->is_array() || args->empty()) {
    return Status(ErrorCode::kProtocol, "exec needs 'argv', a non-empty array of strings");
  }
  if (args->size() > kMaxArguments) {
    return Status(ErrorCode::kTooBig, fmt::format("at most {} arguments", kMaxArguments));
  }
  std::vector<std::string> argv;
  std::size_t total = 0;
  for (const auto& arg : *args) {
    if (!arg.is_string()) return Status(ErrorCode::kProtocol, "every argument must be a string");
    const auto& text = arg.get_ref<const std::string&>();
    if (text.find('\0') != std::string::npos) return Status(ErrorCode::kInvalid, "an argument contains a NUL byte");
    total += text.size() + 1;
    if (total > kMaxArgumentBytes) {
      return Status(ErrorCode::kTooBig, fmt::format("the arguments exceed {} bytes", kMaxArgumentBytes));
    }
    argv.push_back(text);
  }
  if (argv.front().empty()) return Status(ErrorCode::kInvalid, "the program name is empty");
  auto shell = fields.OptionalBool("shell", false);
  if (!shell.ok()) return shell.status();
  if (*shell) {
    if (!env_.exec_allow_shell) {
      return Status(ErrorCode::kNotPermitted,
                    "this server runs programs only without a shell (exec.allow_shell is off)");
    }
    if (argv.size() != 1) return Status(ErrorCode::kInvalid, "with 'shell', argv holds one command line");
    argv = {"/bin/sh", "-c", argv.front()};
  }
  return argv;
}

asio::awaitable<void> Session::Exec(const Json& id, const protocol::RequestFields& fields) {
  const std::uint64_t key = id.get<std::uint64_t>();
  auto argv = ExecArguments(fields);
  const std::string command = argv.ok() ? CommandText(*argv) : std::string();
  const auto refuse = [&](const Status& status) {
    Audit("exec", cwd_, status, std::nullopt, {}, command);
    ReplyError(id, status);
  };
  if (!argv.ok()) {
    refuse(argv.status());
    co_return;
  }
  auto with_stdin = fields.OptionalBool("stdin", false);
  if (!with_stdin.ok()) {
    refuse(with_stdin.status());
    co_return;
  }
  // Read on every request, so a change reaches sessions already open.
  auto permissions = env_.users->Permissions(user_);
  if (!permissions.ok() || !permissions->can_exec) {
    refuse(Status(ErrorCode::kNotPermitted, "this account may not run programs on the server"));
    co_return;
  }
  if (env_.launcher == nullptr) {
    refuse(env_.exec_unavailable);
    co_return;
  }
  auto slot = env_.exec_slots->Admit(user_);
  if (!slot) {
    refuse(Status(ErrorCode::kBusy, "too many programs are running on the server; try again later"));
    co_return;
  }
  auto cwd_fd = home_->OpenPath(cwd_, O_PATH | O_DIRECTORY);
  if (!cwd_fd.ok()) {
    refuse(cwd_fd.status());
    co_return;
  }
  LaunchRequest request;
  request.argv = std::move(argv).value();
  request.user = user_;
  request.home_path = env_.root->home_of(user_);
  request.cwd = cwd_;
  request.cwd_fd = cwd_fd->get();
  request.stdin_pipe = *with_stdin;
  // No single file may outgrow what is left of the quota.
  if (auto quota = env_.users->Quota(user_); quota.ok() && quota->max_bytes) {
    const storage::QuotaUsage usage = env_.quotas->Usage(user_);
    const std::uint64_t taken = usage.bytes + usage.reserved_bytes;
    request.max_file_size = taken < *quota->max_bytes ? *quota->max_bytes - taken : 0;
  }
  auto launched = env_.launcher->Launch(request);
  if (!launched.ok()) {
    refuse(launched.status());
    co_return;
  }
  LaunchedProcess& process = *launched;
  handle_->program = process.pid;
  ProgramGuard guard{process, *handle_};
  spdlog::info("{}: '{}' runs {}", peer_, user_, command);

  const auto executor = transport_.socket().get_executor();
  asio::posix::stream_descriptor out(executor, process.stdout_fd.Release());
  asio::posix::stream_descriptor err(executor, process.stderr_fd.Release());
  asio::posix::stream_descriptor in(executor);
  if (process.stdin_fd.valid()) in.assign(process.stdin_fd.Release());
  asio::posix::stream_descriptor exited(executor, process.pidfd.Release());
  asio::error_code ignored;
  out.non_blocking(true, ignored);
  err.non_blocking(true, ignored);

  bool timed_out = false;
  bool killed = false;         // by the client's exec_kill
  bool truncated = false;
  bool program_done = false;   // reaped
  bool output_done = false;    // both pipes at end of file
  int wait_status = 0;
  std::uint64_t output_bytes = 0;
  asio::steady_timer deadline(executor, env_.exec_time_limit);
  deadline.async_wait([&process, &timed_out](const asio::error_code& error) {
    if (error || process.pid <= 0) return;
    timed_out = true;
    CommandLauncher::KillTree(process);
  });
  asio::steady_timer drain(executor);

  Json started = protocol::OkReply(id);
  started["more"] = true;
  Reply(std::move(started));
  co_await Flush();

  // Output, in frames as it comes; beyond the output limit it is still read (so the program is not blocked) and
  // dropped.
  auto pump = [&]() -> asio::awaitable<void> {
    std::string buffer(kOutputChunk, '\0');
    bool out_open = true;
    bool err_open = true;
    while (out_open || err_open) {
      if (out_open && err_open) {
        co_await (out.async_wait(asio::posix::stream_descriptor::wait_read, kTuple) ||
                  err.async_wait(asio::posix::stream_descriptor::wait_read, kTuple));
      } else {
        co_await (out_open ? out : err).async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
      }
      for (auto [stream, open, name] : {std::tuple{&out, &out_open, "stdout"}, std::tuple{&err, &err_open, "stderr"}}) {
        if (!*open) continue;
        asio::error_code error;
        const std::size_t n = stream->read_some(asio::buffer(buffer), error);
        if (error == asio::error::would_block || error == asio::error::try_again) continue;
        if (error) {  // end of file, or closed after the drain time
          *open = false;
          continue;
        }
        const std::uint64_t room = env_.exec_output_limit > output_bytes ? env_.exec_output_limit - output_bytes : 0;
        const std::size_t send = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
        if (send < n) truncated = true;
        output_bytes += send;
        if (send == 0 || broken_) continue;
        Json frame = protocol::OkReply(id);
        frame["more"] = true;
        frame["stream"] = name;
        Reply(std::move(frame), std::string_view(buffer.data(), send));
        co_await Flush();
      }
    }
    output_done = true;
    drain.cancel();
  };

  auto wait_exit = [&]() -> asio::awaitable<void> {
    co_await exited.async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    // Whatever it left running goes with it; then its output has until the drain time to arrive.
    CommandLauncher::KillTree(process);
    wait_status = CommandLauncher::Reap(process);
    handle_->program = -1;
    program_done = true;
    if (in.is_open()) in.close(ignored);
    if (output_done) co_return;
    drain.expires_after(kDrainTime);
    auto [error] = co_await drain.async_wait(kTuple);
    if (!error) {
      out.close(ignored);
      err.close(ignored);
    }
  };

  auto run = [&]() -> asio::awaitable<void> {
    co_await (pump() && wait_exit());
    drain.cancel();
    deadline.cancel();
    Json tail = protocol::OkReply(id);
    tail["more"] = false;
    if (WIFEXITED(wait_status)) {
      tail["exit_code"] = WEXITSTATUS(wait_status);
    } else if (WIFSIGNALED(wait_status)) {
      tail["exit_code"] = 128 + WTERMSIG(wait_status);
      tail["signal"] = WTERMSIG(wait_status);
    }
    if (timed_out) tail["timed_out"] = true;
    if (killed) tail["killed"] = true;
    if (truncated) {
      tail["truncated"] = true;
      tail["output_limit"] = env_.exec_output_limit;
    }
    Reply(std::move(tail));
    co_await Flush();
    // The client's next request ends the input reader below; one that never comes must not hold the session.
    Arm(env_.idle_timeout);
  };

  // The client's input for the program, until the client sends another request (kept in deferred_) or goes away.
  auto read_input = [&]() -> asio::awaitable<void> {
    std::string buffer(kOutputChunk, '\0');
    while (true) {
      protocol::Frame frame;
      while (decoder_.Next(frame) == protocol::FrameDecoder::State::kFrame) {
        const auto op = frame.header.find("op");
        const auto ref = frame.header.find("ref");
        const bool ours = ref != frame.header.end() && ref->is_number_unsigned() && ref->get<std::uint64_t>() == key &&
                          protocol::RequestId(frame.header).is_null() && op != frame.header.end() && op->is_string();
        if (ours && *op == "exec_input") {
          if (!frame.body.empty() && in.is_open()) {
            auto [error, n] = co_await asio::async_write(in, asio::buffer(frame.body), kTuple);
            if (error) in.close(ignored);  // the program stopped reading: the rest of its input is dropped
          }
          if (frame.header.value("eof", false) && in.is_open()) in.close(ignored);
          continue;
        }
        if (ours && *op == "exec_kill") {
          if (!program_done) {
            killed = true;
            CommandLauncher::KillTree(process);
          }
          continue;
        }
        deferred_ = std::move(frame);
        co_return;
      }
      if (!decoder_.error().ok()) {
        spdlog::info("{}: malformed stream during a program, closing: {}", peer_, decoder_.error().ToString());
        CommandLauncher::KillTree(process);
        state_ = State::kClosing;
        co_return;
      }
      auto [error, n] = co_await transport_.ReadSome(buffer.data(), buffer.size());
      if (error) {
        // Gone: the program goes too.
        if (!program_done) spdlog::info("{}: disconnected while a program ran; killed it", peer_);
        CommandLauncher::KillTree(process);
        broken_ = true;
        co_return;
      }
      decoder_.Feed(std::string_view(buffer.data(), n));
    }
  };

  co_await (run() && read_input());
  Disarm();
  deadline.cancel();

  // The program may have written to the home: count it again.
  if (auto usage = storage::MeasureUsage(home_->fd(), partials_.get()); usage.ok()) {
    env_.quotas->Remeasure(user_, *usage);
  }
  const int exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  const Status result = timed_out ? Status(ErrorCode::kBusy, "time limit")
                        : exit_code == 0 ? Status::Ok()
                                         : Status(ErrorCode::kIo, fmt::format("exit status {}", exit_code));
  Audit("exec", cwd_, result, output_bytes, {}, command);
  spdlog::info("{}: '{}' program ended: exit status {}{}{}", peer_, user_, exit_code, timed_out ? " (time limit)" : "",
               truncated ? " (output truncated)" : "");
}

}  // namespace ferry::server
