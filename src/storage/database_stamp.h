// Where an SQLite database in WAL mode stands on disk: identity, size and modification time of the database file
// and of its WAL. Every commit, from any connection or process (ferryd user … beside a running server), changes
// them; what was read while the same stamp held and had settled is still current.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::storage {

struct FileStamp {
  bool exists = false;
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct DatabaseStamp {
  FileStamp db, wal;

  // The stamp of the database at `path` (and of `path`-wal) now.
  static DatabaseStamp Of(const std::string& path);
  // Whether the newest change is old enough (far beyond the granularity of file timestamps) that any later commit
  // is sure to move the stamp: what is read now may be kept until the stamp changes.
  bool Settled() const;
  bool operator==(const DatabaseStamp&) const = default;
};

}  // namespace ferry::storage
