#include "frontends/ferry/exec_run.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ferry/session.h"
#include "protocol/exec_operations.h"
#include "protocol/reply_fields.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;
using namespace asio::experimental::awaitable_operators;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Bytes read from the program's stdout or stderr at a time: one frame each.
constexpr std::size_t kOutputChunk = 64 * 1024;
// Once the program has exited, how long output still in its pipes may take to drain (a process that escaped its
// process group could keep them open).
constexpr auto kDrainTime = std::chrono::seconds(2);
asio::awaitable<void> Exec(Session& session, const Json& id, const protocol::RequestFields& fields) {
  auto request = protocol::ExecRequest::Parse(fields.header());
  if (!request.ok()) {
    session.ReplyError(id, request.status());
    co_return;
  }
  auto program =
      session.env().programs->Start(session.user(), session.cwd(), std::move(request->argv), request->shell,
                                    request->with_stdin);
  if (!program.ok()) {
    session.ReplyError(id, program.status());
    co_return;
  }
  ExecRun run(session, id, std::move(program).value());
  co_await run.Run();
}

}  // namespace

std::span<const Session::Operation> ExecOperations() {
  using enum Session::Operation::StateBits;
  static constexpr Session::Operation kOperations[] = {
      {"exec", kLoggedIn, nullptr, &Exec, nullptr},
  };
  return kOperations;
}

ExecRun::ExecRun(Session& session, Json id, service::RunningProgram program)
    : session_(session),
      id_(std::move(id)),
      key_(id_.get<std::uint64_t>()),
      program_(std::move(program)),
      out_(session.transport_.socket().get_executor(), program_.process().stdout_fd.Release()),
      err_(session.transport_.socket().get_executor(), program_.process().stderr_fd.Release()),
      in_(session.transport_.socket().get_executor()),
      exited_(session.transport_.socket().get_executor(), program_.process().pidfd.Release()),
      deadline_(session.transport_.socket().get_executor(), session.env_.programs->policy().time_limit),
      drain_(session.transport_.socket().get_executor()),
      quota_timer_(session.transport_.socket().get_executor()) {
  if (program_.process().stdin_fd.valid()) in_.assign(program_.process().stdin_fd.Release());
  asio::error_code ignored;
  out_.non_blocking(true, ignored);
  err_.non_blocking(true, ignored);
}

void ExecRun::Kill() { service::CommandLauncher::KillTree(program_.process()); }

asio::awaitable<void> ExecRun::Run() {
  session_.handle_->program = program_.process().pid;
  deadline_.async_wait([this](const asio::error_code& error) {
    if (error || state_ != State::kRunning) return;
    if (stop_ == service::ProgramStop::kNone) stop_ = service::ProgramStop::kTimeLimit;
    Kill();
  });
  session_.Reply(protocol::OkReply(id_, protocol::ExecStartReply{}));
  co_await session_.Flush();

  co_await (Conclude() && ReadInput());
  session_.Disarm();
  deadline_.cancel();
  program_.Finish({wait_status_, stop_, output_bytes_});
  const int exit_code = WIFEXITED(wait_status_) ? WEXITSTATUS(wait_status_) : 128 + WTERMSIG(wait_status_);
  spdlog::info("{}: '{}' program ended: exit status {}{}{}{}", session_.client_.peer, session_.user_->user(),
               exit_code, stop_ == service::ProgramStop::kTimeLimit ? " (time limit)" : "",
               stop_ == service::ProgramStop::kQuota ? " (past the quota)" : "",
               truncated_ ? " (output truncated)" : "");
}

asio::awaitable<void> ExecRun::PumpOutput() {
  std::string buffer(kOutputChunk, '\0');
  const std::uint64_t limit = session_.env_.programs->policy().output_limit;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    if (out_open && err_open) {
      co_await (out_.async_wait(asio::posix::stream_descriptor::wait_read, kTuple) ||
                err_.async_wait(asio::posix::stream_descriptor::wait_read, kTuple));
    } else {
      co_await (out_open ? out_ : err_).async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    }
    for (auto [stream, open, name] : {std::tuple{&out_, &out_open, protocol::OutputStream::kStdout},
                                      std::tuple{&err_, &err_open, protocol::OutputStream::kStderr}}) {
      if (!*open) continue;
      asio::error_code error;
      const std::size_t n = stream->read_some(asio::buffer(buffer), error);
      if (error == asio::error::would_block || error == asio::error::try_again) continue;
      if (error) {  // end of file, or closed after the drain time
        *open = false;
        continue;
      }
      const std::uint64_t room = limit > output_bytes_ ? limit - output_bytes_ : 0;
      const std::size_t send = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
      if (send < n) truncated_ = true;
      output_bytes_ += send;
      if (send == 0 || session_.broken_) continue;
      session_.Reply(protocol::OkReply(id_, protocol::ExecOutputReply{name}), std::string_view(buffer.data(), send));
      co_await session_.Flush();
    }
  }
  output_done_ = true;
  drain_.cancel();
}

asio::awaitable<void> ExecRun::WaitForExit() {
  co_await exited_.async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
  // Whatever it left running goes with it; then its output has until the drain time to arrive.
  Kill();
  wait_status_ = service::CommandLauncher::Reap(program_.process());
  session_.handle_->program = -1;
  if (session_.handle_->draining && stop_ == service::ProgramStop::kNone) {
    // SessionRegistry::DrainAll killed it: the server is shutting down.
    stop_ = service::ProgramStop::kInterrupted;
    stop_reason_ = "the server is shutting down";
  }
  state_ = State::kExited;
  quota_timer_.cancel();
  asio::error_code ignored;
  if (in_.is_open()) in_.close(ignored);
  if (output_done_) co_return;
  drain_.expires_after(kDrainTime);
  auto [error] = co_await drain_.async_wait(kTuple);
  if (!error) {
    out_.close(ignored);
    err_.close(ignored);
  }
}

asio::awaitable<void> ExecRun::WatchQuota() {
  const auto interval = session_.env_.programs->policy().quota_check_interval;
  std::chrono::steady_clock::duration wait = interval;
  while (state_ == State::kRunning) {
    quota_timer_.expires_after(wait);
    auto [error] = co_await quota_timer_.async_wait(kTuple);
    if (error || state_ != State::kRunning) co_return;
    const auto started = std::chrono::steady_clock::now();
    std::optional<std::string> passed = co_await program_.CheckQuota();
    // A home that takes long to count is counted less often: counting takes at most a fifth of the pool's time.
    wait = std::max<std::chrono::steady_clock::duration>(interval, 4 * (std::chrono::steady_clock::now() - started));
    if (passed && state_ == State::kRunning) {
      if (stop_ == service::ProgramStop::kNone) {
        stop_ = service::ProgramStop::kQuota;
        stop_reason_ = std::move(*passed);
      }
      Kill();
      co_return;
    }
  }
}

Json ExecRun::Tail() const {
  protocol::ExecEndReply end;
  if (WIFEXITED(wait_status_)) {
    end.exit_code = WEXITSTATUS(wait_status_);
  } else if (WIFSIGNALED(wait_status_)) {
    end.exit_code = 128 + WTERMSIG(wait_status_);
    end.signal = WTERMSIG(wait_status_);
  }
  end.timed_out = stop_ == service::ProgramStop::kTimeLimit;
  end.killed = stop_ == service::ProgramStop::kInterrupted && stop_reason_.empty();
  if (!stop_reason_.empty()) end.stopped = stop_reason_;
  end.truncated = truncated_;
  if (truncated_) end.output_limit = session_.env().programs->policy().output_limit;
  return protocol::OkReply(id_, end);
}

asio::awaitable<void> ExecRun::Conclude() {
  co_await (PumpOutput() && WaitForExit() && WatchQuota());
  drain_.cancel();
  deadline_.cancel();
  state_ = State::kEnded;
  session_.Reply(Tail());
  co_await session_.Flush();
  // The client's next request ends the input reader; one that never comes must not hold the session.
  session_.Arm(session_.env_.idle_timeout);
  if (reading_) {
    // The reader's wait, begun while the program ran, is now the session's idle moment (see ReadInput). If the server
    // is shutting down already (it stopped the program), the wait ends and the session says why it closes.
    session_.handle_->idle = true;
    if (session_.handle_->draining) {
      asio::error_code ignored;
      session_.transport_.socket().cancel(ignored);
    }
  }
}

asio::awaitable<bool> ExecRun::TakeInput(protocol::Frame& frame) {
  // Input for the program is id-less and refers to the exec; anything else is the client's next request.
  const auto op = frame.header.find("op");
  if (op == frame.header.end() || !op->is_string() || !protocol::RequestId(frame.header).is_null()) co_return false;
  if (*op == protocol::ExecInputFrame::kOp) {
    auto input = protocol::ExecInputFrame::Parse(frame.header);
    if (!input.ok() || input->ref != key_) co_return false;
    asio::error_code ignored;
    if (!frame.body.empty() && in_.is_open()) {
      auto [error, n] = co_await asio::async_write(in_, asio::buffer(frame.body), kTuple);
      if (error) in_.close(ignored);  // the program stopped reading: the rest of its input is dropped
    }
    if (input->eof && in_.is_open()) in_.close(ignored);
    co_return true;
  }
  if (*op == protocol::ExecKillFrame::kOp) {
    auto kill = protocol::ExecKillFrame::Parse(frame.header);
    if (!kill.ok() || kill->ref != key_) co_return false;
    if (state_ == State::kRunning) {
      if (stop_ == service::ProgramStop::kNone) stop_ = service::ProgramStop::kInterrupted;
      Kill();
    }
    co_return true;
  }
  co_return false;
}

asio::awaitable<void> ExecRun::ReadInput() {
  std::string buffer(kOutputChunk, '\0');
  while (true) {
    protocol::Frame frame;
    while (session_.decoder_.Next(frame) == protocol::FrameDecoder::State::kFrame) {
      if (!co_await TakeInput(frame)) {
        session_.deferred_ = std::move(frame);
        co_return;
      }
    }
    if (!session_.decoder_.error().ok()) {
      spdlog::info("{}: malformed stream during a program, closing: {}", session_.client_.peer,
                   session_.decoder_.error().ToString());
      Kill();
      session_.state_ = Session::State::kClosing;
      co_return;
    }
    // Once the program has ended, waiting for the client's next request is a session's idle moment: a shutdown ends
    // it (SessionRegistry::DrainAll cancels the read, or has already begun), and the session says why it closes.
    const bool ended = state_ == State::kEnded;
    if (ended && session_.handle_->draining) co_return;
    session_.handle_->idle = ended;
    reading_ = true;
    auto [error, n] = co_await session_.transport_.ReadSome(buffer.data(), buffer.size());
    reading_ = false;
    session_.handle_->idle = false;
    if (error && session_.handle_->draining && error == asio::error::operation_aborted &&
        !session_.handle_->watchdog_fired) {
      co_return;
    }
    if (error) {
      // Gone: the program goes too.
      if (state_ == State::kRunning) {
        spdlog::info("{}: disconnected while a program ran; killed it", session_.client_.peer);
        if (stop_ == service::ProgramStop::kNone) stop_ = service::ProgramStop::kDisconnected;
      }
      Kill();
      session_.broken_ = true;
      co_return;
    }
    session_.decoder_.Feed(std::string_view(buffer.data(), n));
  }
}

}  // namespace ferry::frontends::native
