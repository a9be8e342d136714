// The checksum of a whole file, remembered in an extended attribute so a download can send the file with
// sendfile(2) without reading it through this process.
//
// The attribute "user.ferry.<algo>" holds "<size>:<mtime in ns>:<hex digest>" and is trusted only while the file's
// size and modification time still match (rsync's quick check). A file system without user xattrs simply caches
// nothing. Files under kSmallestRemembered are never remembered: hashing one again (a read of a few pages) costs less
// than setting the attribute, which takes the inode's lock and a journal transaction, and than reading it back.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "transfer/checksum.h"

namespace ferry::transfer {

inline constexpr std::uint64_t kSmallestRemembered = 64 * 1024;
// Whether a file of `size` bytes has its digest remembered (see kSmallestRemembered).
constexpr bool RemembersChecksumOf(std::uint64_t size) { return size >= kSmallestRemembered; }

// The remembered digest of the file open as `fd`, whose fstat is `st`, if still valid.
std::optional<std::string> LoadCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st);
// Remembers `hex` as the digest of the file as described by `st`. Best effort: failures are ignored.
void StoreCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st, const std::string& hex);

}  // namespace ferry::transfer
