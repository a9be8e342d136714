#include "service/login_throttle.h"

#include <algorithm>

namespace ferry::service {

unsigned LoginThrottle::FailuresOf(std::map<std::string, Entry>& table, const std::string& key,
                                   std::chrono::steady_clock::time_point now) {
  const auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last >= policy_.block_time) {  // forgiven
    table.erase(it);
    return 0;
  }
  return it->second.failures;
}

void LoginThrottle::Bump(std::map<std::string, Entry>& table, const std::string& key,
                         std::chrono::steady_clock::time_point now) {
  if (table.size() >= kMaxEntries && table.count(key) == 0) {
    // Forget the entry least recently failed: memory stays bounded under a flood of names or addresses.
    const auto oldest = std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
      return a.second.last < b.second.last;
    });
    table.erase(oldest);
  }
  Entry& entry = table[key];
  if (now - entry.last >= policy_.block_time) entry.failures = 0;
  ++entry.failures;
  entry.last = now;
}

LoginThrottle::Verdict LoginThrottle::Check(const std::string& address, const std::string& user) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const unsigned failures = std::max(FailuresOf(by_address_, address, now), FailuresOf(by_user_, user, now));
  Verdict verdict;
  if (failures >= policy_.block_after) {
    verdict.blocked = true;
  } else if (failures >= policy_.slow_after) {
    verdict.delay = std::chrono::seconds(std::min(8u, failures - policy_.slow_after + 1));
  }
  return verdict;
}

void LoginThrottle::RecordFailure(const std::string& address, const std::string& user) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  Bump(by_address_, address, now);
  Bump(by_user_, user, now);
}

void LoginThrottle::RecordSuccess(const std::string& address, const std::string& user) {
  std::lock_guard lock(mutex_);
  by_address_.erase(address);
  by_user_.erase(user);
}

}  // namespace ferry::service
