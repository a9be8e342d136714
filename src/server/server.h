// Server: accepts connections and runs a Session for each, on one event loop per core.
//
// Each worker thread runs its own io_context; the acceptor hands every new socket to the next worker in turn, and
// the session lives on that worker for good, so sessions need no locks (muduo's "one loop per thread"). Password
// verification runs on a separate bounded pool so logins never stall transfers already running.
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

#include "common/status.h"
#include "server/data_root.h"
#include "server/server_config.h"
#include "server/connection_limiter.h"
#include "server/ping_service.h"
#include "server/session.h"
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
  asio::awaitable<void> Accept();
  // Handles SIGINT/SIGTERM (a graceful shutdown) and SIGHUP (reopen the audit log), then waits for the next.
  void WaitForSignal();
  // Stops accepting, lets sessions finish their transfers within the grace period, then stops.
  asio::awaitable<void> ShutDownGracefully();
  // Deletes stale partial uploads now and every hour after.
  asio::awaitable<void> SweepPartials();
  // Deletes abandoned partial uploads and gives their space back to their users.
  void RemoveStalePartials();
  // Checks that remote commands can run as configured; logs why not where they cannot.
  void SetUpExec();
  Status SetUpTls();

  DataRoot root_;
  ServerConfig config_;
  std::unique_ptr<storage::UserStore> users_;
  storage::QuotaLedger quotas_;
  std::optional<CommandLauncher> launcher_;
  std::unique_ptr<ConnectionLimiter> exec_slots_;
  std::optional<PingService> ping_;
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::optional<asio::ssl::context> tls_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  // Registered before "listening on" is logged, so a signal sent the moment the server is ready is not lost.
  std::optional<asio::signal_set> signals_;
  std::unique_ptr<asio::thread_pool> login_pool_;
  SessionEnvironment env_;
  std::size_t next_loop_ = 0;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::unique_ptr<AuditLog> audit_;
  SessionRegistry registry_;
  std::unique_ptr<LoginThrottle> throttle_;
  std::unique_ptr<ConnectionLimiter> user_sessions_;
};

}  // namespace ferry::server
