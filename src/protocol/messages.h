// Request and reply conventions on top of frames: ids, operations, typed field access and error replies.
//
// A request header is {"op": NAME, "id": N, ...fields}; its reply is {"id": N, "ok": true, ...} or
// {"id": N, "ok": false, "code": "ENOENT", "message": "..."}. See docs/protocol.md for every operation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::protocol {

// Protocol versions this build speaks; the hello exchange picks the highest both sides know.
inline constexpr int kProtocolVersion = 1;
inline constexpr int kMinProtocolVersion = 1;

// Longest path a request may name, in bytes (Linux's PATH_MAX).
inline constexpr std::size_t kMaxPathLength = 4096;
// Longest name of one entry, and so of an ls pattern, in bytes (Linux's NAME_MAX).
inline constexpr std::size_t kMaxNameLength = 255;
// Longest user name or password accepted in a login request.
inline constexpr std::size_t kMaxUserNameLength = 64;
inline constexpr std::size_t kMaxPasswordLength = 1024;
// Directory entries per ls reply frame; larger listings arrive in several frames.
inline constexpr std::size_t kListBatchSize = 1000;
// Largest file size, offset or length a request may name: far beyond any disk, small enough for every offset type.
inline constexpr std::int64_t kMaxFileSize = std::int64_t{1} << 50;
// Permission bits a request may set (setuid, setgid and sticky included; the server keeps only 0777).
inline constexpr std::int64_t kMaxModeBits = 07777;
// Latest modification time a request may set, in seconds since 1970 (about the year 36812).
inline constexpr std::int64_t kMaxModificationTime = std::int64_t{1} << 40;
inline constexpr std::int64_t kMaxNanoseconds = 999'999'999;
// The checksum a transfer uses when the request names none: the name of transfer::kDefaultChecksum.
inline constexpr std::string_view kDefaultChecksumName = "xxh3";

// Typed, checked access to the fields of a request header. Each getter returns EPROTO naming the field when it is
// missing (for required ones) or of the wrong type.
class RequestFields {
 public:
  // REQUIRES: header outlives this object and is an object.
  explicit RequestFields(const Json& header) : header_(header) {}

  Result<std::string> String(std::string_view key) const;
  Result<std::string> OptionalString(std::string_view key, std::string fallback) const;
  // A path: a string without NUL bytes of at most kMaxPathLength bytes (EINVAL / ENAMETOOLONG otherwise).
  Result<std::string> Path(std::string_view key) const;
  Result<std::string> OptionalPath(std::string_view key, std::string fallback) const;
  Result<bool> OptionalBool(std::string_view key, bool fallback) const;
  Result<std::int64_t> Integer(std::string_view key) const;
  // An optional integer: `fallback` when missing, EINVAL naming the range when outside [min, max].
  Result<std::int64_t> OptionalInteger(std::string_view key, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) const;
  // A required non-negative integer up to 2^64-1, as request ids are (e.g. the `ref` naming an earlier request).
  Result<std::uint64_t> Unsigned(std::string_view key) const;
  const Json& header() const { return header_; }

 private:
  const Json* Find(std::string_view key) const;
  const Json& header_;
};

// {"op": op}: the start of a request header, to which a request's fields and then the connection's id are added.
Json RequestHeader(std::string_view op);
// {"op": op, "ref": ref}: the header of a frame that names an earlier request (data, put_close, exec_input, ...).
Json RequestHeader(std::string_view op, std::uint64_t ref);

// The request's id if it has a valid one (a non-negative integer), else null: replies always echo this.
Json RequestId(const Json& header);

// {"id": id, "ok": true}
Json OkReply(const Json& id);
// {"id": id, "ok": false, "code": ..., "message": ...}. REQUIRES: !status.ok().
Json ErrorReply(const Json& id, const Status& status);
// The Status a reply carries: Ok for ok replies, the decoded error otherwise (unknown codes map to EIO and
// keep their name in the message). A reply that is not well formed yields EPROTO.
Status StatusOfReply(const Json& reply);

}  // namespace ferry::protocol
