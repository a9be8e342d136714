#include "frontends/session_registry.h"

#include <signal.h>

#include <algorithm>

#include <asio/post.hpp>

namespace ferry::frontends {

void SessionRegistry::Add(std::shared_ptr<SessionHandle> handle) {
  std::lock_guard lock(mutex_);
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
        handle->socket->close(ignored);  // ends the wait for a request
      }
    });
  }
}

std::size_t SessionRegistry::live() {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(handles_.begin(), handles_.end(), [](const auto& weak) { return !weak.expired(); }));
}

}  // namespace ferry::frontends
