#include "frontends/sftp/sftp_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace ferry::frontends::sftp {
namespace {

// Packet types (draft-ietf-secsh-filexfer-02, section 3).
enum : std::uint8_t {
  kInit = 1, kVersion = 2, kOpen = 3, kClose = 4, kRead = 5, kWrite = 6, kLstat = 7, kFstat = 8, kSetStat = 9,
  kFsetStat = 10, kOpenDir = 11, kReadDir = 12, kRemove = 13, kMkdir = 14, kRmdir = 15, kRealPath = 16, kStat = 17,
  kRename = 18, kReadLink = 19, kSymlink = 20, kStatus = 101, kHandle = 102, kData = 103, kName = 104, kAttrs = 105,
  kExtended = 200, kExtendedReply = 201,
};
// Status codes.
enum : std::uint32_t {
  kOk = 0, kEof = 1, kNoSuchFile = 2, kPermissionDenied = 3, kFailure = 4, kBadMessage = 5, kOpUnsupported = 8,
};
// Attribute flags.
constexpr std::uint32_t kAttrSize = 0x1, kAttrUidGid = 0x2, kAttrPermissions = 0x4, kAttrTimes = 0x8,
                        kAttrExtended = 0x80000000u;
// Open flags.
constexpr std::uint32_t kOpenRead = 0x1, kOpenWrite = 0x2, kOpenAppend = 0x4, kOpenCreate = 0x8,
                        kOpenTruncate = 0x10, kOpenExclusive = 0x20;

constexpr std::size_t kMaxPathLength = 4096;
constexpr std::size_t kDirectoryBatch = 100;  // entries per READDIR reply
constexpr std::uint32_t kMaxAttributeExtensions = 64;

void PutU32(std::string& out, std::uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.append(bytes, 4);
}
void PutU64(std::string& out, std::uint64_t v) {
  PutU32(out, static_cast<std::uint32_t>(v >> 32));
  PutU32(out, static_cast<std::uint32_t>(v));
}
void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::uint32_t ModeWithType(const service::FileInfo& info) {
  std::uint32_t type = S_IFREG;
  if (info.type == service::FileType::kDirectory) type = S_IFDIR;
  if (info.type == service::FileType::kSymlink) type = S_IFLNK;
  return type | (info.mode & 07777);
}

void PutAttrs(std::string& out, const service::FileInfo& info) {
  PutU32(out, kAttrSize | kAttrUidGid | kAttrPermissions | kAttrTimes);
  PutU64(out, info.size);
  PutU32(out, 0);  // uid and gid: every file of a home is the user's; numbers would name server accounts
  PutU32(out, 0);
  PutU32(out, ModeWithType(info));
  const auto seconds = static_cast<std::uint32_t>(info.mtime < 0 ? 0 : info.mtime);
  PutU32(out, seconds);  // atime: not kept apart
  PutU32(out, seconds);
}

// "-rw-r--r--    1 alice    alice        1234 Dec  4 04:00 name", as OpenSSH's server writes it.
std::string LongName(const service::FileInfo& info, std::string_view user) {
  const std::uint32_t mode = ModeWithType(info);
  std::string perms = info.type == service::FileType::kDirectory ? "d" : info.type == service::FileType::kSymlink ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) perms += (mode & (0400u >> i)) ? rwx[i] : '-';
  char when[32] = "";
  const std::time_t mtime = static_cast<std::time_t>(info.mtime);
  std::tm tm{};
  ::gmtime_r(&mtime, &tm);
  const std::time_t now = std::time(nullptr);
  const bool recent = now - mtime < 180 * 24 * 3600 && mtime <= now + 3600;
  std::strftime(when, sizeof when, recent ? "%b %e %H:%M" : "%b %e  %Y", &tm);
  return fmt::format("{} {:>4} {:<8} {:<8} {:>8} {} {}", perms, info.nlink == 0 ? 1 : info.nlink, user, user,
                     info.size, when, info.name);
}

}  // namespace

// A request's fields, read in order; any read past the end marks the request malformed.
class SftpServer::Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint32_t U32() {
    if (data_.size() < 4) return Bad();
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data());
    data_.remove_prefix(4);
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  }
  std::uint64_t U64() {
    const std::uint64_t high = U32();
    return (high << 32) | U32();
  }
  std::string_view String(std::size_t limit) {
    const std::uint32_t length = U32();
    if (!ok_ || length > data_.size() || length > limit) {
      Bad();
      return {};
    }
    const auto value = data_.substr(0, length);
    data_.remove_prefix(length);
    return value;
  }
  // Attributes as SFTP v3 encodes them: what was given of mode and modification time.
  struct Attrs {
    std::optional<std::uint64_t> size;
    std::optional<std::uint32_t> mode;
    std::optional<std::uint32_t> mtime;
  };
  Attrs ReadAttrs() {
    Attrs attrs;
    const std::uint32_t flags = U32();
    if (flags & kAttrSize) attrs.size = U64();
    if (flags & kAttrUidGid) {
      U32();
      U32();
    }
    if (flags & kAttrPermissions) attrs.mode = U32() & 07777;
    if (flags & kAttrTimes) {
      U32();
      attrs.mtime = U32();
    }
    if (flags & kAttrExtended) {
      const std::uint32_t count = U32();
      if (count > kMaxAttributeExtensions) Bad();
      for (std::uint32_t i = 0; ok_ && i < count; ++i) {
        String(kMaxPacket);
        String(kMaxPacket);
      }
    }
    return attrs;
  }
  bool ok() const { return ok_; }

 private:
  std::uint32_t Bad() {
    ok_ = false;
    data_ = {};
    return 0;
  }
  std::string_view data_;
  bool ok_ = true;
};

struct SftpServer::Handle {
  enum class Kind { kDownload, kUpload, kDirectory } kind;
  std::string path;
  std::optional<service::Download> download;
  std::uint64_t bytes_read = 0;  // what READs answered, for the download's audit line
  std::optional<service::Upload> upload;
  bool append = false;
  std::optional<storage::DirectoryLister> lister;
  bool listed_dots = false;
};

SftpServer::SftpServer(service::UserSession* session) : session_(session) {}

SftpServer::~SftpServer() { CloseAll(); }

void SftpServer::CloseAll() {
  for (auto& [number, handle] : handles_) {
    if (handle->download) handle->download->Interrupted(handle->bytes_read);  // the connection closed
  }
  handles_.clear();  // an upload not closed stays a partial, for a resume
}

void SftpServer::Process() {
  while (!failed_ && output_.size() < kOutputHighWater) {
    const std::string_view rest = std::string_view(input_).substr(consumed_);
    if (rest.size() < 4) break;
    const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
    const std::uint32_t length =
        (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    if (length == 0 || length > kMaxPacket) {
      failed_ = true;
      break;
    }
    if (rest.size() < 4 + std::size_t{length}) break;
    const auto type = static_cast<std::uint8_t>(rest[4]);
    Dispatch(type, rest.substr(5, length - 1));
    consumed_ += 4 + std::size_t{length};
  }
  if (consumed_ > 0 && (consumed_ == input_.size() || consumed_ >= 64 * 1024)) {
    input_.erase(0, consumed_);
    consumed_ = 0;
  }
}

bool SftpServer::RefusedForShutdown(std::uint32_t id) {
  if (!shutting_down_) return false;
  SendStatus(id, kFailure, "the server is shutting down");
  return true;
}

void SftpServer::Dispatch(std::uint8_t type, std::string_view body) {
  Reader in(body);
  if (!initialised_) {
    if (type != kInit) {
      failed_ = true;
      return;
    }
    initialised_ = true;
    const std::size_t start = BeginPacket(kVersion, std::nullopt);
    PutU32(output_, 3);
    for (const auto& [name, version] : {std::pair{"posix-rename@openssh.com", "1"}, {"statvfs@openssh.com", "2"},
                                        {"fsync@openssh.com", "1"}, {"limits@openssh.com", "1"},
                                        {"lsetstat@openssh.com", "1"}}) {
      PutString(output_, name);
      PutString(output_, version);
    }
    FinishPacket(start);
    return;
  }
  const std::uint32_t id = in.U32();
  if (!in.ok()) {
    failed_ = true;
    return;
  }
  // While the server shuts down, the open handles may finish; nothing new is opened or changed.
  // (SETSTAT and RENAME look for themselves: they come as extensions too.)
  if ((type == kOpen || type == kOpenDir || type == kRemove || type == kMkdir || type == kRmdir || type == kSymlink) &&
      RefusedForShutdown(id)) {
    return;
  }
  switch (type) {
    case kOpen: HandleOpen(id, in); break;
    case kClose: HandleClose(id, in); break;
    case kRead: HandleRead(id, in); break;
    case kWrite: HandleWrite(id, in); break;
    case kLstat: HandleStat(id, in, false); break;
    case kStat: HandleStat(id, in, true); break;
    case kFstat: HandleFstat(id, in); break;
    case kSetStat: HandleSetStat(id, in, true); break;
    case kFsetStat: HandleFsetStat(id, in); break;
    case kOpenDir: HandleOpenDir(id, in); break;
    case kReadDir: HandleReadDir(id, in); break;
    case kRealPath: HandleRealPath(id, in); break;
    case kRename: HandleRename(id, in, false); break;
    case kExtended: HandleExtended(id, in); break;
    case kRemove: case kMkdir: case kRmdir: {
      const std::string path = PathOf(in.String(kMaxPathLength));
      if (type == kMkdir) in.ReadAttrs();
      if (!in.ok()) return SendStatus(id, kBadMessage, "malformed request");
      const Status result = type == kRemove  ? session_->Remove(path, false)
                            : type == kMkdir ? session_->MakeDirectory(path, false)
                                             : session_->RemoveDirectory(path);
      return SendError(id, result);
    }
    case kReadLink: HandleReadLink(id, in); break;
    case kSymlink: HandleSymlink(id, in); break;
    default:
      return SendStatus(id, kOpUnsupported, "unsupported request");
  }
}

std::string SftpServer::PathOf(std::string_view path) const {
  if (path.empty() || path == ".") return "/";
  return service::JoinPath("/", path);
}

void SftpServer::HandleOpen(std::uint32_t id, Reader& in) {
  const std::string path = PathOf(in.String(kMaxPathLength));
  const std::uint32_t flags = in.U32();
  const auto attrs = in.ReadAttrs();
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed OPEN");
  auto handle = std::make_unique<struct Handle>();
  handle->path = path;
  if ((flags & (kOpenWrite | kOpenAppend)) == 0) {
    auto download =
        session_->OpenDownload(path, 0, transfer::kDefaultChecksum, service::DownloadDigest::kNotSent);
    if (!download.ok()) return SendError(id, download.status());
    handle->kind = Handle::Kind::kDownload;
    handle->download.emplace(std::move(download).value());
  } else {
    service::UploadOptions options;
    // O_EXCL and an open without O_CREAT are refused by the service (and audited) when the target is or is not there.
    options.target = (flags & kOpenCreate) == 0       ? service::UploadTarget::kMustExist
                     : (flags & kOpenExclusive) != 0 ? service::UploadTarget::kMustNotExist
                                                     : service::UploadTarget::kAny;
    if (attrs.mode) options.mode = *attrs.mode & 0777;
    // A new file, or one replaced whole, is written beside it and published when closed; a file that is there,
    // opened without truncation (reput, put -a), is continued in place.
    options.continue_existing = (flags & kOpenTruncate) == 0;
    auto upload = session_->BeginUpload(path, options);
    if (!upload.ok()) return SendError(id, upload.status());
    handle->kind = Handle::Kind::kUpload;
    handle->append = (flags & kOpenAppend) != 0;
    handle->upload.emplace(std::move(upload).value());
  }
  auto number = AddHandle(id, std::move(handle));
  if (number) SendHandle(id, *number);
}

void SftpServer::HandleClose(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed CLOSE");
  std::uint32_t number = 0;
  struct Handle* handle = FindHandle(id, name, &number);
  if (handle == nullptr) return;
  Status result;
  if (handle->download) handle->download->Finish(handle->bytes_read);
  if (handle->upload) {
    auto committed = handle->upload->Commit(std::nullopt);
    if (!committed.ok()) result = committed.status();
  }
  handles_.erase(number);
  SendError(id, result);
}

void SftpServer::HandleRead(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  const std::uint64_t offset = in.U64();
  std::uint32_t length = in.U32();
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed READ");
  struct Handle* handle = FindHandle(id, name);
  if (handle == nullptr) return;
  if (!handle->download) return SendStatus(id, kFailure, "the handle is not open for reading");
  length = std::min(length, kMaxReadLength);
  const std::size_t start = BeginPacket(kData, id);
  const std::size_t length_at = output_.size();
  PutU32(output_, 0);
  const std::size_t data_at = output_.size();
  output_.resize(data_at + length);
  ssize_t n;
  do {
    n = ::pread(handle->download->fd(), output_.data() + data_at, length, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    output_.resize(start);
    if (n == 0) return SendStatus(id, kEof, "end of file");
    return SendError(id, Status::FromErrno(errno, handle->path));
  }
  output_.resize(data_at + static_cast<std::size_t>(n));
  const auto count = static_cast<std::uint32_t>(n);
  output_[length_at] = static_cast<char>(count >> 24);
  output_[length_at + 1] = static_cast<char>(count >> 16);
  output_[length_at + 2] = static_cast<char>(count >> 8);
  output_[length_at + 3] = static_cast<char>(count);
  FinishPacket(start);
  handle->bytes_read += count;
}

void SftpServer::HandleWrite(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  const std::uint64_t offset = in.U64();
  const std::string_view data = in.String(kMaxWriteLength);
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed WRITE");
  struct Handle* handle = FindHandle(id, name);
  if (handle == nullptr) return;
  if (!handle->upload) return SendStatus(id, kFailure, "the handle is not open for writing");
  const Status written =
      handle->append ? handle->upload->Write(data) : handle->upload->WriteAt(offset, data);
  if (!written.ok() && (written.code() == ErrorCode::kQuota || written.code() == ErrorCode::kNoSpace)) {
    handle->upload->Discard();  // nothing is left of an upload that does not fit (a continued file keeps its start)
  }
  SendError(id, written);
}

void SftpServer::HandleOpenDir(std::uint32_t id, Reader& in) {
  const std::string path = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed OPENDIR");
  auto lister = session_->OpenDirectory(path);
  if (!lister.ok()) return SendError(id, lister.status());
  auto handle = std::make_unique<struct Handle>();
  handle->kind = Handle::Kind::kDirectory;
  handle->path = path;
  handle->lister.emplace(std::move(lister).value());
  auto number = AddHandle(id, std::move(handle));
  if (number) SendHandle(id, *number);
}

void SftpServer::HandleReadDir(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed READDIR");
  struct Handle* handle = FindHandle(id, name);
  if (handle == nullptr) return;
  if (!handle->lister) return SendStatus(id, kFailure, "the handle is not a folder");
  std::vector<service::FileInfo> entries;
  if (!handle->listed_dots) {
    handle->listed_dots = true;
    for (const char* dot : {".", ".."}) {
      auto info = session_->Stat(std::string(dot) == "." ? handle->path : service::JoinPath(handle->path, ".."));
      if (info.ok()) {
        info->name = dot;
        entries.push_back(*info);
      }
    }
  }
  auto batch = handle->lister->Next(kDirectoryBatch);
  if (!batch.ok()) return SendError(id, batch.status());
  for (auto& entry : *batch) entries.push_back(std::move(entry));
  if (entries.empty()) return SendStatus(id, kEof, "no more entries");
  const std::size_t start = BeginPacket(kName, id);
  PutU32(output_, static_cast<std::uint32_t>(entries.size()));
  for (const auto& entry : entries) {
    PutString(output_, entry.name);
    PutString(output_, LongName(entry, session_->user()));
    PutAttrs(output_, entry);
  }
  FinishPacket(start);
}

void SftpServer::HandleStat(std::uint32_t id, Reader& in, bool follow) {
  const std::string path = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed STAT");
  auto info = session_->Stat(path);
  if (info.ok() && follow && info->type == service::FileType::kSymlink) info = session_->Stat(path, true);
  if (!info.ok()) return SendError(id, info.status());
  SendAttrs(id, *info);
}

void SftpServer::HandleFstat(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed FSTAT");
  struct Handle* handle = FindHandle(id, name);
  if (handle == nullptr) return;
  if (handle->upload) {
    service::FileInfo info;
    info.name = handle->path.substr(handle->path.rfind('/') + 1);
    info.type = service::FileType::kFile;
    info.size = handle->upload->size();
    info.mode = 0644;
    info.mtime = std::time(nullptr);
    return SendAttrs(id, info);
  }
  auto info = session_->Stat(handle->path);
  if (!info.ok()) return SendError(id, info.status());
  SendAttrs(id, *info);
}

void SftpServer::HandleSetStat(std::uint32_t id, Reader& in, bool follow) {
  if (RefusedForShutdown(id)) return;
  const std::string path = PathOf(in.String(kMaxPathLength));
  const auto attrs = in.ReadAttrs();
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed SETSTAT");
  std::optional<timespec> mtime;
  if (attrs.mtime) mtime = timespec{static_cast<time_t>(*attrs.mtime), 0};
  if (!attrs.mode && !mtime && !attrs.size) return SendError(id, Status::Ok());  // owners and the like: not changed
  // The size a file already has (scp sets it after an upload) changes nothing; another is refused by the service.
  SendError(id, session_->SetAttributes(path, attrs.mode, mtime, follow, attrs.size));
}

void SftpServer::HandleReadLink(std::uint32_t id, Reader& in) {
  const std::string path = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed READLINK");
  auto text = session_->ReadLink(path);
  if (!text.ok()) return SendError(id, text.status());
  SendName(id, *text, nullptr);
}

void SftpServer::HandleSymlink(std::uint32_t id, Reader& in) {
  // In the order OpenSSH sends them (the reverse of the draft's): the target, then the link's own path. The target
  // is a path of the home as the client typed it, absolute from the home's top or relative to the link's folder.
  const std::string_view target = in.String(kMaxPathLength);
  const std::string path = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed SYMLINK");
  SendError(id, session_->MakeSymlink(path, target));
}

void SftpServer::HandleFsetStat(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(64);
  const auto attrs = in.ReadAttrs();
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed FSETSTAT");
  struct Handle* handle = FindHandle(id, name);
  if (handle == nullptr) return;
  // An upload in progress is published when closed; its attributes then are those it was opened with.
  if (handle->upload) {
    if (attrs.size && *attrs.size != handle->upload->size()) {
      return SendStatus(id, kOpUnsupported, "changing a file's size is not supported");
    }
    return SendError(id, Status::Ok());
  }
  if (attrs.size && handle->download && *attrs.size != handle->download->size()) {
    return SendStatus(id, kOpUnsupported, "changing a file's size is not supported");
  }
  std::optional<timespec> mtime;
  if (attrs.mtime) mtime = timespec{static_cast<time_t>(*attrs.mtime), 0};
  if (!attrs.mode && !mtime) return SendError(id, Status::Ok());
  SendError(id, session_->SetAttributes(handle->path, attrs.mode, mtime));
}

void SftpServer::HandleRealPath(std::uint32_t id, Reader& in) {
  const std::string path = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed REALPATH");
  auto info = session_->Stat(path);
  SendName(id, path, info.ok() ? &*info : nullptr);
}

void SftpServer::HandleRename(std::uint32_t id, Reader& in, bool posix) {
  if (RefusedForShutdown(id)) return;
  const std::string from = PathOf(in.String(kMaxPathLength));
  const std::string to = PathOf(in.String(kMaxPathLength));
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed RENAME");
  // SFTP v3's RENAME does not replace an existing target; posix-rename@openssh.com does, as rename(2). Neither moves
  // into a folder that `to` names.
  SendError(id, session_->Rename(from, to, posix, storage::RenameTarget::kExactName));
}

void SftpServer::HandleExtended(std::uint32_t id, Reader& in) {
  const std::string_view name = in.String(256);
  if (!in.ok()) return SendStatus(id, kBadMessage, "malformed EXTENDED");
  if (name == "posix-rename@openssh.com") return HandleRename(id, in, true);
  if (name == "statvfs@openssh.com") return HandleStatvfs(id);
  if (name == "limits@openssh.com") return HandleLimits(id);
  if (name == "lsetstat@openssh.com") return HandleSetStat(id, in, false);
  if (name == "hardlink@openssh.com") {
    return SendStatus(id, kOpUnsupported, "hard links are not served: make a symbolic link (ln -s) instead");
  }
  if (name == "fsync@openssh.com") {
    const std::string_view handle_name = in.String(64);
    if (!in.ok()) return SendStatus(id, kBadMessage, "malformed fsync");
    struct Handle* handle = FindHandle(id, handle_name);
    if (handle == nullptr) return;
    return SendError(id, Status::Ok());  // an upload is flushed when it is published
  }
  SendStatus(id, kOpUnsupported, fmt::format("unsupported extension {}", name));
}

void SftpServer::HandleStatvfs(std::uint32_t id) {
  // The user's quota as a file system of 4 KiB blocks; without a quota, what the data root's file system has.
  auto report = session_->Quota();
  if (!report.ok()) return SendError(id, report.status());
  constexpr std::uint64_t kBlock = 4096;
  const std::uint64_t used = report->usage.bytes + report->usage.reserved_bytes;
  const std::uint64_t total = report->limits.max_bytes.value_or(std::max<std::uint64_t>(used, 1ull << 50));
  const std::uint64_t free_bytes = total > used ? total - used : 0;
  const std::uint64_t files = report->limits.max_files.value_or(1ull << 32);
  const std::uint64_t used_files = report->usage.entries + report->usage.reserved_entries;
  const std::size_t start = BeginPacket(kExtendedReply, id);
  for (const std::uint64_t value :
       {kBlock, kBlock, total / kBlock, free_bytes / kBlock, free_bytes / kBlock, files,
        files > used_files ? files - used_files : 0, files > used_files ? files - used_files : 0, std::uint64_t{0},
        std::uint64_t{0}, std::uint64_t{255}}) {
    PutU64(output_, value);
  }
  FinishPacket(start);
}

void SftpServer::HandleLimits(std::uint32_t id) {
  const std::size_t start = BeginPacket(kExtendedReply, id);
  PutU64(output_, kMaxPacket);
  PutU64(output_, kMaxReadLength);
  PutU64(output_, kMaxWriteLength);
  PutU64(output_, kMaxHandles);
  FinishPacket(start);
}

struct SftpServer::Handle* SftpServer::FindHandle(std::uint32_t id, std::string_view name, std::uint32_t* number_out) {
  // Exactly the decimal number a HANDLE reply gave: no sign, no leading zero, nothing past 2^32 - 1.
  std::uint32_t number = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), number);
  const bool valid = !name.empty() && error == std::errc() && end == name.data() + name.size() &&
                     (name.size() == 1 || name.front() != '0');
  auto it = valid ? handles_.find(number) : handles_.end();
  if (it == handles_.end()) {
    SendStatus(id, kFailure, "invalid handle");
    return nullptr;
  }
  if (number_out != nullptr) *number_out = number;
  return it->second.get();
}

std::optional<std::uint32_t> SftpServer::AddHandle(std::uint32_t id, std::unique_ptr<struct Handle> handle) {
  if (handles_.size() >= kMaxHandles) {
    if (handle->upload && handle->upload->size() == 0) handle->upload->Discard();
    SendStatus(id, kFailure, fmt::format("too many open files (at most {})", kMaxHandles));
    return std::nullopt;
  }
  const std::uint32_t number = next_handle_++;
  handles_.emplace(number, std::move(handle));
  return number;
}

std::size_t SftpServer::BeginPacket(std::uint8_t type, std::optional<std::uint32_t> id) {
  const std::size_t start = output_.size();
  PutU32(output_, 0);
  output_.push_back(static_cast<char>(type));
  if (id) PutU32(output_, *id);
  return start;
}

void SftpServer::FinishPacket(std::size_t start) {
  const auto length = static_cast<std::uint32_t>(output_.size() - start - 4);
  output_[start] = static_cast<char>(length >> 24);
  output_[start + 1] = static_cast<char>(length >> 16);
  output_[start + 2] = static_cast<char>(length >> 8);
  output_[start + 3] = static_cast<char>(length);
}

void SftpServer::SendStatus(std::uint32_t id, std::uint32_t code, std::string_view message) {
  const std::size_t start = BeginPacket(kStatus, id);
  PutU32(output_, code);
  PutString(output_, message);
  PutString(output_, "en");
  FinishPacket(start);
}

void SftpServer::SendError(std::uint32_t id, const Status& status) {
  if (status.ok()) return SendStatus(id, kOk, "Success");
  std::uint32_t code = kFailure;
  if (status.code() == ErrorCode::kNotFound) code = kNoSuchFile;
  if (status.code() == ErrorCode::kAccessDenied || status.code() == ErrorCode::kNotPermitted) code = kPermissionDenied;
  if (status.code() == ErrorCode::kNotSupported) code = kOpUnsupported;
  SendStatus(id, code, status.message());
}

void SftpServer::SendHandle(std::uint32_t id, std::uint32_t handle) {
  const std::size_t start = BeginPacket(kHandle, id);
  PutString(output_, std::to_string(handle));
  FinishPacket(start);
}

void SftpServer::SendAttrs(std::uint32_t id, const service::FileInfo& info) {
  const std::size_t start = BeginPacket(kAttrs, id);
  PutAttrs(output_, info);
  FinishPacket(start);
}

void SftpServer::SendName(std::uint32_t id, std::string_view name, const service::FileInfo* info) {
  const std::size_t start = BeginPacket(kName, id);
  PutU32(output_, 1);
  PutString(output_, name);
  PutString(output_, name);
  if (info != nullptr) {
    PutAttrs(output_, *info);
  } else {
    PutU32(output_, 0);
  }
  FinishPacket(start);
}

}  // namespace ferry::frontends::sftp
