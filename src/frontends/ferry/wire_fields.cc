#include "frontends/ferry/wire_fields.h"

namespace ferry::frontends::native {

protocol::DirectoryEntry EntryOf(const service::FileInfo& info) {
  protocol::DirectoryEntry entry;
  entry.name = info.name;
  switch (info.type) {
    case service::FileType::kFile: entry.type = protocol::EntryType::kFile; break;
    case service::FileType::kDirectory: entry.type = protocol::EntryType::kDirectory; break;
    case service::FileType::kSymlink: entry.type = protocol::EntryType::kLink; break;
    case service::FileType::kOther: entry.type = protocol::EntryType::kOther; break;
  }
  entry.size = info.size;
  entry.mode = info.mode;
  entry.mtime = info.mtime;
  entry.mtime_nsec = info.mtime_nsec;
  entry.nlink = info.nlink;
  return entry;
}

Result<transfer::ChecksumAlgorithm> AlgorithmOf(std::string_view name) { return transfer::ParseChecksumName(name); }

}  // namespace ferry::frontends::native
