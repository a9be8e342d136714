// Field helpers of the Ferry front end: checked numbers, checksum names and directory entries on the wire.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "protocol/messages.h"
#include "service/paths.h"
#include "transfer/checksum.h"

namespace ferry::frontends::native {

// Largest file size a request may name: far beyond any disk, small enough for every offset type.
inline constexpr std::int64_t kMaxFileSize = std::int64_t{1} << 50;

// The integer in `key`, or `fallback` when absent; EINVAL outside [min, max].
Result<std::int64_t> OptionalInteger(const protocol::RequestFields& fields, std::string_view key,
                                     std::int64_t fallback, std::int64_t min, std::int64_t max);
// The checksum algorithm named in "algo" (the default when absent).
Result<transfer::ChecksumAlgorithm> AlgorithmField(const protocol::RequestFields& fields);
// A directory entry as stat and ls send it.
protocol::Json EntryJson(const service::FileInfo& info);

}  // namespace ferry::frontends::native
