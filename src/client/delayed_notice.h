// DelayedNotice: a message for stderr that appears only when a blocking step takes longer than expected.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace ferry::client {

// Prints `message` to stderr once `after` has passed, unless the object is destroyed first (the step ended).
class DelayedNotice {
 public:
  DelayedNotice(std::chrono::milliseconds after, std::string message);
  ~DelayedNotice();
  DelayedNotice(const DelayedNotice&) = delete;
  DelayedNotice& operator=(const DelayedNotice&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable ended_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace ferry::client
