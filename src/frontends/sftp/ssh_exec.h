// SshExec: a user's program run for an SSH "exec" request (`ssh host COMMAND`, `rsync -e ssh`), from its start to
// the exit status sent on the channel.
//
// The program comes from the ProgramService (permission, slots, sandbox, limits, audit); this moves its bytes. Like
// the rest of the SSH front end it is driven from the connection's loop: Step moves what can move without waiting
// (channel input to the program's stdin, its stdout and stderr to the channel, as far as the client's window lets),
// and wait_descriptor() becomes readable when one of the program's pipes or its pidfd needs a Step (an epoll
// descriptor whose interests Step keeps to what can move, so a full pipe or a closed window never spins the loop).
// States, in order: running; exited (reaped; what is left in its pipes drains, for at most kDrainTime); done (all
// output sent; Conclude sends the exit status).
// Limits: the time limit and the quota watch (the home counted every check interval, stopping the program once the
// user is past the quota) as for Ferry's exec. Output past the output limit stops the program rather than being
// dropped: an SSH channel is one byte stream, and output with a hole in it (rsync's protocol) is worse than an end.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "common/unique_fd.h"
#include "service/program_service.h"

struct ssh_channel_struct;

namespace ferry::frontends::sftp {

class SshExec {
 public:
  using Clock = std::chrono::steady_clock;
  // Once the program has exited, how long output still in its pipes may take to drain (a process that escaped its
  // process group could keep them open).
  static constexpr auto kDrainTime = std::chrono::seconds(2);
  // Output read ahead of the channel, per stream; past it the pipe fills and the program waits.
  static constexpr std::size_t kOutputAhead = 256 * 1024;

  SshExec(asio::any_io_executor executor, service::RunningProgram program, const service::ProgramPolicy& policy);
  SshExec(const SshExec&) = delete;
  SshExec& operator=(const SshExec&) = delete;

  // Moves what can move now: `input` (taken as far as the pipe takes it) to the program, its output to `channel`
  // (when `can_send`: libssh has nothing of its own waiting to go out). `input_eof`: the client sent EOF, so stdin
  // closes once `input` is written. Reaps the program once it has exited. True if anything moved.
  bool Step(ssh_channel_struct* channel, std::string& input, bool input_eof, bool can_send);
  // The time limit, and the quota count when one is due; call when the loop wakes at next_deadline().
  asio::awaitable<void> Tick();
  // When Tick has something to do next.
  Clock::time_point next_deadline() const;

  // Readable when a pipe or the pidfd has something for Step.
  asio::posix::stream_descriptor& wait_descriptor() { return wait_; }
  // The server is shutting down: the program is stopped (a transfer is let finish; a program is not).
  void ShutDown() { Stop(service::ProgramStop::kInterrupted, "the program was stopped: the server is shutting down"); }
  // The program has ended and been reaped.
  bool exited() const { return exited_; }
  // The program has ended and all its output has been given to the channel.
  bool done() const;
  // Sends what the user should know (a limit that stopped it), the exit status (or the signal that ended it), EOF
  // and close; writes the audit line. Call once, when done().
  void Conclude(ssh_channel_struct* channel);

 private:
  struct Stream {
    UniqueFd fd;
    bool watched = false;  // in the epoll set
    std::string pending;   // read from the pipe, not yet on the channel
    bool open() const { return fd.valid(); }
  };
  // Reads what the pipe has, up to kOutputAhead pending; false at its end. Output past the limit stops the program.
  bool Read(Stream& stream, bool& moved);
  bool Send(ssh_channel_struct* channel, Stream& stream, bool is_stderr);
  // Keeps `fd` in the epoll set for `events` (out of it for none).
  void Watch(const UniqueFd& fd, bool& watched, std::uint32_t events);
  void Close(UniqueFd& fd, bool& watched);
  void Stop(service::ProgramStop why, std::string message);

  service::RunningProgram program_;
  service::ProgramPolicy policy_;
  UniqueFd epoll_;
  asio::posix::stream_descriptor wait_;
  Stream out_;
  Stream err_;
  UniqueFd in_;
  bool in_watched_ = false;
  UniqueFd pidfd_;
  bool pidfd_watched_ = false;
  bool exited_ = false;
  bool finished_ = false;  // audited, slot given back
  int wait_status_ = 0;
  Clock::time_point time_limit_;
  Clock::time_point drain_until_;
  Clock::time_point next_quota_check_;
  service::ProgramStop stop_ = service::ProgramStop::kNone;
  std::string stop_message_;  // for the user's stderr, when the server stopped the program
  std::uint64_t output_bytes_ = 0;
};

}  // namespace ferry::frontends::sftp
