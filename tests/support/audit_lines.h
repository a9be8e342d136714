// Reading the audit log a test's server or service wrote: one JSON object a line (see README.md).
#pragma once

#include <string>
#include <vector>

#include "protocol/frame.h"

namespace ferry::testing {

// Every line of the audit log at `path`, parsed, in order; a line that is not JSON is a discarded value
// (is_discarded()), so that it still counts as a line. Nothing when the file cannot be read.
std::vector<protocol::Json> ReadAuditLines(const std::string& path);

}  // namespace ferry::testing
