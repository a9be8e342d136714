// Watchdog: closes a connection unless the operation in progress completes within its limit, so a slow or stalled
// client cannot hold a session. Shared by the front ends.
//
// It is lazy: Arm and Disarm only move a deadline, and the timer, once started, wakes at its expiry, finds the current
// deadline and either closes the connection, sleeps again until it, or stops (disarmed). So a request costs no timer
// system calls; only a deadline earlier than the pending expiry restarts the timer. Used on the session's loop only.
#pragma once

#include <chrono>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include "frontends/session_registry.h"

namespace ferry::frontends {

class Watchdog {
 public:
  // What a passed limit does to `handle->socket`: close it, or only cancel what is pending on it (so the session can
  // still say why it closes, as FTP's "421" does).
  enum class Expiry { kClose, kCancel };

  // When a limit passes, closes (or cancels) `handle->socket` and sets `handle->watchdog_fired`. The owner clears
  // `handle->socket` before the watchdog is destroyed (the session's destructor does): a wake-up then does nothing.
  Watchdog(const asio::any_io_executor& executor, std::shared_ptr<SessionHandle> handle,
           Expiry expiry = Expiry::kClose)
      : timer_(executor), handle_(std::move(handle)), expiry_(expiry) {}

  // Closes the connection unless Disarm() comes within `limit`.
  void Arm(std::chrono::steady_clock::duration limit);
  void Disarm() { deadline_ = std::chrono::steady_clock::time_point::max(); }

 private:
  void Start(std::chrono::steady_clock::time_point at);

  asio::steady_timer timer_;
  std::shared_ptr<SessionHandle> handle_;  // shared with the timer's handler, which may outlive the session
  Expiry expiry_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();  // max: disarmed
  bool pending_ = false;  // a wait is outstanding on timer_
};

}  // namespace ferry::frontends
