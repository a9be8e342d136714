// CommandRunner::Exec: a program run on the server, its stdout and stderr written here as they arrive.
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "client/commands.h"
#include "common/byte_size.h"

namespace ferry::client {
namespace {

// Bytes of our stdin sent per frame.
constexpr std::size_t kInputChunk = 64 * 1024;

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
  Json argv = Json::array();
  for (std::size_t i = first; i < args.size(); ++i) argv.push_back(args[i]);
  if (shell && argv.size() != 1) {
    return Status(ErrorCode::kInvalid, "exec --shell takes the command line as one argument: exec --shell 'ls | wc -l'");
  }
  // Output written so far goes out first, so that the program's output follows it.
  out_.flush();

  auto id = connection().Send(Json{{"op", "exec"}, {"argv", argv}, {"shell", shell}, {"stdin", with_stdin}});
  if (!id.ok()) return id.status();
  auto started = connection().AwaitReply(*id);
  if (!started.ok()) return started.status();

  bool input_open = with_stdin;
  std::string input(kInputChunk, '\0');
  while (true) {
    if (input_open) {
      auto ready = connection().WaitReadable(STDIN_FILENO);
      if (!ready.ok()) return ready.status();
      if (ready->second) {
        const ssize_t n = ::read(STDIN_FILENO, input.data(), input.size());
        if (n < 0 && errno == EINTR) continue;
        Json frame{{"op", "exec_input"}, {"ref", *id}};
        if (n <= 0) {
          frame["eof"] = true;
          input_open = false;
        }
        const std::string_view body(input.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        if (Status s = connection().SendFrame(std::move(frame), body); !s.ok()) return s;
      }
      if (!ready->first) continue;
    }
    auto frame = connection().AwaitReply(*id);
    if (!frame.ok()) return frame.status();
    const Json& header = frame->header;
    if (header.value("more", false)) {
      const bool to_stderr = header.value("stream", std::string()) == "stderr";
      if (!to_stderr) out_.flush();
      if (Status s = WriteAllTo(to_stderr ? STDERR_FILENO : STDOUT_FILENO, frame->body); !s.ok()) return s;
      continue;
    }
    // The last frame: how the program ended.
    if (header.value("truncated", false)) {
      std::cerr << fmt::format("ferry: output truncated: the server sends at most {} of a program's output\n",
                               HumanBytes(static_cast<double>(header.value("output_limit", 0ull))));
    }
    const int code = header.value("exit_code", 255);
    exec_exit_code_ = code;
    if (header.value("timed_out", false)) {
      return Status(ErrorCode::kBusy, "the program reached the server's time limit and was stopped");
    }
    if (code != 0) {
      return Status(ErrorCode::kIo, header.contains("signal")
                                        ? fmt::format("{} was killed by signal {}", args[first], header.value("signal", 0))
                                        : fmt::format("{} exited with status {}", args[first], code));
    }
    return Status::Ok();
  }
}

}  // namespace ferry::client
