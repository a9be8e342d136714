#include "frontends/watchdog.h"

namespace ferry::frontends {

void Watchdog::Arm(std::chrono::steady_clock::duration limit) {
  deadline_ = std::chrono::steady_clock::now() + limit;
  if (pending_ && timer_.expiry() <= deadline_) return;
  Start(deadline_);
}

void Watchdog::Start(std::chrono::steady_clock::time_point at) {
  pending_ = true;
  timer_.expires_at(at);  // a wait still pending ends with operation_aborted and does nothing
  timer_.async_wait([this, state = handle_](const asio::error_code& error) {
    if (error || state->socket == nullptr) return;  // superseded, or the session (and `this`) is gone
    pending_ = false;
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;  // disarmed: the next Arm restarts it
    if (std::chrono::steady_clock::now() < deadline_) {
      Start(deadline_);
      return;
    }
    state->watchdog_fired = true;
    asio::error_code ignored;
    if (expiry_ == Expiry::kCancel) {
      state->socket->cancel(ignored);  // the pending read or write ends with operation_aborted
    } else {
      state->socket->close(ignored);  // the pending read or write ends with an error
    }
  });
}

}  // namespace ferry::frontends
