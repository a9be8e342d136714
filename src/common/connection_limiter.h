// ConnectionLimiter: slots counted overall and per key (a client address, a user name), so one key cannot take
// every slot. Thread-safe: slots are taken and given back on any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ferry {

class ConnectionLimiter {
 public:
  ConnectionLimiter(unsigned max_total, unsigned max_per_key) : max_total_(max_total), max_per_key_(max_per_key) {}

  // A ticket that holds one slot until it is destroyed; null when a limit is reached. `key_full`, if given, is set
  // to whether the key's own limit was the one reached.
  // REQUIRES: the limiter outlives every ticket.
  std::shared_ptr<void> Admit(const std::string& key, bool* key_full = nullptr);

 private:
  void Release(const std::string& key);

  std::mutex mutex_;
  unsigned max_total_;
  unsigned max_per_key_;
  unsigned total_ = 0;
  std::map<std::string, unsigned> per_key_;
};

}  // namespace ferry
