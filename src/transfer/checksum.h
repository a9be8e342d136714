// Checksum: streaming digests that prove a transfer intact, end to end.
//
// xxh3 (XXH3-128, libxxhash) is the default: fast enough that hashing never slows a transfer. sha256 and md5
// (OpenSSL) are there for comparison with sha256sum/md5sum. Digests are lower-case hex; xxh3's is the canonical
// big-endian form of the 128-bit value.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry::transfer {

enum class ChecksumAlgorithm { kXxh3, kSha256, kMd5 };

inline constexpr ChecksumAlgorithm kDefaultChecksum = ChecksumAlgorithm::kXxh3;

// "xxh3", "sha256", "md5".
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
// EINVAL naming the accepted names for anything else.
Result<ChecksumAlgorithm> ParseChecksumName(std::string_view name);

class Checksum {
 public:
  explicit Checksum(ChecksumAlgorithm algorithm);
  ~Checksum();
  Checksum(Checksum&&) noexcept;
  Checksum& operator=(Checksum&&) noexcept;
  Checksum(const Checksum&) = delete;
  Checksum& operator=(const Checksum&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything updated so far, as hex. The checksum can go on being updated afterwards.
  std::string HexDigest() const;
  ChecksumAlgorithm algorithm() const { return algorithm_; }

 private:
  struct State;
  ChecksumAlgorithm algorithm_;
  std::unique_ptr<State> state_;
};

// The digest of `length` bytes of `fd` from offset 0 (all of it when length is negative), read with pread.
// ENOENT-like errors come from the read; a file shorter than `length` is EINVAL.
Result<std::string> ChecksumOfFile(int fd, ChecksumAlgorithm algorithm, long long length = -1);

}  // namespace ferry::transfer
