#include "common/connection_limiter.h"

namespace ferry {

std::shared_ptr<void> ConnectionLimiter::Admit(const std::string& key, bool* key_full) {
  std::lock_guard lock(mutex_);
  unsigned& mine = per_key_[key];
  if (key_full != nullptr) *key_full = mine >= max_per_key_;
  if (total_ >= max_total_ || mine >= max_per_key_) {
    if (mine == 0) per_key_.erase(key);
    return nullptr;
  }
  ++total_;
  ++mine;
  // The deleter gives the slot back; the pointer itself is only a token.
  return std::shared_ptr<void>(this, [key](ConnectionLimiter* limiter) { limiter->Release(key); });
}

void ConnectionLimiter::Release(const std::string& key) {
  std::lock_guard lock(mutex_);
  --total_;
  if (auto it = per_key_.find(key); it != per_key_.end() && --it->second == 0) per_key_.erase(it);
}

}  // namespace ferry
