// ferry ping: UDP probes to a ferryd, reported like ping(8).
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>

#include "common/host_port.h"

namespace ferry::client {

struct PingOptions {
  HostPort target;
  unsigned count = 0;                                 // 0: until interrupted (SIGINT)
  std::chrono::milliseconds interval{1000};           // between probes
  std::chrono::milliseconds wait{2000};               // for replies after the last probe
  std::size_t size = 32;                              // bytes per probe (protocol limits apply)
};

// Sends the probes and prints a line per reply, then the statistics. Returns the exit status: 0 if any reply
// came, 1 if none, 2 if the target could not be resolved or reached at all.
int RunPing(const PingOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::client
