#include "frontends/session_registry.h"

#include <signal.h>

#include <sys/socket.h>
#include <time.h>

#include <algorithm>

#include <asio/post.hpp>

#include "common/clock.h"

namespace ferry::frontends {

void SessionRegistry::Add(std::shared_ptr<SessionHandle> handle) {
  // Stamped before the connection authenticates: a login verified against a password (or a user) that is replaced
  // meanwhile is older than the change, and ends with the sessions it ends.
  const std::int64_t now = UnixNanosecondsNow();
  std::lock_guard lock(mutex_);
  handle->login_time = now;
  // Forget ended sessions now and then, so the list stays as long as the live ones.
  if (handles_.size() >= 64 && handles_.size() == handles_.capacity()) {
    std::erase_if(handles_, [](const auto& weak) { return weak.expired(); });
  }
  handles_.push_back(std::move(handle));
}

void SessionRegistry::DrainAll() {
  std::lock_guard lock(mutex_);
  for (const auto& weak : handles_) {
    auto handle = weak.lock();
    if (!handle) continue;
    asio::post(handle->executor, [handle] {
      handle->draining = true;
      // A remote command is not a transfer to let finish: it ends now. Until the session reaps it, its pid and
      // process group are its own (this runs on the session's loop, which does the reaping).
      if (handle->program > 0) {
        ::kill(-handle->program, SIGKILL);
        ::kill(handle->program, SIGKILL);
      }
      if (handle->socket != nullptr && handle->idle) {
        asio::error_code ignored;
        handle->socket->cancel(ignored);  // ends the wait for a request: the session says why and closes
      }
      // An SSH connection (libssh's descriptor) in its session looks at `draining` when woken; one still in its key
      // exchange or login ends now.
      if (handle->wake) {
        handle->wake();
      } else if (handle->fd >= 0) {
        ::shutdown(handle->fd, SHUT_RDWR);
      }
    });
  }
}

void SessionRegistry::LoggedIn(const std::shared_ptr<SessionHandle>& handle, std::string_view user) {
  std::lock_guard lock(mutex_);
  handle->user = std::string(user);
  ++logins_;
}

std::uint64_t SessionRegistry::logins() {
  std::lock_guard lock(mutex_);
  return logins_;
}

std::size_t SessionRegistry::EndWhere(
    const std::function<bool(const std::string& user, std::int64_t login_time)>& end) {
  std::lock_guard lock(mutex_);
  std::size_t ended = 0;
  for (const auto& weak : handles_) {
    auto handle = weak.lock();
    if (!handle || handle->user.empty() || !end(handle->user, handle->login_time)) continue;
    handle->user.clear();  // ended once
    ++ended;
    asio::post(handle->executor, [handle] {
      if (handle->program > 0) {
        ::kill(-handle->program, SIGKILL);
        ::kill(handle->program, SIGKILL);
      }
      // Shut down rather than close: the descriptor stays the session's own (libssh holds it too) until it ends.
      if (handle->socket != nullptr) {
        asio::error_code ignored;
        handle->socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      } else if (handle->fd >= 0) {
        ::shutdown(handle->fd, SHUT_RDWR);
      }
    });
  }
  return ended;
}

std::size_t SessionRegistry::live() {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(handles_.begin(), handles_.end(), [](const auto& weak) { return !weak.expired(); }));
}

}  // namespace ferry::frontends
