#include "support/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace ferry::testing {

RawClient::RawClient(std::uint16_t port, const std::string& host, const std::string& source) {
  const bool v6 = host.find(':') != std::string::npos;
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = -1;
  if (v6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &address.sin6_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    if (!source.empty()) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
        ADD_FAILURE() << "bind to " << source << ": " << std::strerror(errno);
      }
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (rc != 0) ADD_FAILURE() << "connect to port " << port << ": " << std::strerror(errno);
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RawClient::Reset() {
  if (fd_ < 0) return;
  const linger now{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  ::close(fd_);
  fd_ = -1;
}

bool RawClient::SendRaw(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawClient::SendFrame(const protocol::Json& header, const std::string& body) {
  return SendRaw(protocol::EncodeFrame(header, body));
}

std::optional<protocol::Frame> RawClient::ReadFrame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  protocol::Frame frame;
  while (true) {
    const auto state = decoder_.Next(frame);
    if (state == protocol::FrameDecoder::State::kFrame) return frame;
    if (state == protocol::FrameDecoder::State::kError) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    decoder_.Feed(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
  }
}

protocol::Json RawClient::Call(protocol::Json request) {
  const std::uint64_t id = next_id_++;
  request["id"] = id;
  if (!SendFrame(request)) return nullptr;
  while (auto frame = ReadFrame()) {
    if (frame->header.value("id", protocol::Json()) == id) return frame->header;
  }
  return nullptr;
}

bool RawClient::HelloAndLogin(const std::string& user, const std::string& password) {
  const auto hello = Call({{"op", "hello"}, {"versions", {1}}});
  if (hello.is_null() || !hello.value("ok", false)) return false;
  const auto login = Call({{"op", "login"}, {"user", user}, {"password", password}});
  return !login.is_null() && login.value("ok", false);
}

}  // namespace ferry::testing
