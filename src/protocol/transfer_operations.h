// The transfers' messages: put, its id-less data frames, put_close and put_abort; get and the frames that answer it.
//
// Shared by server and client; docs/protocol.md ("Transfers") is the reference, and session_operations.h states
// the conventions. Checksum names stay strings here: the server maps them with transfer::ParseChecksumName (EINVAL
// for a name it does not know), so that this layer needs no checksum code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace ferry::protocol {

// Opens an upload. The data frames and the put_close that follow refer to it by the id of this request.
struct PutRequest {
  static constexpr std::string_view kOp = "put";
  std::string path;
  std::uint64_t size = 0;             // required: the bytes to come, 0 to kMaxFileSize
  std::uint32_t mode = 0644;          // 0 to kMaxModeBits; the server keeps the permission bits (0777)
  std::optional<std::int64_t> mtime;  // 0 to kMaxModificationTime; absent (or -1): the time of the upload
  std::uint32_t mtime_nsec = 0;       // 0 to kMaxNanoseconds
  std::string algo = std::string(kDefaultChecksumName);
  bool resume = false;  // keep what an interrupted upload of the same target left

  static Result<PutRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const PutRequest&) const = default;
};

struct PutReply {
  std::uint64_t offset = 0;                    // bytes the server already has (a resume); data starts here
  std::optional<std::string> prefix_checksum;  // the digest of those bytes, sent when offset > 0
  std::uint64_t discarded = 0;  // bytes of an earlier partial longer than `size` that were dropped (absent when 0)

  static Result<PutReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const PutReply&) const = default;
};

// {"op": "data", "ref": PUT_ID} with the bytes as the body. No id and no reply.
struct UploadDataFrame {
  static constexpr std::string_view kOp = "data";
  std::uint64_t ref = 0;  // the id of the put

  // EPROTO when `ref` is missing or not a request id.
  static Result<UploadDataFrame> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const UploadDataFrame&) const = default;
};

struct PutCloseRequest {
  static constexpr std::string_view kOp = "put_close";
  std::uint64_t ref = 0;  // the id of the put
  std::string checksum;   // the client's digest of the whole file

  static Result<PutCloseRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const PutCloseRequest&) const = default;
};

struct PutCloseReply {
  std::uint64_t size = 0;
  std::string checksum;  // the server's digest of what it wrote

  static Result<PutCloseReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const PutCloseReply&) const = default;
};

// Ends an upload without publishing it; the partial file stays for a later resume. The reply has no fields.
struct PutAbortRequest {
  static constexpr std::string_view kOp = "put_abort";
  std::uint64_t ref = 0;  // the id of the put

  static Result<PutAbortRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const PutAbortRequest&) const = default;
};

// Answered by a GetHeadReply, any number of GetDataReply frames with the bytes as bodies, and a GetTailReply (or an
// error reply, which ends the stream early).
struct GetRequest {
  static constexpr std::string_view kOp = "get";
  std::string path;          // "" (or absent) is the current folder
  std::uint64_t offset = 0;  // send from here on (a resume); 0 to kMaxFileSize
  std::string algo = std::string(kDefaultChecksumName);

  static Result<GetRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const GetRequest&) const = default;
};

// {"more": true, "size": ..., "mode": ..., "mtime": ..., "mtime_nsec": ..., "offset": ...}
struct GetHeadReply {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits (07777)
  std::int64_t mtime = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint64_t offset = 0;  // as requested

  // EPROTO also when `more` is not true.
  static Result<GetHeadReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const GetHeadReply&) const = default;
};

// {"more": true} with file bytes as the body.
struct GetDataReply {
  // EPROTO when `more` is not true.
  static Result<GetDataReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const GetDataReply&) const = default;
};

// {"more": false, "size": ..., "checksum": ...}: the end of a download.
struct GetTailReply {
  std::uint64_t size = 0;  // bytes in the file
  std::string checksum;    // the digest of the whole file, prefix included

  // EPROTO also when `more` is not false.
  static Result<GetTailReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const GetTailReply&) const = default;
};

}  // namespace ferry::protocol
