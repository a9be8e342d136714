#include "service/user_session.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "service/file_service.h"
#include "transfer/checksum_cache.h"

namespace ferry::service {
namespace {

const Status kNoAccount(ErrorCode::kNotPermitted, "this account no longer exists");

}  // namespace

UserSession::UserSession(const FileServiceOptions& options, ClientInfo client, std::string user,
                         storage::HomeDir home, PartialStore partials, std::shared_ptr<void> slot)
    : options_(options),
      client_(std::move(client)),
      user_(std::move(user)),
      home_(std::move(home)),
      partials_(std::move(partials)),
      slot_(std::move(slot)) {}

UserSession::~UserSession() { Audit("logout", "", Status::Ok()); }

void UserSession::Audit(std::string_view event, std::string_view path, const Status& result,
                        std::optional<std::uint64_t> bytes, std::string_view to, std::string_view stopped) const {
  if (options_.audit == nullptr) return;
  options_.audit->Record(
      {event, user_, client_.peer, path, to, nullptr, nullptr, bytes, &result, client_.protocol, {}, {}, stopped});
}

void UserSession::AuditExec(std::string_view cwd, const Status& result, const std::vector<std::string>& command,
                            const ProgramEnd* program, std::optional<std::uint64_t> output_bytes) const {
  if (options_.audit == nullptr) return;
  options_.audit->Record(
      {"exec", user_, client_.peer, cwd, {}, &command, program, output_bytes, &result, client_.protocol, {}, {}, {}});
}

void UserSession::BeginBatch() {
  batching_ = true;
  OpenBatch();
}

void UserSession::EndBatch() {
  batching_ = false;
  batch_.reset();
}

UserSession::Batch* UserSession::OpenBatch() const {
  // While the front end keeps batching, a batch older than kBatchLifetime gives way to a fresh one: what the old one
  // had read is read again.
  const auto now = std::chrono::steady_clock::now();
  if (batch_ && now - batch_->started > kBatchLifetime) batch_.reset();
  if (!batch_ && batching_) batch_.emplace().started = now;
  return batch_ ? &*batch_ : nullptr;
}

Result<storage::UserPermissions> UserSession::AccountPermissions() const {
  Batch* batch = OpenBatch();
  if (batch && batch->permissions) return *batch->permissions;
  auto permissions = options_.users->Permissions(user_);
  if (batch && permissions.ok()) batch->permissions = *permissions;
  return permissions;
}

Result<storage::UserQuota> UserSession::AccountQuota() const {
  Batch* batch = OpenBatch();
  if (batch && batch->quota) return *batch->quota;
  auto quota = options_.users->Quota(user_);
  if (batch && quota.ok()) batch->quota = *quota;
  return quota;
}

Result<storage::ParentAndName> UserSession::OpenUploadParent(std::string_view path, std::string* virtual_path) const {
  Batch* batch = OpenBatch();
  auto [folder_path, name] = storage::HomeDir::SplitLast(path);
  if (batch && batch->folder && batch->folder->path == folder_path && !name.empty() && name != "..") {
    UploadFolder& folder = *batch->folder;
    if (virtual_path != nullptr && folder.virtual_path.empty()) {
      auto canonical = home_.VirtualPathOf(folder.fd->get());
      if (!canonical.ok()) return canonical.status();
      folder.virtual_path = std::move(canonical).value();
    }
    if (virtual_path != nullptr) *virtual_path = folder.virtual_path;
    return storage::ParentAndName{storage::DirFd::Share(folder.fd), std::move(name)};
  }
  auto target = home_.OpenParent(path);
  if (!target.ok()) return target.status();
  std::string canonical;
  if (virtual_path != nullptr) {
    auto resolved = home_.VirtualPathOf(target->parent.get());
    if (!resolved.ok()) return resolved.status();
    canonical = std::move(resolved).value();
    *virtual_path = canonical;
  }
  // A folder of its own (not the home's top level, which costs nothing to resolve) is kept for the next upload.
  if (batch && target->parent.get() != home_.fd()) {
    auto shared = std::make_shared<const UniqueFd>(target->parent.TakeOwned());
    batch->folder = UploadFolder{std::move(folder_path), shared, std::move(canonical)};
    target->parent = storage::DirFd::Share(std::move(shared));
  }
  return target;
}

void UserSession::ForgetUploadFolder() const {
  if (batch_) batch_->folder.reset();
}

Status UserSession::CheckWritable() const {
  auto permissions = AccountPermissions();
  if (!permissions.ok()) return kNoAccount;
  if (permissions->read_only) return Status(ErrorCode::kNotPermitted, "this account is read-only");
  return Status::Ok();
}

Result<storage::QuotaLedger::Reservation> UserSession::Reserve(std::uint64_t bytes, std::uint64_t entries) const {
  auto quota = AccountQuota();
  if (!quota.ok()) return quota.status().code() == ErrorCode::kNotFound ? kNoAccount : quota.status();
  return options_.quotas->Reserve(user_, *quota, bytes, entries);
}

void UserSession::ApplyChange(const storage::SpaceChange& change) const { options_.quotas->Apply(user_, change); }

void UserSession::Remeasure() const {
  if (auto usage = storage::MeasureUsage(home_.fd(), partials_.fd()); usage.ok()) {
    options_.quotas->Remeasure(user_, *usage);
  }
}

Result<storage::FileInfo> UserSession::Stat(std::string_view path, bool follow) const {
  return storage::StatPath(home_, path, follow);
}

Result<std::string> UserSession::ReadLink(std::string_view path) const { return storage::ReadLink(home_, path); }

Result<storage::DirectoryLister> UserSession::OpenDirectory(std::string_view path) const {
  return storage::DirectoryLister::Open(home_, path);
}

Result<std::string> UserSession::ResolveDirectory(std::string_view path) const {
  return storage::ResolveDirectory(home_, path);
}

Result<QuotaReport> UserSession::Quota() const {
  auto quota = AccountQuota();
  if (!quota.ok()) return quota.status();
  return QuotaReport{options_.quotas->Usage(user_), *quota};
}

Result<std::uint64_t> UserSession::UnfinishedUploadSize(std::string_view path) const {
  // The partial is named after the target's canonical path, as BeginUpload names it.
  auto target = home_.OpenParent(path);
  if (!target.ok()) return target.status();
  auto parent_path = home_.VirtualPathOf(target->parent.get());
  if (!parent_path.ok()) return parent_path.status();
  return partials_.Size((*parent_path == "/" ? "" : *parent_path) + "/" + target->name);
}

Result<ChecksumReport> UserSession::Checksum(std::string_view path, transfer::ChecksumAlgorithm algorithm,
                                             std::optional<std::uint64_t> length) const {
  auto file = home_.OpenPath(path, O_RDONLY | O_NONBLOCK);  // a FIFO must not stall the loop
  if (!file.ok()) return file.status();
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) return Status::FromErrno(errno, path);
  if (S_ISDIR(st.st_mode)) return Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", path));
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kInvalid, fmt::format("not a regular file: {}", path));
  if (length && *length > static_cast<std::uint64_t>(st.st_size)) {
    return Status(ErrorCode::kInvalid, fmt::format("{} is shorter than {} bytes", path, *length));
  }
  std::optional<std::string> cached;
  if (!length) cached = transfer::LoadCachedChecksum(file->get(), algorithm, st);
  auto digest = cached ? Result<std::string>(*cached)
                       : transfer::ChecksumOfFile(file->get(), algorithm,
                                                  length ? static_cast<long long>(*length) : -1);
  if (!digest.ok()) return digest.status();
  if (!cached && !length) transfer::StoreCachedChecksum(file->get(), algorithm, st, *digest);
  return ChecksumReport{std::move(digest).value(), algorithm,
                        length ? *length : static_cast<std::uint64_t>(st.st_size)};
}

Result<Download> UserSession::OpenDownload(std::string_view path, std::uint64_t offset,
                                           transfer::ChecksumAlgorithm algorithm, DownloadDigest digest) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, stalling the caller's whole event loop;
  // it changes nothing for the regular files that pass the check below.
  auto file = home_.OpenPath(path, O_RDONLY | O_NONBLOCK);
  struct stat st {};
  if (file.ok() && ::fstat(file->get(), &st) != 0) file = Status::FromErrno(errno, path);
  if (file.ok() && S_ISDIR(st.st_mode)) file = Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", path));
  if (file.ok() && !S_ISREG(st.st_mode)) file = Status(ErrorCode::kInvalid, fmt::format("not a regular file: {}", path));
  if (file.ok() && offset > static_cast<std::uint64_t>(st.st_size)) {
    file = Status(ErrorCode::kInvalid, fmt::format("offset {} is past the end of {}", offset, path));
  }
  if (!file.ok()) {
    Audit("download", path, file.status());
    return file.status();
  }
  std::optional<std::string> known;
  if (offset == 0) known = transfer::LoadCachedChecksum(file->get(), algorithm, st);
  return Download(this, std::string(path), std::move(file).value(), st, offset, algorithm, std::move(known), digest);
}

Status UserSession::MakeDirectory(std::string_view path, bool parents) {
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok()) {
    // mkdir -p creates at most one folder per component: reserve that many, or what is left if that is fewer (the
    // creation stops with EQUOTA if it needs more), and give back what was not needed.
    auto quota = AccountQuota();
    const std::uint64_t wanted = parents ? storage::ComponentCount(path) : 1;
    auto reservation =
        quota.ok() ? options_.quotas->Reserve(
                         user_, *quota, 0,
                         std::max<std::uint64_t>(1, std::min(wanted, options_.quotas->EntriesLeft(user_, *quota))))
                   : Result<storage::QuotaLedger::Reservation>(quota.status());
    status = reservation.status();
    if (status.ok()) {
      storage::SpaceChange change;
      status = storage::MakeDirectory(home_, path, parents, &change, reservation->entries());
      reservation->Use(0, static_cast<std::uint64_t>(std::max<std::int64_t>(0, change.entries)));
    } else if (auto existing = storage::StatPath(home_, path); existing.ok()) {
      // A name that exists needs no room: answer as if there were room.
      status = parents && existing->type == storage::FileType::kDirectory
                   ? Status::Ok()
                   : Status(ErrorCode::kExists, fmt::format("File exists: {}", path));
    }
  }
  Audit("mkdir", path, status);
  return status;
}

Status UserSession::RemoveDirectory(std::string_view path) {
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok()) {
    storage::SpaceChange change;
    status = storage::RemoveDirectory(home_, path, &change);
    ApplyChange(change);
  }
  Audit("delete", path, status);
  return status;
}

Status UserSession::Remove(std::string_view path, bool recursive) {
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok()) {
    storage::SpaceChange change;
    status = storage::RemovePath(home_, path, recursive, &change);
    ApplyChange(change);
  }
  Audit("delete", path, status);
  return status;
}

Status UserSession::Rename(std::string_view from, std::string_view to, bool overwrite, storage::RenameTarget how) {
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok()) {
    // A rename inside the home adds nothing; a replaced target gives its space back.
    storage::SpaceChange change;
    status = storage::Rename(home_, from, to, overwrite, &change, how);
    ApplyChange(change);
  }
  Audit("rename", from, status, std::nullopt, to);
  return status;
}

Result<storage::FileInfo> UserSession::StatRenameSource(std::string_view from) {
  if (Status writable = CheckWritable(); !writable.ok()) {
    Audit("rename", from, writable);
    return writable;
  }
  return Stat(from);
}

Status UserSession::SetAttributes(std::string_view path, std::optional<std::uint32_t> mode,
                                  std::optional<timespec> mtime, bool follow, std::optional<std::uint64_t> size) {
  bool resize = false;
  if (size) {
    auto info = Stat(path, follow);
    if (!info.ok()) return info.status();  // nothing there: a failed look, not a refused change
    resize = info->size != *size;
  }
  if (size && !mode && !mtime && !resize) return Status::Ok();
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok() && resize) status = Status(ErrorCode::kNotSupported, "changing a file's size is not supported");
  if (status.ok()) status = storage::SetAttributes(home_, path, mode, mtime, follow);
  Audit("setattr", path, status);
  return status;
}

Status UserSession::MakeSymlink(std::string_view path, std::string_view target) {
  ForgetUploadFolder();
  Status status = CheckWritable();
  if (status.ok()) {
    auto reservation = Reserve(0, 1);
    status = reservation.status();
    if (status.ok()) {
      storage::SpaceChange change;
      status = storage::MakeSymlink(home_, path, target, &change);
      reservation->Use(0, static_cast<std::uint64_t>(change.entries));
    }
  }
  Audit("symlink", path, status, std::nullopt, target);
  return status;
}

}  // namespace ferry::service
