#include "support/ssh_agent.h"

#include <sys/stat.h>

#include <chrono>
#include <thread>

namespace ferry::testing {

SshAgent::SshAgent(const std::string& folder) : socket_(folder + "/agent.sock") {
  process_ = std::make_unique<Subprocess>(std::vector<std::string>{"/usr/bin/ssh-agent", "-D", "-a", socket_});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  struct stat st {};
  while (!(started_ = ::stat(socket_.c_str(), &st) == 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace ferry::testing
