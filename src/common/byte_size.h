// Sizes as people write them ("500M", "2G", "1048576") and as they read them ("1.5 MiB").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

// Parses a byte count: digits with an optional fraction, then an optional unit K, M, G, T or P (powers of 1024),
// optionally followed by "iB" or "B" ("1.5G", "500MiB", "64k"), or "B" alone. EINVAL names the text when it is not a
// size or is larger than `max`.
Result<std::uint64_t> ParseByteSize(std::string_view text, std::uint64_t max = std::uint64_t{1} << 62);

// "980 B", "1.5 MiB": one decimal above a KiB.
std::string HumanBytes(double bytes);

// "1,048,576": digits grouped by thousands.
std::string GroupedDigits(std::uint64_t value);

}  // namespace ferry
