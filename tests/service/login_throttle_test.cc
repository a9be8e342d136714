#include "service/login_throttle.h"

#include <string>

#include <gtest/gtest.h>

namespace ferry::service {
namespace {

LoginThrottlePolicy Policy() {
  LoginThrottlePolicy policy;
  policy.slow_after = 2;
  policy.block_after = 4;
  policy.block_time = std::chrono::seconds(600);
  return policy;
}

TEST(LoginThrottle, FirstAttemptsPassUntouched) {
  LoginThrottle throttle(Policy());
  auto verdict = throttle.Check("10.0.0.1", "alice");
  EXPECT_FALSE(verdict.blocked);
  EXPECT_EQ(verdict.delay.count(), 0);
  throttle.RecordFailure("10.0.0.1", "alice");
  EXPECT_EQ(throttle.Check("10.0.0.1", "alice").delay.count(), 0);
}

TEST(LoginThrottle, SlowsThenBlocks) {
  LoginThrottle throttle(Policy());
  throttle.RecordFailure("10.0.0.1", "alice");
  throttle.RecordFailure("10.0.0.1", "alice");
  EXPECT_EQ(throttle.Check("10.0.0.1", "alice").delay, std::chrono::seconds(1));
  throttle.RecordFailure("10.0.0.1", "alice");
  EXPECT_EQ(throttle.Check("10.0.0.1", "alice").delay, std::chrono::seconds(2));
  EXPECT_FALSE(throttle.Check("10.0.0.1", "alice").blocked);
  throttle.RecordFailure("10.0.0.1", "alice");
  EXPECT_TRUE(throttle.Check("10.0.0.1", "alice").blocked);
}

TEST(LoginThrottle, OneSourceTryingManyNamesIsBlockedForEveryName) {
  LoginThrottle throttle(Policy());
  for (const char* name : {"a", "b", "c", "d"}) throttle.RecordFailure("10.0.0.1", name);
  EXPECT_TRUE(throttle.Check("10.0.0.1", "anyone").blocked);
  EXPECT_FALSE(throttle.Check("10.0.0.2", "anyone").blocked);
}

// Failures of a name from many sources (a stranger's, or a botnet's) slow the name down but never lock it: the
// right password from a source that has not been failing still gets in, after at most kMaxNameDelay.
TEST(LoginThrottle, FailuresOfANameFromEverywhereNeverLockItOut) {
  LoginThrottle throttle(Policy());
  for (int i = 0; i < 200; ++i) throttle.RecordFailure("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250), "alice");
  const auto elsewhere = throttle.Check("192.0.2.9", "alice");
  EXPECT_FALSE(elsewhere.blocked);
  EXPECT_GT(elsewhere.delay.count(), 0);
  EXPECT_LE(elsewhere.delay, LoginThrottle::kMaxNameDelay);
  // Each failing source is blocked itself, for that name and every other.
  EXPECT_FALSE(throttle.Check("10.1.0.7", "alice").blocked);  // one failure from there: not yet
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.1.0.7", "alice");
  EXPECT_TRUE(throttle.Check("10.1.0.7", "alice").blocked);
  EXPECT_TRUE(throttle.Check("10.1.0.7", "bob").blocked);
  // An unknown name is treated the same: the answer never tells which names exist.
  for (int i = 0; i < 50; ++i) throttle.RecordFailure("10.2.0." + std::to_string(i), "no-such-user");
  EXPECT_FALSE(throttle.Check("192.0.2.9", "no-such-user").blocked);
}

// A source that failed for one name only (a user mistyping) is blocked for that name there: the pair counts even
// when the source's own count has been cleared by someone else's success from the same address.
TEST(LoginThrottle, ANameAndSourcePairIsBlockedOnItsOwn) {
  LoginThrottle throttle(Policy());
  for (int i = 0; i < 4; ++i) throttle.RecordFailure("10.0.0.1", "alice");
  throttle.RecordSuccess("10.0.0.1", "bob");  // clears the source, not alice's failures from it
  EXPECT_TRUE(throttle.Check("10.0.0.1", "alice").blocked);
  EXPECT_FALSE(throttle.Check("10.0.0.1", "bob").blocked);
  EXPECT_FALSE(throttle.Check("10.0.0.2", "alice").blocked);
}

TEST(LoginThrottle, IPv6CountsPerSlash64AndMappedIPv4AsIPv4) {
  EXPECT_EQ(LoginThrottle::SourceOf("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginThrottle::SourceOf("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginThrottle::SourceOf("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(LoginThrottle::SourceOf("192.0.2.1"), "192.0.2.1");
  LoginThrottle throttle(Policy());
  // Hopping addresses inside one /64 does not escape the count.
  for (int i = 1; i <= 4; ++i) throttle.RecordFailure("2001:db8:1:2::" + std::to_string(i), "name" + std::to_string(i));
  EXPECT_TRUE(throttle.Check("2001:db8:1:2::99", "alice").blocked);
  EXPECT_FALSE(throttle.Check("2001:db8:1:3::1", "alice").blocked);
}

TEST(LoginThrottle, SuccessClearsTheCountAndTheUsersOwnFailuresOfTheName) {
  LoginThrottle throttle(Policy());
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1", "alice");
  throttle.RecordSuccess("10.0.0.1", "alice");
  for (const char* from : {"10.0.0.1", "10.0.0.2"}) {
    const auto verdict = throttle.Check(from, "alice");
    EXPECT_FALSE(verdict.blocked);
    EXPECT_EQ(verdict.delay.count(), 0) << from;
  }
}

TEST(LoginThrottle, DelayNeverExceedsEightSeconds) {
  LoginThrottlePolicy policy = Policy();
  policy.block_after = 1000;
  LoginThrottle throttle(policy);
  for (int i = 0; i < 100; ++i) throttle.RecordFailure("10.0.0.1", "alice");
  EXPECT_EQ(throttle.Check("10.0.0.1", "alice").delay, std::chrono::seconds(8));
}

}  // namespace
}  // namespace ferry::service
