// Download: one regular file being sent from a home, from an offset to its end.
//
// The file is sent as it was when opened: its first size() bytes (fewer if it shrinks meanwhile). The checksum covers
// the whole file, so a resumed download hashes the prefix the client already has too. A plain connection can send a
// whole file whose checksum is known with sendfile(2) on fd(); otherwise the front end Reads. Exactly one audit line:
// Finish, Fail, or (if neither was called) an interruption when it is dropped.
// Move-only; used on its session's loop. REQUIRES: the UserSession that opened it outlives it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "transfer/checksum.h"

namespace ferry::service {

class UserSession;

struct DownloadResult {
  std::uint64_t size = 0;  // bytes of the file covered (offset included)
  std::string checksum;    // empty when the front end sends none and nothing was hashed (DownloadDigest::kNotSent)
};

// Whether the front end sends the client the file's checksum.
enum class DownloadDigest {
  // It does (the Ferry protocol's trailer): every byte read is hashed, a resumed download's prefix too.
  kSent,
  // It does not (FTP, SFTP): the bytes are hashed only to remember a whole file's checksum that is not remembered
  // yet (so that the next Ferry download can use sendfile), and a resumed download reads no prefix.
  kNotSent,
};

class Download {
 public:
  Download(Download&& other) noexcept;
  Download& operator=(Download&& other) = delete;
  ~Download();

  int fd() const { return file_.get(); }
  std::uint64_t size() const { return static_cast<std::uint64_t>(stat_.st_size); }
  std::uint64_t offset() const { return offset_; }
  std::uint32_t mode() const { return stat_.st_mode & 07777; }
  const timespec& mtime() const { return stat_.st_mtim; }
  // The whole file's checksum if it is remembered and still valid (for a download from offset 0 only).
  const std::optional<std::string>& known_checksum() const { return known_; }

  // Up to buffer.size() bytes of what follows what was read (from offset() on); 0 at the end.
  Result<std::size_t> Read(std::span<char> buffer);
  // The download went out in full: `bytes_sent` were sent, by Read or by sendfile of fd() (then the checksum is the
  // known one). Remembers the checksum for next time and writes the audit line.
  DownloadResult Finish(std::uint64_t bytes_sent);
  // It stopped after `bytes_sent`: the audit line says why.
  void Fail(const Status& why, std::uint64_t bytes_sent);
  // It ended unfinished after `bytes_sent` (the connection dropped, or the client gave up): audited as EIO with
  // "stopped": "interrupted". The destructor does this for a download neither finished nor failed.
  void Interrupted(std::uint64_t bytes_sent);

 private:
  friend class UserSession;
  Download(UserSession* session, std::string path, UniqueFd file, const struct stat& st, std::uint64_t offset,
           transfer::ChecksumAlgorithm algorithm, std::optional<std::string> known, DownloadDigest digest);

  UserSession* session_;
  std::string path_;
  UniqueFd file_;
  struct stat stat_;
  std::uint64_t offset_;
  transfer::Checksum checksum_;
  std::optional<std::string> known_;
  // What Read hashes: everything, or nothing (then reading starts at the offset).
  bool hashing_;
  std::uint64_t position_ = 0;  // read (and hashed, when hashing_) so far
  bool audited_ = false;
};

}  // namespace ferry::service
