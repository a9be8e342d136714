// LoginThrottle: slows, then blocks, repeated failed logins, without letting a stranger lock a user out.
//
// Failures are counted within a window per source (a client address; for IPv6 its /64, the block one machine or
// site is handed), per (user name, source), and per user name alone (known or not, so the answer never tells
// whether a user exists). From `slow_after` failures of a source or of a (name, source) pair on, each attempt from
// there waits first, one second more per failure (at most 8); from `block_after` on, that source (or the pair) is
// refused without checking the password until `block_time` after its last failure. Failures of a name from
// everywhere together only slow its logins down (at most `kMaxNameDelay`), and never refuse one: a correct password
// from a source that has not been failing always gets in. A success clears the source's and the pair's counts, and
// takes the pair's failures (the user's own typing errors) off the name's. Thread-safe; memory is bounded by
// forgetting the oldest entries.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

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
    bool blocked = false;                // refuse without checking the password
    std::chrono::milliseconds delay{0};  // wait this long before checking it
  };
  Verdict Check(const std::string& address, const std::string& user);
  void RecordFailure(const std::string& address, const std::string& user);
  void RecordSuccess(const std::string& address, const std::string& user);

  // The source an address counts for: the address itself for IPv4 (also when written IPv4-mapped, ::ffff:a.b.c.d),
  // its /64 for IPv6 ("2001:db8:1:2::/64"); anything unparsable as it is.
  static std::string SourceOf(std::string_view address);

  // The longest wait that failures of a name from other sources impose.
  static constexpr std::chrono::seconds kMaxNameDelay{4};

 private:
  struct Entry {
    unsigned failures = 0;
    std::chrono::steady_clock::time_point last;
  };
  using Table = std::map<std::string, Entry>;
  unsigned FailuresOf(Table& table, const std::string& key, std::chrono::steady_clock::time_point now);
  void Bump(Table& table, const std::string& key, std::chrono::steady_clock::time_point now);
  std::chrono::seconds DelayFor(unsigned failures) const;

  static constexpr std::size_t kMaxEntries = 100000;
  LoginThrottlePolicy policy_;
  std::mutex mutex_;
  Table by_source_;
  Table by_pair_;  // "name\nsource"
  Table by_name_;
};

}  // namespace ferry::service
