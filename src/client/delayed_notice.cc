#include "client/delayed_notice.h"

#include <cstdio>
#include <utility>

namespace ferry::client {

DelayedNotice::DelayedNotice(std::chrono::milliseconds after, std::string message)
    : thread_([this, after, message = std::move(message)] {
        std::unique_lock lock(mutex_);
        if (!ended_.wait_for(lock, after, [this] { return done_; })) {
          std::fputs(message.c_str(), stderr);
          std::fflush(stderr);
        }
      }) {}

DelayedNotice::~DelayedNotice() {
  {
    const std::lock_guard lock(mutex_);
    done_ = true;
  }
  ended_.notify_all();
  thread_.join();
}

}  // namespace ferry::client
