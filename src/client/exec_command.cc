// CommandRunner::Exec: a program run on the server, its stdout and stderr written here as they arrive.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "client/commands.h"
#include "common/byte_size.h"

namespace ferry::client {
namespace {

// Bytes of our stdin sent per frame.
constexpr std::size_t kInputChunk = 64 * 1024;

// Ctrl-C while a program runs stops the program, not the client: the handler only records it.
volatile std::sig_atomic_t interrupt_requested = 0;

void OnInterrupt(int) { interrupt_requested = 1; }

// Installs OnInterrupt for SIGINT and puts back what was there. SA_RESTART lets reads and writes on the connection
// go on undisturbed; poll(2), which the kernel never restarts, returns so the loop can see the request.
class InterruptCatcher {
 public:
  InterruptCatcher() {
    interrupt_requested = 0;
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptCatcher() { ::sigaction(SIGINT, &previous_, nullptr); }
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;

 private:
  struct sigaction previous_ {};
};

Status WriteAllTo(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, fd == STDOUT_FILENO ? "writing to stdout" : "writing to stderr");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status CommandRunner::Exec(const std::vector<std::string>& args) {
  exec_exit_code_.reset();
  bool with_stdin = false;
  bool shell = false;
  std::size_t first = 1;
  // Options come before the program; everything from the program on is its own.
  for (; first < args.size(); ++first) {
    if (args[first] == "-i") {
      with_stdin = true;
    } else if (args[first] == "--shell") {
      shell = true;
    } else if (args[first] == "--") {
      ++first;
      break;
    } else {
      break;
    }
  }
  if (first >= args.size()) return Status(ErrorCode::kInvalid, "usage: exec [-i] [--shell] PROGRAM [ARGS...]");
  protocol::ExecRequest request{{args.begin() + static_cast<std::ptrdiff_t>(first), args.end()}, shell, with_stdin};
  if (shell && request.argv.size() != 1) {
    return Status(ErrorCode::kInvalid, "exec --shell takes the command line as one argument: exec --shell 'ls | wc -l'");
  }
  // Output written so far goes out first, so that the program's output follows it.
  out_.flush();

  auto id = connection().Send(request.Encode());
  if (!id.ok()) return id.status();
  auto started = connection().AwaitReply(*id);
  // A program the server cannot find: a shell's exit status for it.
  if (!started.ok() && started.status().code() == ErrorCode::kNotFound) exec_exit_code_ = 127;
  if (!started.ok()) return started.status();
  if (Status s = protocol::ExecStartReply::Parse(started->header).status(); !s.ok()) return s;

  InterruptCatcher catcher;
  bool kill_sent = false;
  bool input_open = with_stdin;
  std::string input(kInputChunk, '\0');
  while (true) {
    auto ready = connection().WaitReadable(input_open ? STDIN_FILENO : -1, /*return_on_signal=*/true);
    if (!ready.ok()) return ready.status();
    if (interrupt_requested && !kill_sent) {
      kill_sent = true;
      if (Status s = connection().SendFrame(protocol::ExecKillFrame{*id}.Encode(), {}); !s.ok()) return s;
    }
    if (input_open) {
      if (ready->second) {
        const ssize_t n = ::read(STDIN_FILENO, input.data(), input.size());
        if (n < 0 && errno == EINTR) continue;
        const protocol::ExecInputFrame frame{*id, /*eof=*/n <= 0};
        if (frame.eof) input_open = false;
        const std::string_view body(input.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        if (Status s = connection().SendFrame(frame.Encode(), body); !s.ok()) return s;
      }
    }
    if (!ready->first) continue;
    auto frame = connection().AwaitReply(*id);
    if (!frame.ok()) return frame.status();
    auto more = protocol::MoreFollows(frame->header);
    if (!more.ok()) return more.status();
    if (*more) {
      auto output = protocol::ExecOutputReply::Parse(frame->header);
      if (!output.ok()) return output.status();
      const bool to_stderr = output->stream == protocol::OutputStream::kStderr;
      if (!to_stderr) out_.flush();
      if (Status s = WriteAllTo(to_stderr ? STDERR_FILENO : STDOUT_FILENO, frame->body); !s.ok()) return s;
      continue;
    }
    // The last frame: how the program ended.
    auto end = protocol::ExecEndReply::Parse(frame->header);
    if (!end.ok()) return end.status();
    if (end->truncated) {
      std::cerr << fmt::format("ferry: output truncated: the server sends at most {} of a program's output\n",
                               HumanBytes(static_cast<double>(end->output_limit)));
    }
    exec_exit_code_ = end->exit_code;
    if (end->killed) return Status(ErrorCode::kIo, fmt::format("{} was stopped (interrupted)", args[first]));
    if (end->stopped) return Status(ErrorCode::kQuota, fmt::format("{} was stopped: {}", args[first], *end->stopped));
    if (end->timed_out) {
      return Status(ErrorCode::kBusy, "the program reached the server's time limit and was stopped");
    }
    if (end->exit_code != 0) {
      return Status(ErrorCode::kIo, end->signal ? fmt::format("{} was killed by signal {}", args[first], *end->signal)
                                                : fmt::format("{} exited with status {}", args[first], end->exit_code));
    }
    return Status::Ok();
  }
}

}  // namespace ferry::client
