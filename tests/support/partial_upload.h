// Watching an upload in flight from outside the server: the partial file it grows in the user's partials folder.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry::testing {

// The one partial file of a partials folder, as last seen.
struct PartialUpload {
  std::string path;        // "" when there was none, or several
  std::uint64_t size = 0;  // 0 when there was none
};

// Waits (at most `timeout`) until the one partial file in `partials` holds more than `above` and fewer than `below`
// bytes, or process `client` has exited. Returns the partial as last seen: its size is in that range only if the
// upload was caught in flight, which the caller checks. The client is left for Subprocess::Wait to reap.
PartialUpload WaitForPartialUpload(const std::string& partials, std::uint64_t above, std::uint64_t below, pid_t client,
                                   std::chrono::milliseconds timeout);

}  // namespace ferry::testing
