#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

extern char** environ;

namespace ferry::testing {

Subprocess::Subprocess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  // A server logging thousands of connections between two reads of the test must not block on a full stderr pipe
  // (64 KiB by default); 1 MiB is the largest an unprivileged process may ask for. Best effort.
  ::fcntl(err_pipe[0], F_SETPIPE_SZ, 1 << 20);
  // Build argv and envp before fork: the child only calls async-signal-safe functions.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) {
    if (!value.empty()) env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::setsid();  // no controlling terminal: password prompts must fail, not hang
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  in_fd_ = in_pipe[1];
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  // Writing to a child that exited must not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  for (int fd : {in_fd_, out_fd_, err_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void Subprocess::CloseStdin(const std::string& input) {
  if (in_fd_ < 0) return;
  // Read the child's output while feeding it: a child that echoes its input (ferry exec -i cat) blocks writing to a
  // full stdout pipe and stops reading stdin, and a blocking write here would then wait for it forever.
  ::fcntl(in_fd_, F_SETFL, ::fcntl(in_fd_, F_GETFL) | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::size_t done = 0;
  while (done < input.size() && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::write(in_fd_, input.data() + done, input.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN) break;  // EPIPE: the child closed its stdin
    // Wait until stdin takes more or output arrives, and take the output.
    pollfd fds[3] = {{in_fd_, POLLOUT, 0}, {out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};  // fd -1 is ignored
    ::poll(fds, 3, 1000);
    if ((fds[1].revents | fds[2].revents) != 0) Drain(0);
  }
  ::close(in_fd_);
  in_fd_ = -1;
}

void Subprocess::Drain(int timeout_ms) {
  pollfd fds[2];
  int count = 0;
  if (out_fd_ >= 0) fds[count++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[count++] = {err_fd_, POLLIN, 0};
  if (count == 0) return;
  if (::poll(fds, static_cast<nfds_t>(count), timeout_ms) <= 0) return;
  for (int i = 0; i < count; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    char buffer[65536];
    const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
    const bool is_out = fds[i].fd == out_fd_;
    if (n <= 0) {
      ::close(fds[i].fd);
      (is_out ? out_fd_ : err_fd_) = -1;
    } else {
      (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    }
  }
}

const std::string& Subprocess::ReadStderrNow() {
  for (std::size_t before = err_.size() + 1; err_fd_ >= 0 && err_.size() != before;) {
    before = err_.size();
    Drain(0);
  }
  return err_;
}

std::optional<std::string> Subprocess::WaitForStderrLine(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::size_t line_end;
    while ((line_end = err_.find('\n', err_scanned_)) != std::string::npos) {
      std::string line = err_.substr(err_scanned_, line_end - err_scanned_);
      err_scanned_ = line_end + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || err_fd_ < 0) return std::nullopt;
    Drain(static_cast<int>(left.count()));
  }
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

ProcessResult Subprocess::Wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid_, SIGKILL);
      break;
    }
    Drain(static_cast<int>(std::min<long>(left.count(), 1000)));
  }
  if (!reaped_ && pid_ > 0) {
    if (result.timed_out) {
      ::waitpid(pid_, &status_, 0);
    } else {
      // Output closed; the child is exiting. Wait for it, but never beyond the deadline.
      while (::waitpid(pid_, &status_, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
          result.timed_out = true;
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status_, 0);
          break;
        }
        pollfd none{};
        ::poll(&none, 0, 10);
      }
    }
    reaped_ = true;
  }
  result.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  result.out = out_;
  result.err = err_;
  return result;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const std::string& input, std::chrono::milliseconds timeout) {
  Subprocess process(argv, env);
  process.CloseStdin(input);
  return process.Wait(timeout);
}

}  // namespace ferry::testing
