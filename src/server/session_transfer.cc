// Session: uploads, downloads and checksums.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "server/session.h"
#include "storage/file_ops.h"
#include "transfer/checksum_cache.h"

namespace ferry::server {
namespace {

using protocol::Json;

// Bytes per data frame of a download.
constexpr std::size_t kDownloadChunk = 1024 * 1024;
// Bytes per data frame of a download sent with sendfile.
constexpr std::uint64_t kSendFileChunk = 16 * 1024 * 1024;
// Uploads one session may have open at once (pipelined small files need many).
constexpr std::size_t kMaxOpenUploads = 256;
// Largest file size a put may declare: far beyond any disk, small enough for every offset type.
constexpr std::int64_t kMaxFileSize = std::int64_t{1} << 50;

Result<transfer::ChecksumAlgorithm> AlgorithmField(const protocol::RequestFields& fields) {
  auto name = fields.OptionalString("algo", std::string(transfer::ChecksumName(transfer::kDefaultChecksum)));
  if (!name.ok()) return name.status();
  return transfer::ParseChecksumName(*name);
}

Result<std::int64_t> OptionalInteger(const protocol::RequestFields& fields, std::string_view key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) {
  if (fields.header().find(key) == fields.header().end()) return fallback;
  auto value = fields.Integer(key);
  if (!value.ok()) return value.status();
  if (*value < min || *value > max) {
    return Status(ErrorCode::kInvalid, fmt::format("field '{}' must be between {} and {}", key, min, max));
  }
  return *value;
}

// The partial file of an upload is named after the canonical target path, so a resumed upload finds it again.
std::string PartialName(const std::string& canonical_target) {
  transfer::Checksum key(transfer::ChecksumAlgorithm::kXxh3);
  key.Update(canonical_target);
  return key.HexDigest() + ".part";
}

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

}  // namespace

Result<Session::Upload> Session::StartUpload(const protocol::RequestFields& fields) {
  auto path = fields.Path("path");
  if (!path.ok()) return path.status();
  auto size = OptionalInteger(fields, "size", -1, 0, kMaxFileSize);
  if (!size.ok()) return size.status();
  if (*size < 0) return Status(ErrorCode::kProtocol, "put needs 'size', the number of bytes to come");
  auto mode = OptionalInteger(fields, "mode", 0644, 0, 07777);
  auto mtime = OptionalInteger(fields, "mtime", -1, -1, std::int64_t{1} << 40);
  auto mtime_nsec = OptionalInteger(fields, "mtime_nsec", 0, 0, 999999999);
  auto resume = fields.OptionalBool("resume", false);
  auto algorithm = AlgorithmField(fields);
  for (const Status* s :
       {&mode.status(), &mtime.status(), &mtime_nsec.status(), &resume.status(), &algorithm.status()}) {
    if (!s->ok()) return *s;
  }

  auto target = home_->OpenParent(storage::HomeDir::Join(cwd_, *path));
  if (!target.ok()) return target.status();
  struct stat existing {};
  const bool replacing = ::fstatat(target->parent.get(), target->name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (replacing && S_ISDIR(existing.st_mode)) {
    return Status(ErrorCode::kIsDirectory, fmt::format("is a directory: {}", *path));
  }
  auto parent_path = home_->VirtualPathOf(target->parent.get());
  if (!parent_path.ok()) return parent_path.status();
  const std::string canonical = (*parent_path == "/" ? "" : *parent_path) + "/" + target->name;

  Upload upload;
  upload.partial_name = PartialName(canonical);
  upload.file.Reset(
      ::openat(partials_.get(), upload.partial_name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!upload.file.valid()) return Status::FromErrno(errno, "creating the partial upload");
  if (::flock(upload.file.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status(ErrorCode::kBusy, fmt::format("another upload of {} is in progress", *path));
  }
  upload.checksum = transfer::Checksum(*algorithm);
  upload.size = static_cast<std::uint64_t>(*size);
  upload.mode = static_cast<std::uint32_t>(*mode) & 0777;
  upload.mtime = *mtime;
  upload.mtime_nsec = static_cast<std::uint32_t>(*mtime_nsec);
  upload.target_parent = std::move(target->parent);
  upload.target_name = std::move(target->name);
  upload.display_path = *path;

  struct stat partial {};
  if (::fstat(upload.file.get(), &partial) != 0) return Status::FromErrno(errno, "reading the partial upload");
  const auto have = static_cast<std::uint64_t>(partial.st_size);
  if (*resume && have > 0 && have <= upload.size) {
    // Hash the prefix already here: the client compares it with its own before sending the rest.
    std::vector<char> buffer(kDownloadChunk);
    for (std::uint64_t offset = 0; offset < have;) {
      const ssize_t n = ::pread(upload.file.get(), buffer.data(),
                                static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), have - offset)),
                                static_cast<off_t>(offset));
      if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "reading the partial upload");
      upload.checksum.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      offset += static_cast<std::uint64_t>(n);
    }
    upload.written = have;
  } else if (have > 0) {
    if (::ftruncate(upload.file.get(), 0) != 0) return Status::FromErrno(errno, "resetting the partial upload");
    ApplyChange({-static_cast<std::int64_t>(have), 0});
    if (*resume) upload.discarded = have;
  }
  // Room for the bytes still to come, and for the name unless it replaces one: refused here, before any byte.
  auto reservation = Reserve(upload.size - upload.written, replacing ? 0 : 1);
  if (!reservation.ok()) {
    if (upload.written == 0) ::unlinkat(partials_.get(), upload.partial_name.c_str(), 0);
    return Status(reservation.status().code(), fmt::format("{}: {}", *path, reservation.status().message()));
  }
  upload.reservation = std::move(reservation).value();
  return upload;
}

void Session::DiscardPartial(Upload& upload) {
  if (!upload.file.valid()) return;
  ::unlinkat(partials_.get(), upload.partial_name.c_str(), 0);
  ApplyChange({-static_cast<std::int64_t>(upload.written), 0});
  upload.reservation.Release();
  upload.file.Reset();
}

void Session::PutOpen(const Json& id, const protocol::RequestFields& fields) {
  const std::uint64_t key = id.get<std::uint64_t>();
  if (uploads_.count(key) != 0) {
    ReplyError(id, Status(ErrorCode::kProtocol, "an upload with this id is already open"));
    return;
  }
  Result<Upload> upload = uploads_.size() >= kMaxOpenUploads
                              ? Result<Upload>(Status(ErrorCode::kTooBig, "too many uploads open at once"))
                              : StartUpload(fields);
  if (!upload.ok()) {
    // Remember the failure so the data frames that follow are dropped and put_close repeats it.
    Upload failed;
    failed.error = upload.status();
    uploads_.emplace(key, std::move(failed));
    ReplyError(id, upload.status());
    return;
  }
  Json reply = protocol::OkReply(id);
  reply["offset"] = upload->written;
  if (upload->written > 0) reply["prefix_checksum"] = upload->checksum.HexDigest();
  if (upload->discarded > 0) reply["discarded"] = upload->discarded;
  uploads_.emplace(key, std::move(upload).value());
  Reply(std::move(reply));
}

bool Session::PutData(const protocol::Frame& frame) {
  const auto ref = frame.header.find("ref");
  auto upload = ref != frame.header.end() && ref->is_number_unsigned() ? uploads_.find(ref->get<std::uint64_t>())
                                                                       : uploads_.end();
  if (upload == uploads_.end()) {
    ReplyError(nullptr, Status(ErrorCode::kProtocol, "data frame for no open upload"));
    return false;
  }
  Upload& u = upload->second;
  if (!u.error.ok()) return true;
  if (u.written + frame.body.size() > u.size) {
    // Growing past the declared size would pass the room reserved for it: stop, and release what was written.
    u.error = Status(ErrorCode::kInvalid, fmt::format("more data than the {} bytes declared for {}; the upload was "
                                                      "discarded",
                                                      u.size, u.display_path));
    DiscardPartial(u);
    return true;
  }
  const Status written = WriteAll(u.file.get(), frame.body, u.written);
  if (!written.ok()) {
    // Count what reached the file before the write stopped: usage must match the disk.
    struct stat now {};
    const std::uint64_t size_now =
        ::fstat(u.file.get(), &now) == 0 ? static_cast<std::uint64_t>(now.st_size) : u.written;
    if (size_now > u.written) u.reservation.Use(size_now - u.written);
    u.written = size_now;
    u.error = Status(written.code(), fmt::format("{}: {}", u.display_path, written.message()));
    if (written.code() == ErrorCode::kNoSpace || written.code() == ErrorCode::kQuota) DiscardPartial(u);
    return true;
  }
  u.checksum.Update(frame.body);
  u.written += frame.body.size();
  u.reservation.Use(frame.body.size());
  return true;
}

void Session::PutClose(const Json& id, const protocol::RequestFields& fields) {
  auto ref = fields.Integer("ref");
  auto expected = fields.String("checksum");
  if (!ref.ok() || !expected.ok()) {
    ReplyError(id, !ref.ok() ? ref.status() : expected.status());
    return;
  }
  auto it = uploads_.find(static_cast<std::uint64_t>(*ref));
  if (it == uploads_.end()) {
    ReplyError(id, Status(ErrorCode::kProtocol, "put_close for no open upload"));
    return;
  }
  Upload upload = std::move(it->second);
  uploads_.erase(it);
  auto result = FinishUpload(upload, *expected);
  Audit("upload", storage::HomeDir::Join(cwd_, upload.display_path), result.status(), upload.written);
  if (!result.ok()) {
    ReplyError(id, result.status());
    return;
  }
  Json reply = protocol::OkReply(id);
  reply.update(*result);
  Reply(std::move(reply));
}

Result<Json> Session::FinishUpload(Upload& upload, const std::string& expected) {
  if (!upload.error.ok()) return upload.error;
  if (upload.written != upload.size) {
    // Kept for a resume.
    return Status(ErrorCode::kInvalid,
                  fmt::format("{}: received {} of {} bytes", upload.display_path, upload.written, upload.size));
  }
  const std::string actual = upload.checksum.HexDigest();
  if (actual != expected) {
    DiscardPartial(upload);
    spdlog::warn("{}: checksum mismatch on upload of {} by '{}'", peer_, upload.display_path, user_);
    return Status(ErrorCode::kIo, fmt::format("{}: checksum mismatch, the data was corrupted in transit; "
                                              "the upload was discarded",
                                              upload.display_path));
  }
  ::fchmod(upload.file.get(), upload.mode);
  if (upload.mtime >= 0) {
    const timespec times[2] = {{0, UTIME_OMIT}, {upload.mtime, static_cast<long>(upload.mtime_nsec)}};
    ::futimens(upload.file.get(), times);
  }
  struct stat final_stat {};
  if (::fstat(upload.file.get(), &final_stat) == 0) {
    transfer::StoreCachedChecksum(upload.file.get(), upload.checksum.algorithm(), final_stat, actual);
  }
  // The name it replaces (if any) gives its space back; otherwise the new name takes its reserved place.
  struct stat replaced {};
  const bool replacing =
      ::fstatat(upload.target_parent.get(), upload.target_name.c_str(), &replaced, AT_SYMLINK_NOFOLLOW) == 0;
  if (::renameat(partials_.get(), upload.partial_name.c_str(), upload.target_parent.get(),
                 upload.target_name.c_str()) != 0) {
    const int err = errno;
    return err == EXDEV ? Status(ErrorCode::kCrossDevice,
                                 "the server's partials folder is on another file system than the homes")
                        : Status::FromErrno(err, upload.display_path);
  }
  if (replacing) {
    ApplyChange({S_ISREG(replaced.st_mode) ? -static_cast<std::int64_t>(replaced.st_size) : 0, 0});
  } else {
    upload.reservation.Use(0, 1);
  }
  upload.reservation.Release();
  spdlog::debug("{}: '{}' uploaded {} ({} bytes)", peer_, user_, upload.display_path, upload.size);
  return Json{{"size", upload.size}, {"checksum", actual}};
}

void Session::PutAbort(const Json& id, const protocol::RequestFields& fields) {
  auto ref = fields.Integer("ref");
  if (!ref.ok()) {
    ReplyError(id, ref.status());
    return;
  }
  uploads_.erase(static_cast<std::uint64_t>(*ref));  // the partial file stays for a later resume
  Reply(protocol::OkReply(id));
}

asio::awaitable<void> Session::Get(const Json& id, const protocol::RequestFields& fields) {
  auto path = PathField(fields, "path");
  auto offset = OptionalInteger(fields, "offset", 0, 0, kMaxFileSize);
  auto algorithm = AlgorithmField(fields);
  for (const Status* s : {&path.status(), &offset.status(), &algorithm.status()}) {
    if (!s->ok()) {
      ReplyError(id, *s);
      co_return;
    }
  }
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, stalling this whole event loop; it
  // changes nothing for the regular files that pass the check below.
  auto file = home_->OpenPath(*path, O_RDONLY | O_NONBLOCK);
  struct stat st {};
  if (file.ok() && ::fstat(file->get(), &st) != 0) file = Status::FromErrno(errno, *path);
  if (file.ok() && S_ISDIR(st.st_mode)) file = Status(ErrorCode::kIsDirectory, "is a directory: " + *path);
  if (file.ok() && !S_ISREG(st.st_mode)) file = Status(ErrorCode::kInvalid, "not a regular file: " + *path);
  if (file.ok() && *offset > st.st_size) {
    file = Status(ErrorCode::kInvalid, fmt::format("offset {} is past the end of {}", *offset, *path));
  }
  if (!file.ok()) {
    Audit("download", *path, file.status());
    ReplyError(id, file.status());
    co_return;
  }
  Json head = protocol::OkReply(id);
  head["more"] = true;
  head["size"] = st.st_size;
  head["mode"] = st.st_mode & 07777;
  head["mtime"] = st.st_mtim.tv_sec;
  head["mtime_nsec"] = st.st_mtim.tv_nsec;
  head["offset"] = *offset;
  Reply(std::move(head));

  // A whole-file download of a file whose checksum is known goes out with sendfile on a plain connection.
  if (*offset == 0 && transport_.can_send_file()) {
    if (auto known = transfer::LoadCachedChecksum(file->get(), *algorithm, st)) {
      const auto size = static_cast<std::uint64_t>(st.st_size);
      for (std::uint64_t position = 0; position < size;) {
        const std::uint64_t count = std::min<std::uint64_t>(kSendFileChunk, size - position);
        Json data = protocol::OkReply(id);
        data["more"] = true;
        protocol::AppendFrameHeader(output_, std::move(data), count);
        if (!co_await Flush()) co_return;
        Arm(env_.idle_timeout);
        const auto error = co_await transport_.SendFile(file->get(), position, count);
        Disarm();
        if (error) {
          spdlog::info("{}: {}", peer_,
                       handle_->watchdog_fired ? "closed: the client stopped reading"
                                               : "sending " + *path + " failed: " + error.message());
          Audit("download", *path, Status(ErrorCode::kIo, "interrupted"), position);
          broken_ = true;  // the frame is incomplete: the connection cannot go on
          co_return;
        }
        position += count;
        if (position < size) co_await TakeTurns();
      }
      Audit("download", *path, Status::Ok(), size);
      Json tail = protocol::OkReply(id);
      tail["more"] = false;
      tail["size"] = size;
      tail["checksum"] = *known;
      Reply(std::move(tail));
      co_return;
    }
  }

  transfer::Checksum checksum(*algorithm);
  // The file is sent as it was when the head went out: its first st_size bytes (fewer if it shrinks meanwhile).
  // The buffer is no larger than the file and left uninitialised: clearing a 1 MiB buffer for every 4 KiB file of
  // a get -r took a third of the server's time.
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto chunk_size = static_cast<std::size_t>(std::clamp<std::uint64_t>(size, 1, kDownloadChunk));
  const auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
  // The checksum covers the whole file: a resumed download hashes the prefix the client already has too.
  std::uint64_t position = 0;
  const auto start = static_cast<std::uint64_t>(*offset);
  while (position < size) {
    const std::uint64_t until = position < start ? start : size;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, until - position));
    const ssize_t n = ::pread(file->get(), chunk.get(), want, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status failed = Status::FromErrno(errno, *path);
      Audit("download", *path, failed, position);
      ReplyError(id, failed);
      co_return;
    }
    if (n == 0) break;
    const std::string_view bytes(chunk.get(), static_cast<std::size_t>(n));
    checksum.Update(bytes);
    const bool sending = position >= start;
    position += static_cast<std::uint64_t>(n);
    if (!sending) continue;
    Json data = protocol::OkReply(id);
    data["more"] = true;
    Reply(std::move(data), bytes);
    if (!co_await Flush()) {
      Audit("download", *path, Status(ErrorCode::kIo, "interrupted"), position - start);
      co_return;
    }
    // Not after the last chunk: a small file (one chunk) costs no extra hand-off, which a get -r of many would feel.
    if (position < static_cast<std::uint64_t>(st.st_size)) co_await TakeTurns();
  }
  Audit("download", *path, Status::Ok(), position - start);
  const std::string digest = checksum.HexDigest();
  // Remember the digest if the file did not change while it was read: the next download can use sendfile. Not
  // when it is remembered already (a TLS download does not look first): reading the attribute is cheaper than
  // setting it, which takes the inode's lock and a journal transaction.
  struct stat after {};
  if (::fstat(file->get(), &after) == 0 && after.st_size == st.st_size && after.st_mtim.tv_sec == st.st_mtim.tv_sec &&
      after.st_mtim.tv_nsec == st.st_mtim.tv_nsec && position == size &&
      transfer::LoadCachedChecksum(file->get(), *algorithm, st) != digest) {
    transfer::StoreCachedChecksum(file->get(), *algorithm, st, digest);
  }
  Json tail = protocol::OkReply(id);
  tail["more"] = false;
  tail["size"] = position;
  tail["checksum"] = digest;
  Reply(std::move(tail));
}

asio::awaitable<void> Session::TakeTurns() {
  co_await asio::post(transport_.socket().get_executor(), asio::use_awaitable);
}

Result<Json> Session::Sum(const protocol::RequestFields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto algorithm = AlgorithmField(fields);
  if (!algorithm.ok()) return algorithm.status();
  auto length = OptionalInteger(fields, "length", -1, 0, kMaxFileSize);
  if (!length.ok()) return length.status();
  auto file = home_->OpenPath(*path, O_RDONLY | O_NONBLOCK);  // a FIFO must not stall the loop (see Get)
  if (!file.ok()) return file.status();
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) return Status::FromErrno(errno, *path);
  if (S_ISDIR(st.st_mode)) return Status(ErrorCode::kIsDirectory, "is a directory: " + *path);
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kInvalid, "not a regular file: " + *path);
  if (*length > st.st_size)
    return Status(ErrorCode::kInvalid, fmt::format("{} is shorter than {} bytes", *path, *length));
  std::optional<std::string> cached;
  if (*length < 0) cached = transfer::LoadCachedChecksum(file->get(), *algorithm, st);
  auto digest = cached ? Result<std::string>(*cached) : transfer::ChecksumOfFile(file->get(), *algorithm, *length);
  if (!digest.ok()) return digest.status();
  if (!cached && *length < 0) transfer::StoreCachedChecksum(file->get(), *algorithm, st, *digest);
  return Json{{"checksum", *digest},
              {"algo", transfer::ChecksumName(*algorithm)},
              {"size", *length >= 0 ? *length : st.st_size}};
}

Result<Json> Session::SetStat(const protocol::RequestFields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto mode = OptionalInteger(fields, "mode", -1, 0, 07777);
  auto mtime = OptionalInteger(fields, "mtime", -1, 0, std::int64_t{1} << 40);
  auto mtime_nsec = OptionalInteger(fields, "mtime_nsec", 0, 0, 999999999);
  for (const Status* s : {&mode.status(), &mtime.status(), &mtime_nsec.status()}) {
    if (!s->ok()) return *s;
  }
  std::optional<std::uint32_t> new_mode;
  if (*mode >= 0) new_mode = static_cast<std::uint32_t>(*mode) & 0777;
  std::optional<timespec> new_mtime;
  if (*mtime >= 0) new_mtime = timespec{*mtime, static_cast<long>(*mtime_nsec)};
  Status status = storage::SetAttributes(*home_, *path, new_mode, new_mtime);
  if (!status.ok()) return status;
  return Json::object();
}

}  // namespace ferry::server
