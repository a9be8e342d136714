// UserSession: one logged-in user on one connection, as the file service sees them.
//
// Paths are as the user sees them: absolute virtual paths of the home ("/" is the home); each front end keeps its own
// current folder and joins paths before calling. Every mutating call checks permission, reserves or settles quota
// and writes exactly one audit line; a read-only call writes none, except downloads, which are audited. Errors speak
// of the file system ("target exists"), never of one client's flags.
// Used on one event loop at a time (the connection's); created only by FileService::Login.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "service/audit_log.h"
#include "service/download.h"
#include "service/file_copy.h"
#include "service/partial_store.h"
#include "service/upload.h"
#include "service/paths.h"
#include "storage/file_ops.h"
#include "storage/home_dir.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"
#include "transfer/checksum.h"

namespace ferry::service {

struct FileServiceOptions;

// Who is connected, for the throttle, the logs and the audit log.
struct ClientInfo {
  std::string address;      // the IP address alone (throttling)
  std::string peer;         // "address:port" (logs and audit lines)
  std::string_view protocol = "ferry";
};

struct QuotaReport {
  storage::QuotaUsage usage;
  storage::UserQuota limits;
};

struct ChecksumReport {
  std::string checksum;
  transfer::ChecksumAlgorithm algorithm;
  std::uint64_t size = 0;  // bytes covered
};

class UserSession {
 public:
  // Writes the logout line and frees the user's session slot.
  ~UserSession();
  UserSession(const UserSession&) = delete;
  UserSession& operator=(const UserSession&) = delete;

  const std::string& user() const { return user_; }
  const ClientInfo& client() const { return client_; }

  // Requests that arrived together (what a pipelining client sends back to back) may share what the first of them
  // looked up: while a batch is open, and for at most kBatchLifetime, the account's permissions and quota are read
  // once, not once a request, and uploads into one folder resolve it once (until this session changes a name other
  // than by uploading a new file, or starts a program). A change an administrator or another session of the user
  // makes meanwhile applies from the next batch, as it would to requests that came a moment earlier. A front end
  // that opens no batch reads everything each time. BeginBatch keeps a batch that is open and not too old; until
  // EndBatch, one that grows too old is replaced by a fresh one.
  void BeginBatch();
  void EndBatch();
  static constexpr auto kBatchLifetime = std::chrono::milliseconds(100);

  // Reading. A symlink is described, not followed; with `follow`, what it leads to inside the home is.
  Result<storage::FileInfo> Stat(std::string_view path, bool follow = false) const;
  // The text of the symlink `path` names.
  Result<std::string> ReadLink(std::string_view path) const;
  Result<storage::DirectoryLister> OpenDirectory(std::string_view path) const;
  // The folder `path` names, following links inside the home: what a change of folder moves to.
  Result<std::string> ResolveDirectory(std::string_view path) const;
  // The checksum of a regular file, or of its first `length` bytes; a whole file's is remembered for next time.
  Result<ChecksumReport> Checksum(std::string_view path, transfer::ChecksumAlgorithm algorithm,
                                  std::optional<std::uint64_t> length) const;
  Result<QuotaReport> Quota() const;
  // The bytes an unfinished (atomic) upload to `path` has kept for a resume; ENOENT when there is none. What FTP
  // clients ask with SIZE before resuming an upload.
  Result<std::uint64_t> UnfinishedUploadSize(std::string_view path) const;
  // Opens a regular file to send from `offset` on; audited (failures too, and the download when it ends). `digest`
  // says whether the front end sends its checksum (what Read must hash).
  Result<Download> OpenDownload(std::string_view path, std::uint64_t offset, transfer::ChecksumAlgorithm algorithm,
                                DownloadDigest digest);

  // EPERM when the account may not change anything (read-only, or removed since login). Read on every call outside
  // a batch and once a batch within one (see BeginBatch), so an administrator's change reaches open sessions. Every
  // mutating call below checks it first.
  Status CheckWritable() const;

  // Changing. Each writes one audit line.
  Status MakeDirectory(std::string_view path, bool parents);
  Status RemoveDirectory(std::string_view path);
  Status Remove(std::string_view path, bool recursive);
  // Moves `from` to `to`, or into `to` when it is a folder (unless `how` is kExactName, as SFTP's RENAME); what is
  // there is replaced only with `overwrite` (storage::Rename).
  Status Rename(std::string_view from, std::string_view to, bool overwrite,
                storage::RenameTarget how = storage::RenameTarget::kIntoFolder);
  // The first half of a rename in two steps (FTP's RNFR): what `from` is, when the account may rename; a refusal
  // is audited as the rename it stops.
  Result<storage::FileInfo> StatRenameSource(std::string_view from);
  // Without `follow`, a symlink `path` names is changed itself (its time; it has no permissions of its own). A
  // `size` (SFTP's SETSTAT carries one) must be the file's own: files are not truncated or extended here (ENOSYS).
  // Only the size the file has (and no mode or time) is no change: not checked, not audited.
  Status SetAttributes(std::string_view path, std::optional<std::uint32_t> mode, std::optional<timespec> mtime,
                       bool follow = true, std::optional<std::uint64_t> size = std::nullopt);
  // Makes `path` a symbolic link to `target`, a path of the home (absolute from its top, or relative to the link's
  // folder) that may not lead out of it; kept relative to the link's folder (storage::LinkText). Takes one entry of
  // the file-count quota.
  Status MakeSymlink(std::string_view path, std::string_view target);
  // Starts an upload to `path`: refused here (and audited) before any byte when not permitted or out of room.
  // REQUIRES: this session outlives the upload.
  Result<Upload> BeginUpload(std::string_view path, const UploadOptions& options);
  // Starts a copy of the regular file `from` (its links followed) to `to`, or into `to` when it is a folder, as cp
  // does: the copy has the source's permission bits, and its modification time with `preserve_time`; a file at the
  // target is replaced when the copy is published, unless `no_clobber` (then EEXIST). Room for the whole file is
  // reserved here. With `exact`, `to` is the copy's own name even when it is a folder (then EISDIR), as cp -T.
  // REQUIRES: this session outlives the copy.
  Result<FileCopy> BeginCopy(std::string_view from, std::string_view to, bool preserve_time, bool no_clobber,
                             bool exact = false);

 private:
  friend class FileService;
  friend class Upload;
  friend class Download;
  friend class FileCopy;
  friend class ProgramService;
  friend class RunningProgram;

  UserSession(const FileServiceOptions& options, ClientInfo client, std::string user, storage::HomeDir home,
              PartialStore partials, std::shared_ptr<void> slot);

  // BeginUpload without its audit line (a copy writes its own).
  Result<Upload> StartUpload(std::string_view path, const UploadOptions& options);
  // Room under the user's quota as it is now (read on each use, or once a batch, so a change applies to open
  // sessions).
  Result<storage::QuotaLedger::Reservation> Reserve(std::uint64_t bytes, std::uint64_t entries) const;
  // The account's permissions and quota, from the open batch when it has them.
  Result<storage::UserPermissions> AccountPermissions() const;
  Result<storage::UserQuota> AccountQuota() const;
  // The folder an upload to `path` goes into and the name in it; with `virtual_path`, also the folder's canonical
  // virtual path (what names its partial). Reused within a batch for uploads into the same folder.
  Result<storage::ParentAndName> OpenUploadParent(std::string_view path, std::string* virtual_path) const;
  // Ends the reuse of the upload folder: this session changed names (or a program may have).
  void ForgetUploadFolder() const;
  void ApplyChange(const storage::SpaceChange& change) const;
  // Measures the home again (after a program ran in it).
  void Remeasure() const;
  void Audit(std::string_view event, std::string_view path, const Status& result,
             std::optional<std::uint64_t> bytes = std::nullopt, std::string_view to = {},
             std::string_view stopped = {}) const;
  // The audit line of a program run: refused or failed to start (`program` null), or ran and ended as `program` says.
  void AuditExec(std::string_view cwd, const Status& result, const std::vector<std::string>& command,
                 const ProgramEnd* program, std::optional<std::uint64_t> output_bytes) const;

  const FileServiceOptions& options_;
  ClientInfo client_;
  std::string user_;
  storage::HomeDir home_;
  PartialStore partials_;
  std::shared_ptr<void> slot_;  // this session's place among its user's sessions

  struct UploadFolder {
    std::string path;  // as the request spelled it (lexically), the key
    std::shared_ptr<const UniqueFd> fd;
    std::string virtual_path;  // canonical, "" until an atomic upload needed it
  };
  struct Batch {
    std::chrono::steady_clock::time_point started;
    std::optional<storage::UserPermissions> permissions;
    std::optional<storage::UserQuota> quota;
    std::optional<UploadFolder> folder;
  };
  // The open batch, if any; it is not used past kBatchLifetime (a fresh one replaces it while batching_).
  mutable std::optional<Batch> batch_;
  bool batching_ = false;  // between BeginBatch and EndBatch
  Batch* OpenBatch() const;
};

}  // namespace ferry::service
