// Subprocess: runs a program with pipes for stdin, stdout and stderr, and waits for it with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  // Starts `argv` with the current environment plus `env` (a value of "" removes the variable).
  Subprocess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
  ~Subprocess();  // kills and reaps the child if it is still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Writes to the child's stdin and closes it.
  void CloseStdin(const std::string& input = "");
  // Reads stderr until a line containing `needle` appears; returns that line, or nullopt at EOF or the deadline.
  std::optional<std::string> WaitForStderrLine(const std::string& needle, std::chrono::milliseconds timeout);
  // Sends `signal` to the child.
  void Signal(int signal);
  // Collects all output and waits for exit; kills the child (SIGKILL) at the deadline.
  ProcessResult Wait(std::chrono::milliseconds timeout);
  // Reads what the child has written to stderr until now, without waiting; returns all of stderr read so far.
  const std::string& ReadStderrNow();
  // Everything read from stderr so far.
  const std::string& stderr_so_far() const { return err_; }

 private:
  void Drain(int timeout_ms);

  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::size_t err_scanned_ = 0;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a program to completion with `input` on stdin.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace ferry::testing
