// ExecRun: one program started by an exec request, from its start frame to its tail frame.
//
// While it runs the session reads only the client's input for it (exec_input, exec_kill) and keeps any other request
// for afterwards; the program's stdout and stderr go back as frames as they come. States, in order:
//   kRunning  the program runs; output and input flow.
//   kExited   it has been reaped; what is left in its pipes drains (for at most kDrainTime).
//   kEnded    the tail frame is out; the run waits for the client's next request (or its going) to end.
// While it runs, the user's home is counted every check interval and the program stopped once the user is past the
// quota. The rules (permission, slots, audit, counting the home) are the ProgramService's.
#pragma once

#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "protocol/frame.h"
#include "service/program_service.h"

namespace ferry::frontends::native {

class Session;

class ExecRun {
 public:
  // REQUIRES: `session` outlives the run.
  ExecRun(Session& session, protocol::Json id, service::RunningProgram program);
  ExecRun(const ExecRun&) = delete;
  ExecRun& operator=(const ExecRun&) = delete;

  // Runs the program to its end and sends the tail frame; returns once the client has sent its next request (kept
  // for the session) or has gone.
  asio::awaitable<void> Run();

 private:
  enum class State { kRunning, kExited, kEnded };

  // Output, in frames as it comes; beyond the output limit it is still read (so the program is not blocked) and
  // dropped.
  asio::awaitable<void> PumpOutput();
  // Waits for the program to exit, reaps it, and gives its output the drain time to arrive.
  asio::awaitable<void> WaitForExit();
  // While the program runs, counts the user's home every check interval (or, for a home slow to count, four times
  // as long as a count took after each count) and stops the program once it has taken the user past the quota.
  asio::awaitable<void> WatchQuota();
  // Both of the above, then the tail frame.
  asio::awaitable<void> Conclude();
  // The client's input for the program, until the client sends another request or goes away.
  asio::awaitable<void> ReadInput();
  // Handles one frame the client sent while the program ran; false when it is the next request (kept).
  asio::awaitable<bool> TakeInput(protocol::Frame& frame);
  protocol::Json Tail() const;
  void Kill();

  Session& session_;
  protocol::Json id_;
  std::uint64_t key_;
  service::RunningProgram program_;
  State state_ = State::kRunning;
  asio::posix::stream_descriptor out_;
  asio::posix::stream_descriptor err_;
  asio::posix::stream_descriptor in_;
  asio::posix::stream_descriptor exited_;
  asio::steady_timer deadline_;
  asio::steady_timer drain_;
  asio::steady_timer quota_timer_;
  service::ProgramStop stop_ = service::ProgramStop::kNone;  // why the server stopped it, if it did
  std::string stop_reason_;  // for the user, when the quota or a shutdown stopped it
  bool reading_ = false;     // ReadInput waits for the client's next bytes
  bool truncated_ = false;
  bool output_done_ = false;  // both pipes at end of file
  int wait_status_ = 0;
  std::uint64_t output_bytes_ = 0;
};

}  // namespace ferry::frontends::native
