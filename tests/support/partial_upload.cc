#include "support/partial_upload.h"

#include "support/process_probe.h"
#include "support/test_files.h"

namespace ferry::testing {

PartialUpload WaitForPartialUpload(const std::string& partials, std::uint64_t above, std::uint64_t below, pid_t client,
                                   std::chrono::milliseconds timeout) {
  PartialUpload seen;
  WaitUntil(
      [&] {
        seen.path = OnlyFileIn(partials);
        seen.size = seen.path.empty() ? 0 : FileSize(seen.path);
        return (seen.size > above && seen.size < below) || HasExited(client);
      },
      timeout);
  return seen;
}

}  // namespace ferry::testing
