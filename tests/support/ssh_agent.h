// SshAgent: a real OpenSSH ssh-agent on a socket in a folder of the test's, for as long as the object lives.
#pragma once

#include <memory>
#include <string>

#include "support/subprocess.h"

namespace ferry::testing {

class SshAgent {
 public:
  // Starts ssh-agent listening on FOLDER/agent.sock and waits (bounded) for the socket; started() says if it came.
  explicit SshAgent(const std::string& folder);
  bool started() const { return started_; }
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
  std::unique_ptr<Subprocess> process_;
  bool started_ = false;
};

}  // namespace ferry::testing
