// Upload: one file being written into a home, from its first byte (or a resumed prefix) to its publication.
//
// Atomic uploads (the default) write to a partial file outside the home and appear under their name only once
// complete and verified, in one rename; dropping the Upload keeps the partial for a later resume. In-place uploads
// (atomic = false) write the target itself, as an SFTP client that writes at offsets expects. With a declared size
// the room for it is reserved when the upload begins, and writing past it fails; without one room is reserved as the
// file grows. Every write is counted in the owner's usage as it lands, so usage always matches the disk.
// Move-only; used on its session's loop. REQUIRES: the UserSession that began it outlives it.
#pragma once

#include <time.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "common/unique_fd.h"
#include "storage/home_dir.h"
#include "storage/quota_ledger.h"
#include "transfer/checksum.h"

namespace ferry::service {

class UserSession;

// What an upload requires of its target before it starts (as open(2)'s O_EXCL, and an open without O_CREAT).
enum class UploadTarget { kAny, kMustNotExist, kMustExist };

struct UploadOptions {
  std::optional<std::uint64_t> size;  // the total the client declares; none: reserve as it grows
  std::uint32_t mode = 0644;          // permission bits of the published file (setuid and the like are dropped)
  std::optional<timespec> mtime;      // modification time to give it
  bool resume = false;                // keep what an earlier upload of this target left, if it fits
  transfer::ChecksumAlgorithm algorithm = transfer::kDefaultChecksum;
  bool atomic = true;                 // false: write the target in place
  // With atomic: a target that already exists is continued in place instead (as atomic = false with resume), and
  // a new one is still written beside it and published. Decided by the service's own look at the target, not a
  // front end's earlier one; a target that comes or goes before it is opened is refused (kBusy).
  bool continue_existing = false;
  UploadTarget target = UploadTarget::kAny;  // refused (EEXIST, ENOENT) otherwise
};

struct UploadResult {
  std::uint64_t size = 0;
  std::string checksum;  // of the whole file, in the upload's algorithm
};

class Upload {
 public:
  Upload(Upload&& other) noexcept = default;
  Upload& operator=(Upload&& other) noexcept = default;
  // An upload dropped before Commit (the connection ended, the client gave up, a write failed and the front end
  // let it go) is audited here: its error, else "interrupted", with the bytes that arrived.
  ~Upload();

  // Bytes in the file: the resumed prefix at first, then all that was written.
  std::uint64_t size() const { return written_; }
  // Bytes kept from an earlier upload (the client sends the rest), and the checksum of those bytes.
  std::uint64_t resumed() const { return resumed_; }
  const std::string& prefix_checksum() const { return prefix_checksum_; }
  // Bytes of an earlier partial that could not be used (longer than the declared size): dropped.
  std::uint64_t discarded() const { return discarded_; }
  // Ok, or why the upload failed: later writes are refused and Commit reports it.
  const Status& error() const { return error_; }

  // Appends `bytes`.
  Status Write(std::string_view bytes);
  // Writes `bytes` at `offset` (the file grows as needed; a gap reads as zeros).
  Status WriteAt(std::uint64_t offset, std::string_view bytes);
  // Appends up to `max_bytes` of the file `fd` from `offset` on (never past a declared size), copied inside the kernel
  // (copy_file_range(2), which shares blocks where the file system can; read and write where it cannot). `*copied`
  // is what was appended: 0 at the end of `fd`.
  Status CopyFrom(int fd, std::uint64_t offset, std::uint64_t max_bytes, std::uint64_t* copied);
  // After CopyFrom, no checksum is computed (UploadResult::checksum is empty) and none may be expected.
  // Verifies the size and (when given) the checksum, sets mode and time, and publishes the file: for an atomic
  // upload by renaming it over its name, replacing what was there (unless it had to be new: then a name taken while
  // it ran is kExists). Audited, failed or not (then not again). A short upload keeps its partial for a resume; a
  // corrupted one is discarded.
  Result<UploadResult> Commit(std::optional<std::string_view> expected_checksum);
  // Deletes what was written and gives its room back: an atomic upload's partial, a file an in-place upload made;
  // a file continued in place goes back to the length it had (bytes written over within it stay written).
  void Discard();
  // Discard, and no audit line: the front end begins the same upload again another way (FTP's APPE onto a file).
  void Abandon();

 private:
  friend class UserSession;
  friend class FileCopy;
  Upload() = default;

  // Fails the upload: later writes are refused and Commit reports `status`.
  Status Fail(Status status);
  // Counts bytes written past what was counted before (from `old_end` to `new_end`), reserving first where the
  // size was not declared.
  Status Grow(std::uint64_t old_end, std::uint64_t new_end);
  Result<UploadResult> Publish(std::optional<std::string_view> expected_checksum);
  // What a failed rename of the partial onto the target (errno `err`) tells the client.
  Status RenameError(int err) const;

  UserSession* session_ = nullptr;
  Status error_;
  UniqueFd file_;
  std::string partial_name_;  // in the session's partial store; empty for an in-place upload
  storage::DirFd target_parent_;
  std::string target_name_;
  std::string path_;  // as the user named it
  std::string copied_from_;  // a server-side copy's source: its audit line is a "copy" from there
  transfer::Checksum checksum_{transfer::kDefaultChecksum};
  bool checksum_running_ = true;  // every byte so far came in order: checksum_ covers the file
  bool unhashed_ = false;         // bytes were copied in the kernel (CopyFrom): the file is published unhashed
  std::uint64_t written_ = 0;     // the file's size
  std::optional<std::uint64_t> declared_;
  std::uint64_t resumed_ = 0;
  std::uint64_t discarded_ = 0;
  std::string prefix_checksum_;
  std::uint32_t mode_ = 0644;
  bool mode_set_ = false;  // the partial was made with mode_ (PartialStore::Lock): publishing need not set it
  std::optional<timespec> mtime_;
  bool new_name_ = false;  // no file had the target's name when it began: publishing adds an entry
  bool must_stay_new_ = false;  // UploadTarget::kMustNotExist: a name taken while it ran is not replaced
  storage::QuotaLedger::Reservation reservation_;  // room for the bytes still to come and the new name

  // Whether the upload's audit line is still to be written (set by BeginUpload; a copy writes its own): cleared by
  // Commit and the destructor, and in an Upload moved from.
  class AuditPending {
   public:
    AuditPending() = default;
    AuditPending(AuditPending&& other) noexcept : pending_(std::exchange(other.pending_, false)) {}
    AuditPending& operator=(AuditPending&& other) noexcept {
      pending_ = std::exchange(other.pending_, false);
      return *this;
    }
    void Set() { pending_ = true; }
    // True once: whoever gets it writes the line.
    bool Take() { return std::exchange(pending_, false); }

   private:
    bool pending_ = false;
  };
  AuditPending audit_;
};

}  // namespace ferry::service
