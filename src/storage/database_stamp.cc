#include "storage/database_stamp.h"

#include <sys/stat.h>

#include <algorithm>

#include "common/clock.h"

namespace ferry::storage {

namespace {

constexpr std::int64_t kSettledNs = 250'000'000;

FileStamp StampOf(const std::string& path) {
  FileStamp file;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    file.exists = true;
    file.device = st.st_dev;
    file.inode = st.st_ino;
    file.size = static_cast<std::uint64_t>(st.st_size);
    file.mtime_ns = UnixNanoseconds(st.st_mtim);
  }
  return file;
}

}  // namespace

DatabaseStamp DatabaseStamp::Of(const std::string& path) { return {StampOf(path), StampOf(path + "-wal")}; }

bool DatabaseStamp::Settled() const {
  return UnixNanosecondsNow() - std::max(db.mtime_ns, wal.mtime_ns) >= kSettledNs;
}

}  // namespace ferry::storage
