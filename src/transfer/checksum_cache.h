// The checksum of a whole file, remembered in an extended attribute so a download can send the file with
// sendfile(2) without reading it through this process.
//
// The attribute "user.ferry.<algo>" holds "<size>:<mtime in ns>:<hex digest>" and is trusted only while the file's
// size and modification time still match (rsync's quick check). A file system without user xattrs simply caches
// nothing.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>

#include "transfer/checksum.h"

namespace ferry::transfer {

// The remembered digest of the file open as `fd`, whose fstat is `st`, if still valid.
std::optional<std::string> LoadCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st);
// Remembers `hex` as the digest of the file as described by `st`. Best effort: failures are ignored.
void StoreCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st, const std::string& hex);

}  // namespace ferry::transfer
