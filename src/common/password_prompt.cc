#include "common/password_prompt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry {

Result<std::string> ReadLineFromFd(int fd) {
  constexpr std::size_t kMaxLine = 4096;
  std::string line;
  char c = 0;
  while (line.size() < kMaxLine) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading a password");
    }
    if (n == 0) {
      // End of input (Ctrl-D at a terminal) before anything was typed: no answer, not an empty one.
      if (line.empty()) return Status(ErrorCode::kInvalid, "no password given (end of input)");
      break;
    }
    if (c == '\n') break;
    line += c;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, path);
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kInvalid, fmt::format("{}: not a regular file", path));
  if ((st.st_mode & 077) != 0) {
    return Status(ErrorCode::kAccessDenied,
                  fmt::format("{} may be read by others (mode {:04o}): chmod 600 {}", path, st.st_mode & 07777, path));
  }
  auto line = ReadLineFromFd(fd.get());
  if (!line.ok() || line->empty()) return Status(ErrorCode::kInvalid, fmt::format("{}: no password in it", path));
  return line;
}

Result<std::string> ReadSecretFromTerminal(std::string_view prompt) {
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!tty.valid()) {
    return Status(ErrorCode::kInvalid, "no terminal to ask for a password on (set FERRY_PASSWORD or use stdin)");
  }
  termios saved{};
  const bool is_terminal = ::tcgetattr(tty.get(), &saved) == 0;
  if (is_terminal) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  }
  [[maybe_unused]] const ssize_t written = ::write(tty.get(), prompt.data(), prompt.size());
  auto line = ReadLineFromFd(tty.get());
  if (is_terminal) ::tcsetattr(tty.get(), TCSAFLUSH, &saved);
  return line;
}

}  // namespace ferry
