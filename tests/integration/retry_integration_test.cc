// A connection cut in the middle of a transfer: the client reconnects by itself and resumes, ending identical.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

// A loopback TCP proxy in front of the server that cuts its first connection after `cut_after` bytes have gone from
// the server to the client, or from the client to the server; later connections pass untouched.
class CuttingProxy {
 public:
  CuttingProxy(std::uint16_t server_port, std::uint64_t cut_after, bool cut_downstream)
      : server_port_(server_port), cut_after_(cut_after), cut_downstream_(cut_downstream) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listen_fd_, 8);
    socklen_t size = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CuttingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    std::vector<std::thread> pipes;
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(server_port_);
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      const bool cut = connections_++ == 0;
      pipes.emplace_back([this, client, server, cut] { Pump(client, server, cut); });
    }
    for (auto& pipe : pipes) pipe.join();
  }

  // Copies both ways until either side closes, the proxy stops, or the cut point is reached.
  void Pump(int client, int server, bool cut) {
    std::uint64_t counted = 0;
    char buffer[65536];
    while (!stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const int from = fds[i].fd;
        const int to = from == client ? server : client;
        const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n <= 0 || ::send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
          closed = true;
          break;
        }
        if (cut && (from == server) == cut_downstream_) {
          counted += static_cast<std::uint64_t>(n);
          if (counted >= cut_after_) closed = true;
        }
      }
      if (closed) break;
    }
    ::close(client);
    ::close(server);
  }

  std::uint16_t server_port_;
  std::uint64_t cut_after_;
  bool cut_downstream_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};


ProcessResult RunThroughProxy(const TestServer& server, std::uint16_t proxy_port, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FerryPath(), "--plain", "alice@127.0.0.1:" + std::to_string(proxy_port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", server.client_home()}}, "",
                    std::chrono::seconds(120));
}

TEST(RetryIntegration, DownloadCutMidwayReconnectsAndResumes) {
  TestServer server;
  ASSERT_TRUE(server.started());
  const std::string content = RandomBytes(64 * 1024 * 1024, 7);
  WriteFile(server.home("alice") + "/big.bin", content);
  CuttingProxy proxy(server.port(), 20 * 1024 * 1024, /*cut_downstream=*/true);
  TempDir local;
  const auto result = RunThroughProxy(server, proxy.port(), {"get", "big.bin", local / "big.bin"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GE(proxy.connections(), 2);
  EXPECT_NE(result.err.find("reconnecting"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("resumed after"), std::string::npos) << result.err;
  EXPECT_TRUE(ReadFile(local / "big.bin") == content);
  EXPECT_FALSE(Exists(local / ".big.bin.ferry-part"));
}

TEST(RetryIntegration, UploadCutMidwayReconnectsAndResumes) {
  TestServer server;
  ASSERT_TRUE(server.started());
  TempDir local;
  const std::string content = RandomBytes(64 * 1024 * 1024, 11);
  WriteFile(local / "big.bin", content);
  CuttingProxy proxy(server.port(), 20 * 1024 * 1024, /*cut_downstream=*/false);
  const auto result = RunThroughProxy(server, proxy.port(), {"put", local / "big.bin"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GE(proxy.connections(), 2);
  EXPECT_NE(result.err.find("reconnecting"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("resumed after"), std::string::npos) << result.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/big.bin") == content);
}

}  // namespace
}  // namespace ferry::testing
