// SshFrontEnd: SSH (libssh) serving SFTP on the same users, homes, quotas and audit log as the other front ends.
//
// Each connection is accepted by the server's own listener (so its connection limits apply before any SSH work) and
// handed to libssh with ssh_bind_accept_fd. libssh runs non-blocking on the connection's event loop: the session
// waits for its socket with asio and lets libssh read, decrypt and answer what has arrived (SshLink). Logins are
// queued libssh messages answered once the file service has decided (argon2id runs on the login pool, so the loop
// never blocks). After login a session channel serves the "sftp" subsystem, or a command (an exec request: `ssh host
// COMMAND`, rsync -e ssh) for a user with the exec permission, run by the ProgramService (SshExec); shells, ptys,
// legacy scp, forwarding of any kind and environment requests are refused.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "frontends/front_end.h"
#include "frontends/session_registry.h"
#include "service/file_service.h"
#include "service/program_service.h"

namespace ferry::frontends::sftp {

struct SshEnvironment {
  service::FileService* files = nullptr;
  const service::ProgramService* programs = nullptr;  // commands (exec requests), for users with the exec permission
  std::string host_key_path;  // the Ed25519 host key (OpenSSH format)
  bool password_auth = true;  // false: public keys only
  unsigned max_login_attempts = 3;
  std::chrono::seconds login_timeout{30};  // from connect to a logged-in session, key exchange included
  std::chrono::seconds idle_timeout{600};
  SessionRegistry* registry = nullptr;  // may be null (no session ended from outside)
};

class SshFrontEnd final : public FrontEnd {
 public:
  explicit SshFrontEnd(SshEnvironment env);
  ~SshFrontEnd() override;
  SshFrontEnd(const SshFrontEnd&) = delete;
  SshFrontEnd& operator=(const SshFrontEnd&) = delete;

  std::string_view name() const override { return "sftp"; }
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket, std::shared_ptr<void> slot) override;
  // SSH has nothing to say before its handshake: the connection is closed.
  void RefuseBusy(asio::ip::tcp::socket&) override {}

 private:
  SshEnvironment env_;
  std::mutex bind_mutex_;  // ssh_bind_accept_fd changes the bind object on first use
  void* bind_ = nullptr;   // ssh_bind
};

}  // namespace ferry::frontends::sftp
