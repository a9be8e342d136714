#include "support/test_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "common/unique_fd.h"
#include "transfer/checksum.h"

namespace ferry::testing {

namespace fs = std::filesystem;

std::string RandomBytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xFF);
  return bytes;
}

std::string Xxh3(std::string_view bytes) {
  transfer::Checksum checksum(transfer::ChecksumAlgorithm::kXxh3);
  checksum.Update(bytes);
  return checksum.HexDigest();
}

std::vector<std::string> Names(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string OnlyFileIn(const std::string& folder) {
  const auto names = Names(folder);
  return names.size() == 1 ? folder + "/" + names[0] : "";
}

std::uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

bool UserAttributesWork(const std::string& folder) {
  const std::string probe = folder + "/.xattr-probe";
  UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const bool works = fd.valid() && ::fsetxattr(fd.get(), "user.ferry.probe", "1", 1, 0) == 0;
  ::unlink(probe.c_str());
  return works;
}

}  // namespace ferry::testing
