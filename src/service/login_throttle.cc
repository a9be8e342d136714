#include "service/login_throttle.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace ferry::service {
namespace {

std::string PairKey(const std::string& user, const std::string& source) { return user + '\n' + source; }

}  // namespace

std::string LoginThrottle::SourceOf(std::string_view address) {
  const std::string text(address);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;  // IPv4 (or not an address): as it is
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    char v4[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &v6.s6_addr[12], v4, sizeof v4) != nullptr) return v4;
    return text;
  }
  std::memset(&v6.s6_addr[8], 0, 8);
  char prefix[INET6_ADDRSTRLEN];
  if (::inet_ntop(AF_INET6, &v6, prefix, sizeof prefix) == nullptr) return text;
  return std::string(prefix) + "/64";
}

unsigned LoginThrottle::FailuresOf(Table& table, const std::string& key, std::chrono::steady_clock::time_point now) {
  const auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last >= policy_.block_time) {  // forgiven
    table.erase(it);
    return 0;
  }
  return it->second.failures;
}

void LoginThrottle::Bump(Table& table, const std::string& key, std::chrono::steady_clock::time_point now) {
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

std::chrono::seconds LoginThrottle::DelayFor(unsigned failures) const {
  if (failures < policy_.slow_after) return std::chrono::seconds(0);
  return std::chrono::seconds(std::min(8u, failures - policy_.slow_after + 1));
}

LoginThrottle::Verdict LoginThrottle::Check(const std::string& address, const std::string& user) {
  const std::string source = SourceOf(address);
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  // What this source did: the whole source's failures, and its failures for this name.
  const unsigned here = std::max(FailuresOf(by_source_, source, now), FailuresOf(by_pair_, PairKey(user, source), now));
  Verdict verdict;
  if (here >= policy_.block_after) {
    verdict.blocked = true;
    return verdict;
  }
  // Failures for the name from everywhere slow it down, a little, and never refuse it.
  const auto for_name = std::min<std::chrono::seconds>(DelayFor(FailuresOf(by_name_, user, now)), kMaxNameDelay);
  verdict.delay = std::max(DelayFor(here), for_name);
  return verdict;
}

void LoginThrottle::RecordFailure(const std::string& address, const std::string& user) {
  const std::string source = SourceOf(address);
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  Bump(by_source_, source, now);
  Bump(by_pair_, PairKey(user, source), now);
  Bump(by_name_, user, now);
}

void LoginThrottle::RecordSuccess(const std::string& address, const std::string& user) {
  const std::string source = SourceOf(address);
  std::lock_guard lock(mutex_);
  by_source_.erase(source);
  const auto pair = by_pair_.find(PairKey(user, source));
  if (pair == by_pair_.end()) return;
  // The user's own failures from here were typing errors, not an attack on the name: they no longer count for it.
  const auto name = by_name_.find(user);
  if (name != by_name_.end()) {
    name->second.failures -= std::min(name->second.failures, pair->second.failures);
    if (name->second.failures == 0) by_name_.erase(name);
  }
  by_pair_.erase(pair);
}

}  // namespace ferry::service
