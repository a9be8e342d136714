#include "service/login_throttle.h"

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

TEST(LoginThrottle, CountsPerAddressAndPerUserName) {
  LoginThrottle throttle(Policy());
  // One address trying many names is blocked for every name...
  for (const char* name : {"a", "b", "c", "d"}) throttle.RecordFailure("10.0.0.1", name);
  EXPECT_TRUE(throttle.Check("10.0.0.1", "anyone").blocked);
  EXPECT_FALSE(throttle.Check("10.0.0.2", "anyone").blocked);
  // ...and one name tried from many addresses is blocked from every address, whether it exists or not.
  for (const char* address : {"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"}) {
    throttle.RecordFailure(address, "no-such-user");
  }
  EXPECT_TRUE(throttle.Check("10.9.9.9", "no-such-user").blocked);
}

TEST(LoginThrottle, SuccessClearsTheCount) {
  LoginThrottle throttle(Policy());
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1", "alice");
  throttle.RecordSuccess("10.0.0.1", "alice");
  const auto verdict = throttle.Check("10.0.0.1", "alice");
  EXPECT_FALSE(verdict.blocked);
  EXPECT_EQ(verdict.delay.count(), 0);
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
