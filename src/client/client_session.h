// ClientSession: a logged-in connection to one server, which can be re-established after a drop (for retried
// transfers) with the same identity checks and credentials.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/command_line.h"
#include "client/connection.h"
#include "client/identity.h"
#include "common/status.h"

namespace ferry::client {

struct SessionParameters {
  Target target;              // user filled in
  bool tls = true;
  bool accept_new_host = false;
  std::string known_hosts_path;
  // Asked once, after the server's identity is checked and before the first login; the answer is kept for
  // reconnections.
  std::function<Result<std::string>()> ask_password;
  // The answer came from a person at a prompt: after a wrong password, ask again on the same connection (as ssh
  // does) while the server allows (it closes the connection after its max_login_attempts).
  bool ask_again = false;
  // `ferry -i FILE`: log in with this key instead of a password (Identity); the agent is SSH_AUTH_SOCK's.
  std::string identity_file;
  std::string agent_socket;
};

class ClientSession {
 public:
  explicit ClientSession(SessionParameters parameters) : parameters_(std::move(parameters)) {}

  // Connects, checks the server's identity (trust on first use), negotiates the protocol and logs in.
  Status Open();
  // Opens a fresh connection after a drop and returns to the remote folder the session was in.
  Status Reconnect(const std::string& remote_cwd);
  // Reconnect, tried up to kReconnectTries times with 0.5, 1, 2 and 4 s between tries (a restarting server needs a
  // moment before it listens again), as every shell command and every transfer does after a drop. `warn` hears of
  // each failed try. A Ctrl-C in the shell (interrupt.h) stops trying. Not retried: a refused login or server
  // identity, which another try cannot change.
  Status ReconnectWithBackoff(const std::string& remote_cwd, const std::function<void(const std::string&)>& warn);
  static constexpr int kReconnectTries = 4;
  Connection& connection() { return *connection_; }
  bool connected() const { return connection_ && connection_->connected(); }
  const SessionParameters& parameters() const { return parameters_; }

 private:
  // After the first exchange failed: a message that says whether the server is a Ferry server speaking the other
  // way (TLS or --plain), found out on a connection of its own, else `failure` with a question.
  Status ExplainMismatch(Status failure) const;
  // Logs in with a password, saying so on stderr when the server takes long to answer.
  Status LoginSaying(Connection& connection, const std::string& password);

  SessionParameters parameters_;
  std::optional<std::string> password_;
  std::optional<Identity> identity_;
  std::unique_ptr<Connection> connection_;
};

// Trust on first use, as ssh does: a known server must present the pinned certificate; a new one is pinned after the
// user agrees on the terminal (or with accept_new).
Status CheckServerIdentity(const std::string& known_hosts_path, const std::string& host_port,
                           const std::string& fingerprint, bool accept_new);

}  // namespace ferry::client
