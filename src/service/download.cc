#include "service/download.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "service/user_session.h"
#include "transfer/checksum_cache.h"

namespace ferry::service {

Download::Download(UserSession* session, std::string path, UniqueFd file, const struct stat& st,
                   std::uint64_t offset, transfer::ChecksumAlgorithm algorithm, std::optional<std::string> known,
                   DownloadDigest digest)
    : session_(session),
      path_(std::move(path)),
      file_(std::move(file)),
      stat_(st),
      offset_(offset),
      checksum_(algorithm),
      known_(std::move(known)),
      hashing_(digest == DownloadDigest::kSent ||
               (offset == 0 && !known_ && transfer::RemembersChecksumOf(static_cast<std::uint64_t>(st.st_size)))),
      position_(hashing_ ? 0 : offset) {}

Download::Download(Download&& other) noexcept
    : session_(other.session_),
      path_(std::move(other.path_)),
      file_(std::move(other.file_)),
      stat_(other.stat_),
      offset_(other.offset_),
      checksum_(std::move(other.checksum_)),
      known_(std::move(other.known_)),
      hashing_(other.hashing_),
      position_(other.position_),
      audited_(std::exchange(other.audited_, true)) {}

Download::~Download() {
  if (!audited_) Interrupted(position_ > offset_ ? position_ - offset_ : 0);
}

Result<std::size_t> Download::Read(std::span<char> buffer) {
  const std::uint64_t size = this->size();
  while (position_ < size) {
    // The prefix the client already has is read only to be hashed.
    const bool sending = position_ >= offset_;
    const std::uint64_t until = sending ? size : offset_;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), until - position_));
    const ssize_t n = ::pread(file_.get(), buffer.data(), want, static_cast<off_t>(position_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, path_);
    }
    if (n == 0) return std::size_t{0};  // it shrank
    if (hashing_) checksum_.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    position_ += static_cast<std::uint64_t>(n);
    if (sending) return static_cast<std::size_t>(n);
  }
  return std::size_t{0};
}

DownloadResult Download::Finish(std::uint64_t bytes_sent) {
  audited_ = true;
  session_->Audit("download", path_, Status::Ok(), bytes_sent);
  if (position_ == 0 && known_ && bytes_sent == size()) return {size(), *known_};  // sent by sendfile
  if (!hashing_) return {position_, {}};
  std::string digest = checksum_.HexDigest();
  // Remember the digest if the file did not change while it was read: the next download can use sendfile. Not when
  // it is remembered already (read when it was opened, for a whole-file download): reading the attribute is cheaper
  // than setting it, which takes the inode's lock and a journal transaction.
  struct stat after {};
  if (transfer::RemembersChecksumOf(size()) && ::fstat(file_.get(), &after) == 0 && after.st_size == stat_.st_size &&
      after.st_mtim.tv_sec == stat_.st_mtim.tv_sec && after.st_mtim.tv_nsec == stat_.st_mtim.tv_nsec &&
      position_ == size() &&
      (offset_ == 0 ? known_ : transfer::LoadCachedChecksum(file_.get(), checksum_.algorithm(), stat_)) != digest) {
    transfer::StoreCachedChecksum(file_.get(), checksum_.algorithm(), stat_, digest);
  }
  return {position_, std::move(digest)};
}

void Download::Interrupted(std::uint64_t bytes_sent) {
  audited_ = true;
  session_->Audit("download", path_, Status(ErrorCode::kIo, "interrupted"), bytes_sent, {}, "interrupted");
}

void Download::Fail(const Status& why, std::uint64_t bytes_sent) {
  audited_ = true;
  session_->Audit("download", path_, why, bytes_sent);
}

}  // namespace ferry::service
