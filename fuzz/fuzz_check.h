// FUZZ_CHECK: an invariant a fuzz target asserts. Unlike assert() it holds in every build type, and a failure
// aborts with the condition and location so that libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                     \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition);    \
      std::abort();                                                                               \
    }                                                                                             \
  } while (false)
