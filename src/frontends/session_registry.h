// SessionRegistry: the live connections of every front end, so a shutdown can tell them to finish.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

namespace ferry::frontends {

// What the server knows of a connection, shared with it; all fields are touched only on the connection's own loop,
// except `executor`, which is fixed at creation, and `user` and `login_time`, which only the registry touches (under
// its lock: SessionRegistry::LoggedIn).
struct SessionHandle {
  asio::any_io_executor executor;
  asio::ip::tcp::socket* socket = nullptr;  // cleared when the connection ends
  int fd = -1;  // instead of `socket`, a connection another library owns (libssh); -1 once it ends
  bool watchdog_fired = false;
  bool idle = false;      // waiting for a request with no transfer open
  bool draining = false;  // the server is shutting down: leave at the next idle moment
  pid_t program = -1;     // a remote command running (not yet reaped): killed when the server shuts down
  std::function<void()> wake;  // for an `fd` connection: ends its wait, so it sees `draining` (set while it can)
  std::string user;            // "" until logged in
  std::int64_t login_time = 0;  // unix nanoseconds: when the connection was added, before it authenticated
};

// Thread-safe.
class SessionRegistry {
 public:
  void Add(std::shared_ptr<SessionHandle> handle);
  // Tells every live connection to finish what it is doing and close; idle ones close at once.
  void DrainAll();
  // Records that `handle`'s connection is now logged in as `user`.
  void LoggedIn(const std::shared_ptr<SessionHandle>& handle, std::string_view user);
  // How many LoggedIn calls there have been: a change says sessions may have logged in since the last EndWhere.
  std::uint64_t logins();
  // Ends at once (its connection shut down, its program killed) every logged-in session for which `end(user,
  // login_time)` is true; returns how many.
  std::size_t EndWhere(const std::function<bool(const std::string& user, std::int64_t login_time)>& end);
  std::size_t live();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<SessionHandle>> handles_;
  std::uint64_t logins_ = 0;
};

}  // namespace ferry::frontends
