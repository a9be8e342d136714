#include "service/upload.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "service/file_copy.h"
#include "service/file_service.h"
#include "service/user_session.h"
#include "transfer/checksum_cache.h"

namespace ferry::service {
namespace {

// Bytes read at a time when hashing a resumed prefix.
constexpr std::size_t kHashChunk = 1024 * 1024;
// Room reserved at a time for an upload of no declared size: one ledger call per this many bytes, not per write.
constexpr std::uint64_t kGrowthStep = 1024 * 1024;

Status WriteAll(int fd, std::string_view bytes, std::uint64_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "writing the upload");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

// Copies up to `count` bytes of `from` at `*from_offset` to `to` at `*to_offset`, advancing both; 0 at the end of
// `from`. In the kernel where it can (copy_file_range: a reflink or a copy that never reaches user space), else
// through a buffer.
Result<std::uint64_t> CopyRange(int from, std::uint64_t* from_offset, int to, std::uint64_t* to_offset,
                                std::uint64_t count) {
  while (true) {
    auto in = static_cast<loff_t>(*from_offset);
    auto out = static_cast<loff_t>(*to_offset);
    const ssize_t n = ::copy_file_range(from, &in, to, &out, static_cast<std::size_t>(count), 0);
    if (n >= 0) {
      *from_offset += static_cast<std::uint64_t>(n);
      *to_offset += static_cast<std::uint64_t>(n);
      return static_cast<std::uint64_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS) {
      return Status::FromErrno(errno, "copying");
    }
    break;  // across file systems, or a kind of file the kernel will not copy: by hand
  }
  const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(count, kHashChunk));
  const auto buffer = std::make_unique_for_overwrite<char[]>(chunk);
  ssize_t n;
  do {
    n = ::pread(from, buffer.get(), chunk, static_cast<off_t>(*from_offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno(errno, "reading the file to copy");
  if (Status s = WriteAll(to, std::string_view(buffer.get(), static_cast<std::size_t>(n)), *to_offset); !s.ok()) {
    return s;
  }
  *from_offset += static_cast<std::uint64_t>(n);
  *to_offset += static_cast<std::uint64_t>(n);
  return static_cast<std::uint64_t>(n);
}

Status HashPrefix(int fd, std::uint64_t length, transfer::Checksum& checksum) {
  const auto buffer = std::make_unique_for_overwrite<char[]>(kHashChunk);
  for (std::uint64_t offset = 0; offset < length;) {
    const ssize_t n = ::pread(fd, buffer.get(), static_cast<std::size_t>(std::min<std::uint64_t>(kHashChunk, length - offset)),
                              static_cast<off_t>(offset));
    if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "reading the partial upload");
    checksum.Update(std::string_view(buffer.get(), static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<Upload> UserSession::BeginUpload(std::string_view path, const UploadOptions& options) {
  auto upload = StartUpload(path, options);
  if (upload.ok()) {
    upload->audit_.Set();  // by Commit, or when it is dropped unfinished
  } else {
    Audit("upload", path, upload.status(), std::uint64_t{0});
  }
  return upload;
}

Result<FileCopy> UserSession::BeginCopy(std::string_view from, std::string_view to, bool preserve_time,
                                        bool no_clobber, bool exact) {
  auto refuse = [&](Status status) -> Result<FileCopy> {
    Audit("copy", from, status, std::uint64_t{0}, to);
    return status;
  };
  if (Status writable = CheckWritable(); !writable.ok()) return refuse(writable);
  // As cp: the source's links are followed (inside the home), and a folder is not a file to copy.
  auto source = home_.OpenPath(from, O_RDONLY | O_NONBLOCK);
  if (!source.ok()) return refuse(source.status());
  struct stat st {};
  if (::fstat(source->get(), &st) != 0) return refuse(Status::FromErrno(errno, from));
  if (S_ISDIR(st.st_mode)) {
    return refuse(Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", from)));
  }
  if (!S_ISREG(st.st_mode)) return refuse(Status(ErrorCode::kInvalid, fmt::format("not a regular file: {}", from)));
  // Into a folder that `to` names, under the source's name (unless `exact`: then `to` is the copy's own name).
  std::string target(to);
  const auto folder = Stat(to, /*follow=*/true);
  const bool is_folder = folder.ok() && folder->type == storage::FileType::kDirectory;
  if (is_folder && exact) return refuse(Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", to)));
  if (is_folder) {
    const auto name = storage::HomeDir::SplitLast(from).second;
    target = storage::HomeDir::Join(to, name);
  } else if (to.ends_with('/')) {
    return refuse(Status(ErrorCode::kNotDirectory, fmt::format("not a directory: {}", to)));
  }
  // Anything under the name counts, a link that leads nowhere too.
  if (Stat(target, /*follow=*/false).ok()) {
    if (no_clobber) return refuse(Status(ErrorCode::kExists, fmt::format("{} exists", target)));
    if (auto same = home_.OpenPath(target, O_PATH); same.ok()) {
      struct stat other {};
      if (::fstat(same->get(), &other) == 0 && other.st_dev == st.st_dev && other.st_ino == st.st_ino) {
        return refuse(Status(ErrorCode::kInvalid, fmt::format("{} and {} are the same file", from, target)));
      }
    }
  }
  UploadOptions options;
  options.size = static_cast<std::uint64_t>(st.st_size);
  options.mode = st.st_mode & 0777;
  if (preserve_time) options.mtime = st.st_mtim;
  auto upload = StartUpload(target, options);
  if (!upload.ok()) return refuse(upload.status());
  upload->copied_from_ = std::string(from);
  return FileCopy(std::move(source).value(), static_cast<std::uint64_t>(st.st_size), std::move(target),
                  std::move(upload).value());
}

Result<Upload> UserSession::StartUpload(std::string_view path, const UploadOptions& options) {
  Upload upload;
  upload.session_ = this;
  upload.path_ = std::string(path);
  auto refuse = [](Status status) -> Result<Upload> { return status; };
  if (Status writable = CheckWritable(); !writable.ok()) return refuse(writable);
  std::string parent_path;
  // options.atomic, not the choice made below: a new target of continue_existing is atomic and needs the path.
  auto target = OpenUploadParent(path, options.atomic ? &parent_path : nullptr);
  if (!target.ok()) return refuse(target.status());
  struct stat existing {};
  const bool replacing = ::fstatat(target->parent.get(), target->name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  const bool continuing = options.atomic && options.continue_existing && replacing;
  const bool atomic = options.atomic && !continuing;
  const bool resume = options.resume || continuing;
  if (replacing && S_ISDIR(existing.st_mode)) {
    return refuse(Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", path)));
  }
  if (replacing && options.target == UploadTarget::kMustNotExist) {
    return refuse(Status(ErrorCode::kExists, fmt::format("file exists: {}", path)));
  }
  if (!replacing && options.target == UploadTarget::kMustExist) {
    return refuse(Status(ErrorCode::kNotFound, fmt::format("no such file or directory: {}", path)));
  }
  upload.checksum_ = transfer::Checksum(options.algorithm);
  upload.declared_ = options.size;
  upload.mode_ = options.mode & 0777;
  upload.mtime_ = options.mtime;
  upload.new_name_ = !replacing;
  upload.must_stay_new_ = options.target == UploadTarget::kMustNotExist;

  std::uint64_t have = 0;
  if (atomic) {
    auto locked = partials_.Lock((parent_path == "/" ? "" : parent_path) + "/" + target->name, upload.mode_);
    if (!locked.ok()) {
      return refuse(locked.status().code() == ErrorCode::kBusy
                        ? Status(ErrorCode::kBusy, fmt::format("another upload of {} is in progress", path))
                        : locked.status());
    }
    // Partials this one pushed past the per-user bound are gone, and so is their room.
    if (locked->evicted_bytes > 0) ApplyChange({-static_cast<std::int64_t>(locked->evicted_bytes), 0});
    upload.file_ = std::move(locked->file);
    upload.partial_name_ = std::move(locked->name);
    upload.mode_set_ = locked->mode_set;
    if (!locked->created) {
      struct stat partial {};
      if (::fstat(upload.file_.get(), &partial) != 0) {
        return refuse(Status::FromErrno(errno, "reading the partial upload"));
      }
      have = static_cast<std::uint64_t>(partial.st_size);
    }
  } else {
    // In place: the file itself, created if missing; without resume it starts empty. It must still be (or not be)
    // there as it was when looked at, or the name and its room would be counted wrongly.
    upload.file_.Reset(::openat(target->parent.get(), target->name.c_str(),
                                O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (replacing ? 0 : O_CREAT | O_EXCL),
                                0600));
    if (!upload.file_.valid()) {
      if (errno == ENOENT || errno == EEXIST) {
        return refuse(Status(ErrorCode::kBusy, fmt::format("{} changed as the upload began; try again", path)));
      }
      return refuse(Status::FromErrno(errno, path));
    }
    struct stat st {};
    if (::fstat(upload.file_.get(), &st) != 0) return refuse(Status::FromErrno(errno, path));
    if (!S_ISREG(st.st_mode)) return refuse(Status(ErrorCode::kInvalid, fmt::format("not a regular file: {}", path)));
    have = static_cast<std::uint64_t>(st.st_size);
  }
  upload.target_parent_ = std::move(target->parent);
  upload.target_name_ = std::move(target->name);

  const bool keep = resume && have > 0 && (!options.size || have <= *options.size);
  if (keep) {
    // Hash the prefix already here: the client compares it with its own before sending the rest.
    if (atomic || options.size) {
      if (Status s = HashPrefix(upload.file_.get(), have, upload.checksum_); !s.ok()) return refuse(s);
      upload.prefix_checksum_ = upload.checksum_.HexDigest();
    } else {
      upload.checksum_running_ = false;  // an in-place resume may rewrite anything: hash at the end
    }
    upload.written_ = have;
    upload.resumed_ = have;
  }
  // Room for the bytes still to come, and for the name unless it replaces one: refused here, before any byte and
  // before what is there is emptied. Bytes that emptying it frees count toward the room it needs.
  const std::uint64_t dropped = keep ? 0 : have;
  const std::uint64_t needed = options.size ? *options.size - upload.written_ : 0;
  const std::uint64_t reused = std::min(dropped, needed);
  auto reservation = Reserve(needed - reused, upload.new_name_ ? 1 : 0);
  if (!reservation.ok()) {
    if (atomic && !keep) {
      partials_.Remove(upload.partial_name_);
      ApplyChange({-static_cast<std::int64_t>(have), 0});
    }
    if (!atomic && upload.new_name_) ::unlinkat(upload.target_parent_.get(), upload.target_name_.c_str(), 0);
    return refuse(Status(reservation.status().code(), fmt::format("{}: {}", path, reservation.status().message())));
  }
  if (dropped > 0) {
    if (::ftruncate(upload.file_.get(), 0) != 0) return refuse(Status::FromErrno(errno, "resetting the upload"));
    // What it freed and this upload will fill is kept for it, so no other upload can take it meanwhile.
    reservation->Absorb(options_.quotas->ReserveFreed(user_, reused));
    ApplyChange({-static_cast<std::int64_t>(dropped - reused), 0});
    if (resume) upload.discarded_ = dropped;
  }
  upload.reservation_ = std::move(reservation).value();
  // In place, the name exists from now on: it counts at once.
  if (!atomic && upload.new_name_) upload.reservation_.Use(0, 1);
  return upload;
}

Status Upload::Fail(Status status) {
  error_ = status;
  return status;
}

Status Upload::Grow(std::uint64_t old_end, std::uint64_t new_end) {
  if (new_end <= old_end) return Status::Ok();
  const std::uint64_t more = new_end - old_end;
  if (!declared_ && reservation_.bytes() < more) {
    auto extra = session_->Reserve(std::max(more - reservation_.bytes(), kGrowthStep), 0);
    // Without a whole step of room, exactly what this write needs may still fit.
    if (!extra.ok()) extra = session_->Reserve(more - reservation_.bytes(), 0);
    if (!extra.ok()) return Status(extra.status().code(), fmt::format("{}: {}", path_, extra.status().message()));
    reservation_.Absorb(std::move(extra).value());
  }
  return Status::Ok();
}

Status Upload::Write(std::string_view bytes) { return WriteAt(written_, bytes); }

Status Upload::WriteAt(std::uint64_t offset, std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (!file_.valid()) return Fail(Status(ErrorCode::kInvalid, fmt::format("{}: the upload was discarded", path_)));
  const std::uint64_t end = offset + bytes.size();
  if (declared_ && end > *declared_) {
    // Growing past the declared size would pass the room reserved for it: stop, and release what was written.
    const Status failed = Fail(Status(ErrorCode::kInvalid, fmt::format("more data than the {} bytes declared for {}; "
                                                                       "the upload was discarded",
                                                                       *declared_, path_)));
    Discard();
    return failed;
  }
  if (Status room = Grow(written_, end); !room.ok()) return Fail(room);
  const Status wrote = WriteAll(file_.get(), bytes, offset);
  if (!wrote.ok()) {
    // Count what reached the file before the write stopped: usage must match the disk.
    struct stat now {};
    const std::uint64_t size_now = ::fstat(file_.get(), &now) == 0 ? static_cast<std::uint64_t>(now.st_size) : written_;
    if (size_now > written_) reservation_.Use(size_now - written_);
    written_ = std::max(written_, size_now);
    Fail(Status(wrote.code(), fmt::format("{}: {}", path_, wrote.message())));
    if (wrote.code() == ErrorCode::kNoSpace || wrote.code() == ErrorCode::kQuota) Discard();
    return error_;
  }
  if (checksum_running_ && offset == written_) {
    checksum_.Update(bytes);
  } else {
    checksum_running_ = false;
  }
  if (end > written_) {
    reservation_.Use(end - written_);
    written_ = end;
  }
  return Status::Ok();
}

Status Upload::CopyFrom(int fd, std::uint64_t offset, std::uint64_t max_bytes, std::uint64_t* copied) {
  *copied = 0;
  if (!error_.ok()) return error_;
  if (!file_.valid()) return Fail(Status(ErrorCode::kInvalid, fmt::format("{}: the upload was discarded", path_)));
  std::uint64_t want = max_bytes;
  if (declared_) want = std::min(want, *declared_ > written_ ? *declared_ - written_ : 0);
  if (want == 0) return Status::Ok();
  if (Status room = Grow(written_, written_ + want); !room.ok()) return Fail(room);
  std::uint64_t at = written_;
  auto n = CopyRange(fd, &offset, file_.get(), &at, want);
  if (!n.ok()) {
    // Count what reached the file before the copy stopped, as a failed write does.
    struct stat now {};
    const std::uint64_t size_now = ::fstat(file_.get(), &now) == 0 ? static_cast<std::uint64_t>(now.st_size) : written_;
    if (size_now > written_) reservation_.Use(size_now - written_);
    written_ = std::max(written_, size_now);
    const Status failed = n.status().code() == ErrorCode::kNoSpace || n.status().code() == ErrorCode::kQuota
                              ? n.status()
                              : Status(n.status().code(), fmt::format("{}: {}", path_, n.status().message()));
    Fail(failed);
    if (failed.code() == ErrorCode::kNoSpace || failed.code() == ErrorCode::kQuota) Discard();
    return error_;
  }
  checksum_running_ = false;
  unhashed_ = true;  // the bytes never passed through here: Publish does not read them back to hash them
  reservation_.Use(*n);
  written_ += *n;
  *copied = *n;
  return Status::Ok();
}

void Upload::Abandon() {
  audit_.Take();
  Discard();
}

void Upload::Discard() {
  if (!file_.valid()) return;
  if (!partial_name_.empty()) {
    session_->partials_.Remove(partial_name_);
    session_->ApplyChange({-static_cast<std::int64_t>(written_), 0});
  } else if (new_name_) {
    // In place, a file this upload created goes.
    if (::unlinkat(target_parent_.get(), target_name_.c_str(), 0) == 0) {
      session_->ApplyChange({-static_cast<std::int64_t>(written_), -1});
    }
  } else if (written_ > resumed_ && ::ftruncate(file_.get(), static_cast<off_t>(resumed_)) == 0) {
    // One that was there stays, at the length it had when continued (0 if the upload began it afresh).
    session_->ApplyChange({-static_cast<std::int64_t>(written_ - resumed_), 0});
  }
  reservation_.Release();
  file_.Reset();  // written_ stays: the audit line says how much arrived
}

Upload::~Upload() {
  if (!audit_.Take()) return;
  if (error_.ok()) {
    session_->Audit("upload", path_, Status(ErrorCode::kIo, "interrupted"), written_, {}, "interrupted");
  } else {
    session_->Audit("upload", path_, error_, written_);
  }
}

Result<UploadResult> Upload::Commit(std::optional<std::string_view> expected_checksum) {
  auto result = Publish(expected_checksum);
  if (copied_from_.empty()) {
    if (!audit_.Take()) return result;  // a second Commit: audited once
    session_->Audit("upload", path_, result.status(), written_);
  } else {
    session_->Audit("copy", copied_from_, result.status(), written_, path_);
  }
  return result;
}

Status Upload::RenameError(int err) const {
  return err == EXDEV ? Status(ErrorCode::kCrossDevice,
                               "the server's partials folder is on another file system than the homes")
                      : Status::FromErrno(err, path_);
}

Result<UploadResult> Upload::Publish(std::optional<std::string_view> expected) {
  if (!error_.ok()) return error_;
  if (!file_.valid()) return Status(ErrorCode::kInvalid, fmt::format("{}: the upload was discarded", path_));
  if (declared_ && written_ != *declared_) {
    // Kept for a resume.
    return Status(ErrorCode::kInvalid, fmt::format("{}: received {} of {} bytes", path_, written_, *declared_));
  }
  std::string actual;
  if (unhashed_) {
    // A server-side copy: hashing would read the whole file in one go on the event loop; none is remembered.
  } else if (checksum_running_) {
    actual = checksum_.HexDigest();
  } else {
    auto computed = transfer::ChecksumOfFile(file_.get(), checksum_.algorithm());
    if (!computed.ok()) return computed.status();
    actual = std::move(computed).value();
  }
  if (expected && actual != *expected) {
    Discard();
    spdlog::warn("{}: checksum mismatch on upload of {} by '{}'", session_->client().peer, path_, session_->user());
    return error_ = Status(ErrorCode::kIo, fmt::format("{}: checksum mismatch, the data was corrupted in transit; "
                                                       "the upload was discarded",
                                                       path_));
  }
  if (!mode_set_) ::fchmod(file_.get(), mode_);
  bool time_set = false;
  if (mtime_) {
    const timespec times[2] = {{0, UTIME_OMIT}, *mtime_};
    time_set = ::futimens(file_.get(), times) == 0;
  }
  if (!actual.empty() && transfer::RemembersChecksumOf(written_)) {
    // The checksum is remembered with the size and time it belongs to. A partial (locked, in a folder no one else
    // writes) has exactly what was written and the time just set; otherwise the file says. (A file system that keeps
    // coarser times than asked stores another time: the stamp then never matches, and the checksum is computed
    // again when it is needed.)
    struct stat final_stat {};
    bool known = false;
    if (!partial_name_.empty() && time_set) {
      final_stat.st_size = static_cast<off_t>(written_);
      final_stat.st_mtim = *mtime_;
      known = true;
    } else {
      known = ::fstat(file_.get(), &final_stat) == 0;
    }
    if (known) transfer::StoreCachedChecksum(file_.get(), checksum_.algorithm(), final_stat, actual);
  }
  if (!partial_name_.empty()) {
    // The name it replaces (if any) gives its space back; otherwise the new name takes its reserved place. A name
    // that was free when the upload began most likely still is: renamed only if so, and looked at only if not.
    struct stat replaced {};
    bool replacing = false;
    bool moved = false;
    if (new_name_) {
      moved = ::renameat2(session_->partials_.fd(), partial_name_.c_str(), target_parent_.get(),
                          target_name_.c_str(), RENAME_NOREPLACE) == 0;
      if (!moved && must_stay_new_) {
        int err = errno;
        if (err == EINVAL) {
          // No RENAME_NOREPLACE on this file system: a hard link is just as exclusive.
          moved = ::linkat(session_->partials_.fd(), partial_name_.c_str(), target_parent_.get(),
                           target_name_.c_str(), 0) == 0;
          if (moved) ::unlinkat(session_->partials_.fd(), partial_name_.c_str(), 0);
          err = errno;
        }
        if (!moved) {
          return err == EEXIST ? Status(ErrorCode::kExists, fmt::format("file exists: {} (made while the upload ran)",
                                                                       path_))
                               : RenameError(err);
        }
      }
    }
    if (!moved) {
      // Taken meanwhile (or a file system without RENAME_NOREPLACE): what is there is replaced. Unless it is a
      // regular file, it may have been a link (or a folder) that a folder path of this batch went through.
      replacing = ::fstatat(target_parent_.get(), target_name_.c_str(), &replaced, AT_SYMLINK_NOFOLLOW) == 0;
      if (!replacing || !S_ISREG(replaced.st_mode)) session_->ForgetUploadFolder();
      if (::renameat(session_->partials_.fd(), partial_name_.c_str(), target_parent_.get(), target_name_.c_str()) !=
          0) {
        return RenameError(errno);
      }
    }
    if (replacing) {
      session_->ApplyChange({S_ISREG(replaced.st_mode) ? -static_cast<std::int64_t>(replaced.st_size) : 0, 0});
    } else {
      reservation_.Use(0, 1);
    }
  }
  reservation_.Release();
  file_.Reset();
  spdlog::debug("{}: '{}' uploaded {} ({} bytes)", session_->client().peer, session_->user(), path_, written_);
  return UploadResult{written_, std::move(actual)};
}

}  // namespace ferry::service
