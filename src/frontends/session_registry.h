// SessionRegistry: the live connections of every front end, so a shutdown can tell them to finish.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

namespace ferry::frontends {

// What the server knows of a connection, shared with it; all fields are touched only on the connection's own loop,
// except `executor`, which is fixed at creation.
struct SessionHandle {
  asio::any_io_executor executor;
  asio::ip::tcp::socket* socket = nullptr;  // cleared when the connection ends
  bool watchdog_fired = false;
  bool idle = false;      // waiting for a request with no transfer open
  bool draining = false;  // the server is shutting down: leave at the next idle moment
  pid_t program = -1;     // a remote command running (not yet reaped): killed when the server shuts down
};

// Thread-safe.
class SessionRegistry {
 public:
  void Add(std::shared_ptr<SessionHandle> handle);
  // Tells every live connection to finish what it is doing and close; idle ones close at once.
  void DrainAll();
  std::size_t live();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<SessionHandle>> handles_;
};

}  // namespace ferry::frontends
