// LoginThrottle: slows, then blocks, repeated failed logins from one address or for one user name.
//
// Failures are counted per client address and per user name (known or not, so the answer never tells whether a
// user exists) within a window. From `slow_after` failures on, each attempt waits first, one second more per
// failure (at most 8); from `block_after` on, attempts are refused without checking the password until
// `block_seconds` after the last failure. A success clears the user's count and the address's. Thread-safe; memory
// is bounded by forgetting the oldest entries.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace ferry::service {

struct LoginThrottlePolicy {
  unsigned slow_after = 3;
  unsigned block_after = 10;
  std::chrono::seconds block_time{900};
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottlePolicy policy) : policy_(policy) {}

  struct Verdict {
    bool blocked = false;                       // refuse without checking the password
    std::chrono::milliseconds delay{0};         // wait this long before checking it
  };
  Verdict Check(const std::string& address, const std::string& user);
  void RecordFailure(const std::string& address, const std::string& user);
  void RecordSuccess(const std::string& address, const std::string& user);

 private:
  struct Entry {
    unsigned failures = 0;
    std::chrono::steady_clock::time_point last;
  };
  unsigned FailuresOf(std::map<std::string, Entry>& table, const std::string& key,
                      std::chrono::steady_clock::time_point now);
  void Bump(std::map<std::string, Entry>& table, const std::string& key, std::chrono::steady_clock::time_point now);

  static constexpr std::size_t kMaxEntries = 100000;
  LoginThrottlePolicy policy_;
  std::mutex mutex_;
  std::map<std::string, Entry> by_address_;
  std::map<std::string, Entry> by_user_;
};

}  // namespace ferry::service
