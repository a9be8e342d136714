// The wall clock as the database and the session registry record it: nanoseconds since the Unix epoch.
#pragma once

#include <time.h>

#include <cstdint>

namespace ferry {

inline std::int64_t UnixNanoseconds(const struct timespec& time) {
  return std::int64_t{time.tv_sec} * 1'000'000'000 + time.tv_nsec;
}

inline std::int64_t UnixNanosecondsNow() {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return UnixNanoseconds(now);
}

}  // namespace ferry
