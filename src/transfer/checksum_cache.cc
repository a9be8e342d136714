#include "transfer/checksum_cache.h"

#include <sys/xattr.h>

#include <fmt/format.h>

#include "common/clock.h"

namespace ferry::transfer {
namespace {

std::string AttributeName(ChecksumAlgorithm algorithm) { return fmt::format("user.ferry.{}", ChecksumName(algorithm)); }

std::string Stamp(const struct stat& st) {
  return fmt::format("{}:{}:", st.st_size, UnixNanoseconds(st.st_mtim));
}

}  // namespace

std::optional<std::string> LoadCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st) {
  if (!RemembersChecksumOf(static_cast<std::uint64_t>(st.st_size))) return std::nullopt;
  char value[256];
  const ssize_t n = ::fgetxattr(fd, AttributeName(algorithm).c_str(), value, sizeof value);
  if (n <= 0) return std::nullopt;
  const std::string text(value, static_cast<std::size_t>(n));
  const std::string stamp = Stamp(st);
  if (!text.starts_with(stamp) || text.size() == stamp.size()) return std::nullopt;
  return text.substr(stamp.size());
}

void StoreCachedChecksum(int fd, ChecksumAlgorithm algorithm, const struct stat& st, const std::string& hex) {
  if (!RemembersChecksumOf(static_cast<std::uint64_t>(st.st_size))) return;
  const std::string value = Stamp(st) + hex;
  ::fsetxattr(fd, AttributeName(algorithm).c_str(), value.data(), value.size(), 0);
}

}  // namespace ferry::transfer
