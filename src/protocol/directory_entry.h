// DirectoryEntry: the entry object of the protocol, with the one encoder and the one parser every side uses.
//
// {"name": "notes.txt", "type": "file", "size": 1234, "mode": 420, "mtime": 1763932800, "mtime_nsec": 0,
//  "nlink": 1}, and "target": "docs" for a symbolic link: what stat replies hold under "entry" and ls bodies hold in an array. docs/protocol.md is the
// reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::protocol {

enum class EntryType { kFile, kDirectory, kLink, kOther };

// "file", "dir", "link", "other".
std::string_view EntryTypeName(EntryType type);
// The type a name stands for; kOther for "other" and for names a later server may add.
EntryType EntryTypeFromName(std::string_view name);

struct DirectoryEntry {
  std::string name;  // the final component ("/" for the home itself)
  EntryType type = EntryType::kOther;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;        // permission bits (07777)
  std::int64_t mtime = 0;        // seconds since 1970-01-01 UTC
  std::uint32_t mtime_nsec = 0;  // nanoseconds within that second
  std::uint64_t nlink = 0;
  std::string target;  // a symbolic link's text, as readlink(2) gives it ("" for anything else, or unknown)

  // EPROTO naming the field when one is missing, of the wrong type or out of range (mode above 07777, mtime_nsec
  // above 999999999).
  static Result<DirectoryEntry> Parse(const Json& entry);
  // The entry object, built field by field (a listing builds one per file).
  Json Encode() const;

  bool operator==(const DirectoryEntry&) const = default;
};

// An ls reply's body: a JSON array of entry objects.
std::string EncodeEntryList(const std::vector<DirectoryEntry>& entries);
// EPROTO when the body is not a JSON array of well-formed entry objects. The text EncodeEntryList writes is read
// directly; any other spelling of JSON goes through ParseEntryListAsJson, whose answer is the same.
Result<std::vector<DirectoryEntry>> ParseEntryList(std::string_view body);
// The general parser: nlohmann's, then DirectoryEntry::Parse for each entry.
Result<std::vector<DirectoryEntry>> ParseEntryListAsJson(std::string_view body);
// The direct reader ParseEntryList tries first: the entries when `body` is the text EncodeEntryList writes for
// entries whose strings are printable ASCII (no escapes), nullopt for anything else.
std::optional<std::vector<DirectoryEntry>> ReadCanonicalEntryList(std::string_view body);

}  // namespace ferry::protocol
