// The unit of Ferry's wire protocol: a JSON header and an optional raw body.
//
// On the wire (docs/protocol.md): a 4-byte unsigned big-endian header length, that many bytes of UTF-8 JSON
// holding one object, then exactly header["body_len"] raw bytes (none when the key is absent).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace ferry::protocol {

using Json = nlohmann::json;

// The key in a header that declares the body's length in bytes.
inline constexpr std::string_view kBodyLengthKey = "body_len";
// Bytes in the length prefix.
inline constexpr std::size_t kLengthPrefixSize = 4;

struct FrameLimits {
  // Largest accepted header, in bytes of JSON.
  std::uint32_t max_header = 64 * 1024;
  // Largest accepted body, in bytes.
  std::uint64_t max_body = 4 * 1024 * 1024;
  // Deepest accepted nesting of JSON arrays and objects in a header, the header object itself counting as 1.
  int max_depth = 16;
};

// What a server accepts before login: hello, login, noop and quit have no body, and their headers are small (a
// login carries at most a 64-byte name and a 1024-byte password, which JSON escapes can make six times longer). So
// an anonymous connection is refused a body at its header and holds a few KiB at most.
inline constexpr FrameLimits kBeforeLoginLimits{8 * 1024, 0, 4};

struct Frame {
  Json header;       // always an object
  std::string body;  // exactly header[kBodyLengthKey] bytes
};

// Serializes a frame. Sets header[kBodyLengthKey] to body.size() when the body is not empty and removes the key
// when it is. REQUIRES: header is an object.
std::string EncodeFrame(Json header, std::string_view body = {});
// Appends the encoding to `out`, for writers that batch frames.
void AppendFrame(std::string& out, Json header, std::string_view body = {});

// Appends only the length prefix and header of a frame whose `body_len` bytes the caller sends itself (sendfile).
void AppendFrameHeader(std::string& out, Json header, std::uint64_t body_len);

// Appends the compact JSON text of `value`: the same text as nlohmann's dump(-1) with invalid UTF-8 replaced by
// U+FFFD, written directly for what headers hold (objects, arrays, integers, booleans, null, and strings of
// printable ASCII), several times faster; other strings and floating-point numbers go through nlohmann's own code.
void AppendJson(std::string& out, const Json& value);
// The same as a string.
std::string DumpJson(const Json& value);
// Its pieces, for writers of long regular texts that skip building the Json, are in common/json_text.h.

}  // namespace ferry::protocol
