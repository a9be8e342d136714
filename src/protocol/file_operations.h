// The file operations' requests and replies: stat, ls, mkdir, rmdir, rm, mv, cp, symlink, setstat, quota and sum.
//
// Shared by server and client; docs/protocol.md is the reference, and session_operations.h states the conventions
// (Parse/Encode for requests, Parse/AppendTo for replies, ids kept apart). Paths are checked as RequestFields::Path
// checks them: no NUL byte (EINVAL), at most kMaxPathLength bytes (ENAMETOOLONG). Operations whose reply carries
// no field (mkdir, rmdir, rm, mv, symlink, setstat) have no reply struct: their reply is OkReply(id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/directory_entry.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace ferry::protocol {

struct StatRequest {
  static constexpr std::string_view kOp = "stat";
  std::string path;  // optional; "" (or absent) is the current folder

  static Result<StatRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const StatRequest&) const = default;
};

// A symbolic link is described, not followed.
struct StatReply {
  DirectoryEntry entry;

  static Result<StatReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const StatReply&) const = default;
};

struct ListRequest {
  static constexpr std::string_view kOp = "ls";
  std::string path;   // optional; "" (or absent) is the current folder
  std::string match;  // optional; a glob pattern (common/glob.h) the names listed must match; "": all

  static Result<ListRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const ListRequest&) const = default;
};

// One frame of a listing: {"more": BOOL} (and "file": true when the path named something other than a folder),
// with the entries (at most kListBatchSize) as a JSON array in the body.
struct ListReply {
  bool more = false;  // further frames for the same request follow
  bool file = false;  // the path named a file: `entries` holds that one entry
  std::vector<DirectoryEntry> entries;

  static Result<ListReply> Parse(const Json& header, std::string_view body);
  // The header's fields; the entries go in the body.
  void AppendTo(Json& reply) const;
  std::string EncodeBody() const;

  bool operator==(const ListReply&) const = default;
};

struct MkdirRequest {
  static constexpr std::string_view kOp = "mkdir";
  std::string path;
  bool parents = false;  // like mkdir -p

  static Result<MkdirRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const MkdirRequest&) const = default;
};

struct RmdirRequest {
  static constexpr std::string_view kOp = "rmdir";
  std::string path;

  static Result<RmdirRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const RmdirRequest&) const = default;
};

struct RmRequest {
  static constexpr std::string_view kOp = "rm";
  std::string path;
  bool recursive = false;  // folders too, with everything in them

  static Result<RmRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const RmRequest&) const = default;
};

struct MvRequest {
  static constexpr std::string_view kOp = "mv";
  std::string from;
  std::string to;
  bool overwrite = false;  // replace an existing file at `to`

  static Result<MvRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const MvRequest&) const = default;
};

// Copies the regular file `from` to `to` (into `to` when it is a folder) on the server, as cp does: links in `from`
// are followed, the copy has the source's permission bits and, with `preserve`, its modification time; a file at
// the target is replaced unless `no_clobber`. The whole file's room is reserved first.
struct CpRequest {
  static constexpr std::string_view kOp = "cp";
  std::string from;
  std::string to;
  bool preserve = false;
  bool no_clobber = false;
  bool exact = false;  // `to` is the copy's own name, never a folder to copy into (EISDIR if it is one), as cp -T

  static Result<CpRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const CpRequest&) const = default;
};

struct CpReply {
  std::string path;        // the copy's path, as the server joined it (the folder's name added when `to` is one)
  std::uint64_t size = 0;  // bytes copied

  static Result<CpReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const CpReply&) const = default;
};

// Makes `path` a symbolic link to `target` (as ln -s TARGET PATH): a path of the home, absolute from its top or
// relative to the link's folder, that may not lead out of it.
struct SymlinkRequest {
  static constexpr std::string_view kOp = "symlink";
  std::string path;
  std::string target;

  static Result<SymlinkRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const SymlinkRequest&) const = default;
};

// Sets what is given, leaves the rest.
struct SetStatRequest {
  static constexpr std::string_view kOp = "setstat";
  std::string path;                   // "" (or absent) is the current folder
  std::optional<std::uint32_t> mode;  // 0 to kMaxModeBits
  std::optional<std::int64_t> mtime;  // 0 to kMaxModificationTime
  std::uint32_t mtime_nsec = 0;       // with mtime; 0 to kMaxNanoseconds

  static Result<SetStatRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const SetStatRequest&) const = default;
};

struct QuotaRequest {
  static constexpr std::string_view kOp = "quota";

  static Result<QuotaRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const QuotaRequest&) const = default;
};

// What the user stores and may store. The limits are always present on the wire, null when there is none.
struct QuotaReply {
  std::uint64_t bytes = 0;
  std::uint64_t bytes_reserved = 0;  // promised to uploads in progress, not written yet
  std::optional<std::uint64_t> max_bytes;
  std::uint64_t files = 0;
  std::uint64_t files_reserved = 0;
  std::optional<std::uint64_t> max_files;

  static Result<QuotaReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const QuotaReply&) const = default;
};

struct SumRequest {
  static constexpr std::string_view kOp = "sum";
  std::string path;
  // The checksum's name ("xxh3", "sha256", "md5"). Only its type is checked here: the server maps it with
  // transfer::ParseChecksumName, which answers EINVAL for a name it does not know.
  std::string algo = std::string(kDefaultChecksumName);
  std::optional<std::uint64_t> length;  // only the first `length` bytes; 0 to kMaxFileSize

  static Result<SumRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const SumRequest&) const = default;
};

struct SumReply {
  std::string checksum;  // lower-case hex
  std::string algo;
  std::uint64_t size = 0;  // the bytes summed

  static Result<SumReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const SumReply&) const = default;
};

}  // namespace ferry::protocol
