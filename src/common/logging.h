// Logging set-up: one stderr logger with levels, shared by both binaries.
#pragma once

#include <string_view>

#include "common/status.h"

namespace ferry {

// Installs the default spdlog logger writing "<time> <level> <message>" to stderr. `level` is one of trace,
// debug, info, warn, error, off. EINVAL names the bad level.
Status SetupLogging(std::string_view level);

}  // namespace ferry
