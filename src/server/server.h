// Server: listeners that hand each accepted connection to a front end, on one event loop per core.
//
// Each worker thread runs its own io_context; a listener hands every new socket to the next worker in turn, and the
// connection lives on that worker for good, so sessions need no locks (muduo's "one loop per thread"). A listener
// knows its front end only as a FrontEnd: the server names no protocol beyond building the front ends at start.
// The file service under them all, and the program service, are built here too. Password verification runs on a
// separate bounded pool so logins never stall transfers already running.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl/context.hpp>
#include <asio/thread_pool.hpp>

#include "common/connection_limiter.h"
#include "common/status.h"
#include "frontends/front_end.h"
#include "frontends/session_registry.h"
#include "server/data_root.h"
#include "server/ping_service.h"
#include "server/server_config.h"
#include "service/audit_log.h"
#include "service/command_launcher.h"
#include "service/file_service.h"
#include "service/login_throttle.h"
#include "service/program_service.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"

namespace ferry::server {

class Server {
 public:
  Server(DataRoot root, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the user store, loads the TLS identity and binds the listening socket. Logs "listening on HOST:PORT".
  Status Start();
  // Serves until SIGINT or SIGTERM, or Stop(). Call once, after a successful Start().
  void Run();
  // Stops accepting and ends every session. Safe from any thread.
  void Stop();

  asio::ip::tcp::endpoint local_endpoint() const;

 private:
  // A listening socket and the front end its connections go to.
  struct Listener {
    asio::ip::tcp::acceptor acceptor;
    frontends::FrontEnd* front_end;
  };
  Status Listen(const std::string& listen, frontends::FrontEnd* front_end);
  asio::awaitable<void> Accept(Listener& listener);
  // The file service, the program service and the front ends over them.
  void SetUpServices();
  // Opens the FTP and implicit FTPS ports that are configured, and logs each ("FTP on HOST:PORT").
  Status ListenFtp();
  // Warns when a program run with exec could read where the data root is on the host (see storage/mount_info.h).
  void WarnIfHomesPathShows() const;
  // Handles SIGINT/SIGTERM (a graceful shutdown) and SIGHUP (reopen the audit log), then waits for the next.
  void WaitForSignal();
  // Stops accepting, lets sessions finish their transfers within the grace period, then stops.
  asio::awaitable<void> ShutDownGracefully();
  // Deletes stale partial uploads now and every hour after.
  asio::awaitable<void> SweepPartials();
  // Ends the sessions of removed users and those `ferryd user passwd --logout` ended (see the .cc).
  asio::awaitable<void> WatchUsers();
  // Deletes abandoned partial uploads and gives their space back to their users.
  void RemoveStalePartials();
  // Checks that remote commands can run as configured; logs why not where they cannot.
  void SetUpExec();
  Status SetUpTls();
  // The certificate, key and TLS 1.3 settings every listener's context shares.
  Status ConfigureTls(asio::ssl::context& context);

  DataRoot root_;
  ServerConfig config_;
  std::unique_ptr<storage::UserStore> users_;
  storage::QuotaLedger quotas_;
  std::optional<service::CommandLauncher> launcher_;
  std::unique_ptr<ConnectionLimiter> exec_slots_;
  std::unique_ptr<service::FileService> files_;
  std::unique_ptr<service::ProgramService> programs_;
  std::vector<std::unique_ptr<frontends::FrontEnd>> front_ends_;
  frontends::FrontEnd* ftp_ = nullptr;            // in front_ends_, when FTP is configured
  frontends::FrontEnd* ftps_implicit_ = nullptr;  // in front_ends_, when implicit FTPS is configured
  frontends::FrontEnd* sftp_ = nullptr;           // in front_ends_, when SSH is configured
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::optional<PingService> ping_;
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::optional<asio::ssl::context> tls_;
  std::optional<asio::ssl::context> ftp_tls_;  // when FTP is configured (and TLS is on)
  // Registered before "listening on" is logged, so a signal sent the moment the server is ready is not lost.
  std::optional<asio::signal_set> signals_;
  std::unique_ptr<asio::thread_pool> login_pool_;
  std::size_t next_loop_ = 0;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::unique_ptr<service::AuditLog> audit_;
  frontends::SessionRegistry registry_;
  std::unique_ptr<service::LoginThrottle> throttle_;
  std::unique_ptr<ConnectionLimiter> user_sessions_;
};

}  // namespace ferry::server
