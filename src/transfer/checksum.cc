#include "transfer/checksum.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

namespace ferry::transfer {
namespace {

std::string Hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

}  // namespace

struct Checksum::State {
  XXH3_state_t* xxh3 = nullptr;
  EVP_MD_CTX* evp = nullptr;
  ~State() {
    if (xxh3 != nullptr) XXH3_freeState(xxh3);
    if (evp != nullptr) EVP_MD_CTX_free(evp);
  }
};

std::string_view ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kXxh3: return "xxh3";
    case ChecksumAlgorithm::kSha256: return "sha256";
    case ChecksumAlgorithm::kMd5: return "md5";
  }
  return "xxh3";
}

Result<ChecksumAlgorithm> ParseChecksumName(std::string_view name) {
  for (auto algorithm : {ChecksumAlgorithm::kXxh3, ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kMd5}) {
    if (ChecksumName(algorithm) == name) return algorithm;
  }
  return Status(ErrorCode::kInvalid, fmt::format("unknown checksum '{}' (use xxh3, sha256 or md5)", name));
}

Checksum::Checksum(ChecksumAlgorithm algorithm) : algorithm_(algorithm), state_(std::make_unique<State>()) {
  if (algorithm == ChecksumAlgorithm::kXxh3) {
    state_->xxh3 = XXH3_createState();
    XXH3_128bits_reset(state_->xxh3);
  } else {
    state_->evp = EVP_MD_CTX_new();
    EVP_DigestInit_ex(state_->evp, algorithm == ChecksumAlgorithm::kSha256 ? EVP_sha256() : EVP_md5(), nullptr);
  }
}

Checksum::~Checksum() = default;
Checksum::Checksum(Checksum&&) noexcept = default;
Checksum& Checksum::operator=(Checksum&&) noexcept = default;

void Checksum::Update(std::string_view bytes) {
  if (state_->xxh3 != nullptr) {
    XXH3_128bits_update(state_->xxh3, bytes.data(), bytes.size());
  } else {
    EVP_DigestUpdate(state_->evp, bytes.data(), bytes.size());
  }
}

std::string Checksum::HexDigest() const {
  if (state_->xxh3 != nullptr) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_->xxh3));
    return Hex(canonical.digest, sizeof canonical.digest);
  }
  // Finalise a copy so the running state stays usable.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, state_->evp);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(copy, digest, &size);
  EVP_MD_CTX_free(copy);
  return Hex(digest, size);
}

Result<std::string> ChecksumOfFile(int fd, ChecksumAlgorithm algorithm, long long length) {
  Checksum checksum(algorithm);
  std::vector<char> buffer(1 << 20);
  long long offset = 0;
  while (length < 0 || offset < length) {
    std::size_t want = buffer.size();
    if (length >= 0) want = static_cast<std::size_t>(std::min<long long>(length - offset, static_cast<long long>(want)));
    const ssize_t n = ::pread(fd, buffer.data(), want, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading for a checksum");
    }
    if (n == 0) {
      if (length >= 0) return Status(ErrorCode::kInvalid, "file is shorter than the checksummed length");
      break;
    }
    checksum.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    offset += n;
  }
  return checksum.HexDigest();
}

}  // namespace ferry::transfer
