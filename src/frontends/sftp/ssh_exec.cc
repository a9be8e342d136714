#include "frontends/sftp/ssh_exec.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/byte_size.h"

namespace ferry::frontends::sftp {
namespace {

// Bytes read from a pipe, or given to libssh, at a time.
constexpr std::size_t kChunk = 64 * 1024;

void SetNonBlocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

SshExec::SshExec(asio::any_io_executor executor, service::RunningProgram program,
                 const service::ProgramPolicy& policy)
    : program_(std::move(program)),
      policy_(policy),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wait_(executor),
      time_limit_(Clock::now() + policy.time_limit),
      next_quota_check_(Clock::now() + policy.quota_check_interval) {
  service::LaunchedProcess& process = program_.process();
  out_.fd = std::move(process.stdout_fd);
  err_.fd = std::move(process.stderr_fd);
  in_ = std::move(process.stdin_fd);
  pidfd_ = std::move(process.pidfd);
  for (const int fd : {out_.fd.get(), err_.fd.get(), in_.get(), pidfd_.get()}) SetNonBlocking(fd);
  if (epoll_.valid()) wait_.assign(::dup(epoll_.get()));
}

void SshExec::Watch(const UniqueFd& fd, bool& watched, std::uint32_t events) {
  // Not watched at all rather than watched for nothing: epoll reports a hang-up whatever the interests.
  if (!fd.valid() || events == 0) {
    if (watched && fd.valid()) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd.get(), nullptr);
    watched = false;
    return;
  }
  epoll_event event{};
  event.events = events;
  event.data.fd = fd.get();
  if (::epoll_ctl(epoll_.get(), watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd.get(), &event) == 0) watched = true;
}

void SshExec::Close(UniqueFd& fd, bool& watched) {
  Watch(fd, watched, 0);
  fd.Reset();
}

void SshExec::Stop(service::ProgramStop why, std::string message) {
  if (stop_ == service::ProgramStop::kNone) {
    stop_ = why;
    stop_message_ = std::move(message);
  }
  if (exited_) return;
  service::CommandLauncher::KillTree(program_.process());
  // Nothing more to time or count: the pidfd says when it is gone.
  time_limit_ = next_quota_check_ = Clock::time_point::max();
}

bool SshExec::Read(Stream& stream, bool& moved) {
  char buffer[kChunk];
  while (stream.pending.size() < kOutputAhead) {
    const std::size_t want = std::min(kChunk, kOutputAhead - stream.pending.size());
    const ssize_t n = ::read(stream.fd.get(), buffer, want);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      // Empty for now: once the program has gone, a pipe still empty at the drain time is held open by something
      // that escaped it, and is given up.
      return errno == EAGAIN && !(exited_ && Clock::now() >= drain_until_);
    }
    moved = true;
    if (stop_ == service::ProgramStop::kOutputLimit) continue;  // stopped for it: the rest goes nowhere
    const std::uint64_t room = policy_.output_limit > output_bytes_ ? policy_.output_limit - output_bytes_ : 0;
    const std::size_t kept = static_cast<std::size_t>(std::min<std::uint64_t>(room, static_cast<std::uint64_t>(n)));
    stream.pending.append(buffer, kept);
    output_bytes_ += kept;
    if (kept < static_cast<std::size_t>(n)) {
      Stop(service::ProgramStop::kOutputLimit,
           fmt::format("the program was stopped: its output passed the limit of {} (exec.output_limit_bytes)",
                       HumanBytes(static_cast<double>(policy_.output_limit))));
    }
  }
  return true;
}

bool SshExec::Send(ssh_channel channel, Stream& stream, bool is_stderr) {
  bool moved = false;
  while (!stream.pending.empty() && ssh_channel_is_open(channel)) {
    const auto length = static_cast<uint32_t>(std::min(kChunk, stream.pending.size()));
    const int n = is_stderr ? ssh_channel_write_stderr(channel, stream.pending.data(), length)
                            : ssh_channel_write(channel, stream.pending.data(), length);
    if (n < 0) {  // the channel broke: nobody receives the rest
      stream.pending.clear();
      break;
    }
    if (n == 0) break;  // the client's window is closed
    stream.pending.erase(0, static_cast<std::size_t>(n));
    moved = true;
    // What libssh could not send yet waits in its buffer: no more until it has gone.
    if ((ssh_get_status(ssh_channel_get_session(channel)) & SSH_WRITE_PENDING) != 0) break;
  }
  return moved;
}

bool SshExec::Step(ssh_channel channel, std::string& input, bool input_eof, bool can_send) {
  bool moved = false;
  if (!exited_) {
    pollfd exited{pidfd_.get(), POLLIN, 0};
    if (::poll(&exited, 1, 0) > 0) {
      // Whatever it left running goes with it; then its output has until the drain time to arrive.
      service::CommandLauncher::KillTree(program_.process());
      wait_status_ = service::CommandLauncher::Reap(program_.process());
      exited_ = true;
      drain_until_ = Clock::now() + kDrainTime;
      Close(pidfd_, pidfd_watched_);
      moved = true;
    }
  }
  if (in_.valid() && !exited_) {
    while (!input.empty()) {
      const ssize_t n = ::write(in_.get(), input.data(), input.size());
      if (n > 0) {
        input.erase(0, static_cast<std::size_t>(n));
        moved = true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      input.clear();  // the program stopped reading: the rest of its input is dropped
      Close(in_, in_watched_);
    }
    if (in_.valid() && input.empty() && input_eof) Close(in_, in_watched_);
  }
  if (exited_ && in_.valid()) Close(in_, in_watched_);
  if (!in_.valid()) input.clear();
  for (Stream* stream : {&out_, &err_}) {
    if (stream->open() && stream->pending.size() < kOutputAhead && !Read(*stream, moved)) {
      Close(stream->fd, stream->watched);
    }
  }
  if (exited_ && !out_.open() && !err_.open() && !finished_) {
    // All its output is in: the program's slot goes back and its audit line is written now, whether or not the
    // client ever reads the rest.
    program_.Finish({wait_status_, stop_, output_bytes_});
    finished_ = true;
  }
  if (can_send) {
    moved = Send(channel, out_, false) || moved;
    moved = Send(channel, err_, true) || moved;
  }
  for (Stream* stream : {&out_, &err_}) {
    Watch(stream->fd, stream->watched, stream->pending.size() < kOutputAhead ? std::uint32_t{EPOLLIN} : 0u);
  }
  Watch(in_, in_watched_, input.empty() ? 0u : std::uint32_t{EPOLLOUT});
  Watch(pidfd_, pidfd_watched_, std::uint32_t{EPOLLIN});
  return moved;
}

SshExec::Clock::time_point SshExec::next_deadline() const {
  if (exited_) {
    // The drain time matters only for a pipe being read: one held back for a slow client waits for the client.
    const auto reading = [](const Stream& stream) { return stream.open() && stream.pending.size() < kOutputAhead; };
    return reading(out_) || reading(err_) ? drain_until_ : Clock::time_point::max();
  }
  return std::min(time_limit_, next_quota_check_);
}

asio::awaitable<void> SshExec::Tick() {
  if (exited_) co_return;
  const auto now = Clock::now();
  if (now >= time_limit_) {
    Stop(service::ProgramStop::kTimeLimit,
         fmt::format("the program was stopped after the time limit of {} s (exec.time_limit_seconds)",
                     policy_.time_limit.count()));
    co_return;
  }
  if (now < next_quota_check_) co_return;
  std::optional<std::string> passed = co_await program_.CheckQuota();
  if (next_quota_check_ == Clock::time_point::max()) co_return;  // stopped meanwhile
  // A home that takes long to count is counted less often: counting takes at most a fifth of the pool's time.
  const auto took = Clock::now() - now;
  next_quota_check_ = Clock::now() + std::max<Clock::duration>(policy_.quota_check_interval, 4 * took);
  if (passed) Stop(service::ProgramStop::kQuota, std::move(*passed));
}

bool SshExec::done() const {
  return exited_ && !out_.open() && !err_.open() && out_.pending.empty() && err_.pending.empty();
}

void SshExec::Conclude(ssh_channel channel) {
  if (!stop_message_.empty() && ssh_channel_is_open(channel)) {
    const std::string line = fmt::format("ferryd: {}\n", stop_message_);
    ssh_channel_write_stderr(channel, line.data(), static_cast<uint32_t>(line.size()));
  }
  if (ssh_channel_is_open(channel)) {
    if (WIFSIGNALED(wait_status_)) {
      const char* name = ::sigabbrev_np(WTERMSIG(wait_status_));
      ssh_channel_request_send_exit_signal(channel, name != nullptr ? name : "KILL", WCOREDUMP(wait_status_) ? 1 : 0,
                                           "", "");
    } else {
      ssh_channel_request_send_exit_status(channel, WIFEXITED(wait_status_) ? WEXITSTATUS(wait_status_) : 1);
    }
    ssh_channel_send_eof(channel);
    ssh_channel_close(channel);
  }
  if (!finished_) program_.Finish({wait_status_, stop_, output_bytes_});
  finished_ = true;
}

}  // namespace ferry::frontends::sftp
