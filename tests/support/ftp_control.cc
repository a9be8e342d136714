#include "support/ftp_control.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

namespace ferry::testing {
namespace {

constexpr int kWaitMs = 20000;

bool WaitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kWaitMs) == 1;
}

}  // namespace

int ConnectLoopback(std::uint16_t port, const std::string& source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ReadAllAndClose(int fd) {
  std::string out;
  char buffer[65536];
  while (WaitReadable(fd)) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void WriteAllAndClose(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

FtpControl::FtpControl(std::uint16_t port, const std::string& source) {
  fd_ = ConnectLoopback(port, source);
  if (fd_ < 0) {
    ADD_FAILURE() << "connect to FTP port " << port << ": " << std::strerror(errno);
    return;
  }
  greeting_ = Read();
}

FtpControl::~FtpControl() {
  if (fd_ >= 0) ::close(fd_);
}

void FtpControl::SendRaw(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

FtpReply FtpControl::Command(const std::string& line) {
  SendRaw(line + "\r\n");
  return Read();
}

FtpReply FtpControl::Read() {
  while (true) {
    // A reply is "CODE text", or "CODE-text" lines up to one that starts "CODE ".
    std::size_t position = 0;
    std::string code;
    while (true) {
      const std::size_t end = buffer_.find("\r\n", position);
      if (end == std::string::npos) break;
      const std::string line = buffer_.substr(position, end - position);
      position = end + 2;
      const bool ends = line.size() >= 3 && (line.size() == 3 || line[3] == ' ');
      if (code.empty()) {
        if (line.size() < 3) continue;
        code = line.substr(0, 3);
        if (!ends) continue;
      } else if (!(ends && line.compare(0, 3, code) == 0)) {
        continue;
      }
      FtpReply reply;
      reply.code = std::atoi(code.c_str());
      reply.text = buffer_.substr(0, position);
      buffer_.erase(0, position);
      return reply;
    }
    if (fd_ < 0 || !WaitReadable(fd_)) return {};
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return {};
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool FtpControl::Closed() {
  char chunk[4096];
  while (WaitReadable(fd_)) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return true;
  }
  return false;
}

bool FtpControl::Login(const std::string& user, const std::string& password) {
  if (Command("USER " + user).code != 331) return false;
  return Command("PASS " + password).code == 230;
}

int FtpControl::OpenPassive(const std::string& source) {
  const FtpReply reply = Command("EPSV");
  if (reply.code != 229) return -1;
  const auto open = reply.text.find("|||");
  if (open == std::string::npos) return -1;
  const int port = std::stoi(reply.text.substr(open + 3));
  return ConnectLoopback(static_cast<std::uint16_t>(port), source);
}

}  // namespace ferry::testing
