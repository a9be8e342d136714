// FileCopy: one regular file of a home copied to another name on the server (cp), without its bytes crossing the
// network.
//
// The copy is an atomic upload whose bytes come from the source file through copy_file_range(2): it appears under
// its name only once complete, room for the whole file is reserved when it begins, and it is made in steps so that a
// large file does not hold the session's event loop. Exactly one audit line ("copy", from, to): the refusal, the
// publication, or the failure when it is dropped unfinished (what was copied is then removed).
// Move-only; used on its session's loop. REQUIRES: the UserSession that began it outlives it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "service/upload.h"

namespace ferry::service {

class UserSession;

class FileCopy {
 public:
  // A moved-from copy holds nothing (its destructor neither audits nor discards).
  FileCopy(FileCopy&& other) noexcept;
  FileCopy& operator=(FileCopy&& other) = delete;
  // An unfinished copy is discarded, and audited as failed.
  ~FileCopy();

  // The bytes to copy (the source's size when the copy began).
  std::uint64_t size() const { return size_; }
  std::uint64_t copied() const { return copied_; }
  // The copy's path: `to`, or the source's name in the folder `to` names.
  const std::string& path() const { return path_; }

  // Copies up to `max_bytes` more; true once the whole file is copied. A failure discards the copy.
  Result<bool> Step(std::uint64_t max_bytes);
  // Publishes the copy under its name, replacing a file there.
  Result<UploadResult> Commit();

 private:
  friend class UserSession;
  FileCopy(UniqueFd source, std::uint64_t size, std::string path, Upload upload);

  UniqueFd source_;
  std::string path_;
  std::uint64_t size_;
  std::uint64_t copied_ = 0;
  std::optional<Upload> upload_;  // empty once committed or failed
};

}  // namespace ferry::service
