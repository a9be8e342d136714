// The frames of an upload as a raw-frame test sends them (docs/protocol.md, "put"): put, data, put_close.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/frame.h"
#include "support/raw_client.h"

namespace ferry::testing {

// {"op": "put"} for `size` bytes checked with xxh3, resuming a partial upload if `resume`; the id is the caller's.
protocol::Json PutHeader(const std::string& path, std::uint64_t size, bool resume = false);
// {"op": "data"} for the upload opened by request `ref`; the bytes are the frame's body.
protocol::Json DataHeader(std::uint64_t ref);
// {"op": "put_close"} for the upload opened by request `ref`, with the checksum of the whole file.
protocol::Json PutCloseHeader(std::uint64_t ref, const std::string& checksum);

// Uploads `content` as `path` over a logged-in session: put, one data frame (none for empty content), put_close.
// Returns the put_close reply, or the put reply when the put failed.
protocol::Json Upload(RawClient& client, const std::string& path, const std::string& content);

}  // namespace ferry::testing
