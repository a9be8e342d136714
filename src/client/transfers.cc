#include "client/transfers.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/byte_size.h"
#include "common/unique_fd.h"
#include "client/interrupt.h"
#include "client/terminal_text.h"

namespace ferry::client {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunk = 1024 * 1024;
// Files up to this size travel in one data frame and are pipelined, up to kWindow files in flight.
constexpr std::uint64_t kSmallFile = 1024 * 1024;
constexpr std::size_t kWindow = 64;

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The name a copy of `path` takes in a folder: its last part. "", "." and ".." name no entry of their own (joined to
// a folder they would lead to the folder itself or above it), so they are refused: the caller names the copy.
Result<std::string> NameOfCopy(const std::string& path) {
  std::string name = BaseName(path);
  if (name.empty() || name == "." || name == ".." || name == "/") {
    return Status(ErrorCode::kInvalid,
                  fmt::format("'{}' has no name of its own for the copy: name where it goes (get -r . backup)", path));
  }
  return name;
}

// folder/name, built in one allocation (a tree's scan builds two for every file).
std::string JoinPath(const std::string& folder, std::string_view name) {
  std::string path;
  path.reserve(folder.size() + 1 + name.size());
  path.append(folder);
  if (!folder.empty() && folder.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

Status ReadAt(int fd, char* data, std::size_t size, std::uint64_t offset, std::size_t* got) {
  *got = 0;
  while (*got < size) {
    const ssize_t n = ::pread(fd, data + *got, size - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading");
    }
    if (n == 0) break;
    *got += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status WriteAt(int fd, std::string_view bytes, std::uint64_t offset, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, what);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Status WriteSequential(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, what);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// Hashes the first `length` bytes of `fd` into `checksum`.
Status HashPrefix(int fd, std::uint64_t length, transfer::Checksum& checksum) {
  std::string buffer(kChunk, '\0');
  for (std::uint64_t offset = 0; offset < length;) {
    std::size_t got = 0;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, length - offset));
    if (Status s = ReadAt(fd, buffer.data(), want, offset, &got); !s.ok()) return s;
    if (got == 0) return Status(ErrorCode::kIo, "file shrank while being read");
    checksum.Update(std::string_view(buffer.data(), got));
    offset += got;
  }
  return Status::Ok();
}

std::string AlgorithmName(transfer::ChecksumAlgorithm algorithm) {
  return std::string(transfer::ChecksumName(algorithm));
}

// The reply to request `id` of a pipeline: EPROTO when it lacks a field `Reply` requires.
template <typename Reply>
Result<Reply> AwaitParsed(Connection& connection, std::uint64_t id) {
  auto frame = connection.AwaitReply(id);
  if (!frame.ok()) return frame.status();
  return Reply::Parse(frame->header);
}

// Whether frames for the same request follow `header`, for reading what is left of a stream that is being given
// up: a header that does not say counts as the last.
bool StreamGoesOn(const Json& header) {
  const auto more = protocol::MoreFollows(header);
  return more.ok() && *more;
}

// Warnings name remote files and carry the server's messages: escaped (see terminal_text.h).
void Warn(const std::string& message) {
  ProgressBar::ClearActiveLine();
  std::cerr << "ferry: " << EscapeForTerminal(message) << "\n";
}
// What went as asked but differently from a plain transfer (a file skipped as complete), on stderr.
void Note(const std::string& message) {
  ProgressBar::ClearActiveLine();
  std::cerr << EscapeForTerminal(message) << "\n";
}

// A line of a dry run, on stdout: what a tree transfer would do.
void DryRunLine(std::string_view action, const std::string& path) {
  std::cout << action << " " << EscapeForTerminal(path) << "\n";
}

// The checksum of a local file, as the server computes it for `sum`.
Result<std::string> LocalChecksum(const std::string& path, transfer::ChecksumAlgorithm algorithm) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  transfer::Checksum checksum(algorithm);
  std::string buffer(256 * 1024, '\0');
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, path);
    if (n == 0) break;
    checksum.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  return checksum.HexDigest();
}

// The names a local folder holds (empty when it does not exist).
std::set<std::string> LocalNames(const std::string& folder) {
  std::set<std::string> names;
  std::error_code error;
  for (const auto& item : fs::directory_iterator(folder, error)) names.insert(item.path().filename().string());
  return names;
}

Status ApplyTimesAndMode(int fd, std::uint32_t mode, std::int64_t mtime, std::uint32_t mtime_nsec) {
  ::fchmod(fd, mode & 0777);
  const timespec times[2] = {{0, UTIME_OMIT}, {mtime, static_cast<long>(mtime_nsec)}};
  if (::futimens(fd, times) != 0) return Status::FromErrno(errno, "setting the modification time");
  return Status::Ok();
}

}  // namespace

Result<LocalTarget> ResolveLocalTarget(const std::string& path) {
  if (path == "-") return LocalTarget{path, true};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    // A device, a FIFO, the terminal, or a path of /dev or /proc (such as /dev/stdout redirected to a file): written
    // in place, as cp and curl -o do, never replaced.
    const std::string absolute = fs::absolute(path).lexically_normal().string();
    const bool system_path = absolute.rfind("/dev/", 0) == 0 || absolute.rfind("/proc/", 0) == 0;
    if (!S_ISREG(st.st_mode) || system_path) return LocalTarget{path, true};
    // A regular file, perhaps at the end of links: the download replaces the file, not a link leading to it.
    std::error_code error;
    const fs::path real = fs::canonical(path, error);
    if (error) return Status(ErrorCode::kIo, fmt::format("{}: {}", path, error.message()));
    return LocalTarget{real.string(), false};
  }
  // Absent, or a link leading to a name that does not exist yet: the file is made where the links lead.
  std::string current = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat link {};
    if (::lstat(current.c_str(), &link) != 0) {
      if (errno == ENOENT) return LocalTarget{current, false};
      return Status::FromErrno(errno, current);
    }
    if (!S_ISLNK(link.st_mode)) return LocalTarget{current, false};
    std::error_code error;
    const fs::path target = fs::read_symlink(current, error);
    if (error) return Status(ErrorCode::kIo, fmt::format("{}: {}", current, error.message()));
    current = target.is_absolute() ? target.string() : (fs::path(current).parent_path() / target).string();
  }
  return Status(ErrorCode::kTooManyLinks, fmt::format("{}: too many levels of symbolic links", path));
}

namespace {

constexpr std::string_view kPartialSuffix = ".ferry-part";

// The file a partial's name stands for ("a.bin" for ".a.bin.ferry-part"); "" when the name is not a partial's.
std::string_view PartialOf(std::string_view name) {
  if (name.size() <= kPartialSuffix.size() + 1 || name.front() != '.' || !name.ends_with(kPartialSuffix)) return {};
  return name.substr(1, name.size() - 1 - kPartialSuffix.size());
}

}  // namespace

void RatePace::Start(std::uint64_t bytes_per_second) {
  rate_ = bytes_per_second;
  bytes_ = 0;
  start_ = std::chrono::steady_clock::now();
}

void RatePace::Took(std::uint64_t bytes) {
  if (rate_ == 0) return;
  bytes_ += bytes;
  const auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(bytes_) / static_cast<double>(rate_)));
  // poll(2) as a sleep that a Ctrl-C ends (the transfer then stops on its own check).
  for (auto now = std::chrono::steady_clock::now(); now < due && !InterruptRequested();
       now = std::chrono::steady_clock::now()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count();
    ::poll(nullptr, 0, static_cast<int>(std::clamp<long long>(left, 1, 100)));
  }
}

std::string PartialPathFor(const std::string& local) {
  const fs::path path(local);
  const fs::path folder = path.parent_path();
  const std::string name = "." + path.filename().string() + std::string(kPartialSuffix);
  return folder.empty() ? name : (folder / name).string();
}

Status Transfers::WithRetries(const TransferOptions& options, const std::function<Status(bool resume)>& attempt) {
  bool resume = options.resume;
  for (int tries = 0;; ++tries) {
    Status status = attempt(resume);
    if (status.ok() || session_.connected() || tries >= options.max_retries || InterruptRequested()) return status;
    Warn(fmt::format("{}; reconnecting to resume ({} of {})", status.message(), tries + 1, options.max_retries));
    if (Status s = session_.ReconnectWithBackoff(remote_cwd_(), Warn); !s.ok()) return status;
    resume = true;  // continue where the dropped attempt stopped
  }
}

Result<bool> Transfers::AlreadyOnServer(int fd, const LocalFile& file, transfer::ChecksumAlgorithm algorithm) {
  Connection& c = connection();
  auto reply = c.Call(protocol::StatRequest{file.remote}.Encode());
  if (!reply.ok()) return false;  // nothing there (or no connection, which the upload then reports)
  auto stat = protocol::StatReply::Parse(*reply);
  if (!stat.ok()) return stat.status();
  if (stat->entry.type != protocol::EntryType::kFile || stat->entry.size != file.size) return false;
  auto sum = c.Call(protocol::SumRequest{file.remote, AlgorithmName(algorithm), std::nullopt}.Encode());
  if (!sum.ok()) return false;
  auto theirs = protocol::SumReply::Parse(*sum);
  if (!theirs.ok()) return theirs.status();
  transfer::Checksum mine(algorithm);
  if (Status s = HashPrefix(fd, file.size, mine); !s.ok()) return s;
  return theirs->checksum == mine.HexDigest();
}

Result<bool> Transfers::IsInterruptedCopyOf(const std::string& remote, const std::string& local) {
  std::set<std::string> names;
  Status listed = connection().CallStream(protocol::ListRequest{remote, ""}.Encode(), [&](const protocol::Frame& frame) {
    auto batch = protocol::ListReply::Parse(frame.header, frame.body);
    if (!batch.ok()) return batch.status();
    for (auto& entry : batch->entries) names.insert(std::move(entry.name));
    return Status::Ok();
  });
  if (!listed.ok()) return listed;
  std::error_code error;
  bool any = false;
  for (const auto& item : fs::directory_iterator(local, error)) {
    std::string name = item.path().filename().string();
    if (const std::string_view of = PartialOf(name); !of.empty()) name = std::string(of);
    if (names.count(name) == 0) return false;
    any = true;
  }
  if (error) return Status(ErrorCode::kIo, fmt::format("{}: {}", local, error.message()));
  return any;
}

Result<bool> Transfers::RemoteIsDirectory(const std::string& remote) {
  auto reply = connection().Call(protocol::StatRequest{remote}.Encode());
  if (!reply.ok()) {
    connection().ForgetRefusal();  // an answer, not a failure
    return false;  // nothing there (or no connection, which the upload then reports)
  }
  auto stat = protocol::StatReply::Parse(*reply);
  if (!stat.ok()) return stat.status();
  return stat->entry.type == protocol::EntryType::kDirectory;
}

void Transfers::DrainStream(std::uint64_t id) {
  while (true) {
    auto frame = connection().AwaitReply(id);
    if (!frame.ok() || !StreamGoesOn(frame->header)) return;
  }
}

protocol::PutRequest Transfers::PutRequestFor(const LocalFile& file, transfer::ChecksumAlgorithm algorithm,
                                              bool resume) {
  return protocol::PutRequest{file.remote, file.size, file.mode, file.mtime, file.mtime_nsec, AlgorithmName(algorithm),
                              resume};
}

// ---- uploads ----

Status Transfers::Put(const std::string& local, const std::string& remote_arg, const TransferOptions& options) {
  pace_.Start(options.limit_rate);
  failed_in_part_ = false;
  struct stat st {};
  if (::stat(local.c_str(), &st) != 0) return Status::FromErrno(errno, local);
  std::string remote = remote_arg;
  if (remote_arg.empty()) {
    auto name = NameOfCopy(local);
    if (!name.ok()) return name.status();
    remote = *name;
  } else {
    auto into_folder = remote_arg.back() == '/' ? Result<bool>(true) : RemoteIsDirectory(remote_arg);
    if (!into_folder.ok()) return into_folder.status();
    if (*into_folder) {
      auto name = NameOfCopy(local);
      if (!name.ok()) return name.status();
      remote = JoinPath(remote_arg, *name);
    }
  }
  if (S_ISDIR(st.st_mode)) {
    if (!options.recursive) return Status(ErrorCode::kIsDirectory, fmt::format("{} is a folder (use put -r)", local));
    return UploadTree(local, remote, options);
  }
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kInvalid, fmt::format("{} is not a regular file", local));
  const LocalFile file{local, remote, static_cast<std::uint64_t>(st.st_size), st.st_mode & 07777, st.st_mtim.tv_sec,
                       static_cast<std::uint32_t>(st.st_mtim.tv_nsec), 0, {}};
  ProgressBar bar(ProgressBar::ModeFor(options.quiet), "uploaded", file.size);
  bar.StartFile(BaseName(local));
  already_complete_ = 0;
  Status status = WithRetries(options, [&](bool resume) { return UploadFile(file, resume, options, bar); });
  bar.Finish(status.ok());
  if (status.ok() && already_complete_ > 0 && !options.quiet) {
    Note(fmt::format("{}: already complete on the server (same checksum); nothing was sent", local));
  }
  return status;
}

Status Transfers::UploadFile(const LocalFile& file, bool resume, const TransferOptions& options, ProgressBar& bar) {
  UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, file.path);
  Connection& c = connection();
  if (resume) {
    auto complete = AlreadyOnServer(fd.get(), file, options.algorithm);
    if (!complete.ok()) return complete.status();
    if (*complete) {
      bar.Skip(file.size);
      ++already_complete_;
      return Status::Ok();
    }
  }
  auto id = c.Send(PutRequestFor(file, options.algorithm, resume).Encode());
  if (!id.ok()) return id.status();
  auto opened = AwaitParsed<protocol::PutReply>(c, *id);
  if (!opened.ok()) return opened.status();
  transfer::Checksum checksum(options.algorithm);
  std::uint64_t offset = opened->offset;
  if (opened->discarded > 0) {
    Warn(fmt::format("{}: the interrupted upload on the server ({}) is longer than the file now; starting again from "
                     "zero",
                     file.path, ProgressBar::HumanBytes(static_cast<double>(opened->discarded))));
  }
  if (offset > 0) {
    if (Status s = HashPrefix(fd.get(), std::min(offset, file.size), checksum); !s.ok()) return s;
    if (offset > file.size || opened->prefix_checksum != checksum.HexDigest()) {
      Warn(fmt::format("{}: the source changed since the interrupted upload; starting again from zero", file.path));
      if (auto aborted = c.Call(protocol::PutAbortRequest{*id}.Encode()); !aborted.ok()) return aborted.status();
      id = c.Send(PutRequestFor(file, options.algorithm, false).Encode());
      if (!id.ok()) return id.status();
      if (auto again = AwaitParsed<protocol::PutReply>(c, *id); !again.ok()) return again.status();
      checksum = transfer::Checksum(options.algorithm);
      offset = 0;
    } else {
      bar.Skip(offset);
    }
  }
  std::string buffer(kChunk, '\0');
  for (std::uint64_t position = offset; position < file.size;) {
    if (InterruptRequested()) return Status(ErrorCode::kIo, "interrupted");
    std::size_t got = 0;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, file.size - position));
    if (Status s = ReadAt(fd.get(), buffer.data(), want, position, &got); !s.ok()) return s;
    if (got == 0) return Status(ErrorCode::kIo, fmt::format("{} shrank while being uploaded", file.path));
    const std::string_view bytes(buffer.data(), got);
    checksum.Update(bytes);
    if (Status s = c.SendFrame(protocol::UploadDataFrame{*id}.Encode(), bytes); !s.ok()) return s;
    position += got;
    bar.Advance(got);
    pace_.Took(got);
  }
  auto closed = c.Call<protocol::PutCloseReply>(protocol::PutCloseRequest{*id, checksum.HexDigest()});
  if (!closed.ok()) return closed.status();
  if (closed->checksum != checksum.HexDigest()) {
    return Status(ErrorCode::kIo, fmt::format("{}: the server's checksum differs from ours", file.remote));
  }
  return Status::Ok();
}

Status Transfers::ScanLocalTree(const std::string& local_root, const std::string& remote_root, LocalTree& tree,
                                const std::function<void(const std::string& remote)>& on_folder,
                                const std::function<void()>& after_folder) {
  // Folder by folder, each opened once: its entries are looked at relative to it (fstatat), not by a path walked
  // from the top for every file. Links are skipped, never followed.
  tree.folders = {{local_root, remote_root}};
  if (on_folder) on_folder(remote_root);
  for (std::size_t next = 0; next < tree.folders.size(); ++next) {
    // Copied: folders found below are appended to tree.folders while this one is read.
    const std::string local = tree.folders[next].first;
    const std::string remote = tree.folders[next].second;
    // The root may be a link the user named; a folder below was found as a folder, and a link put in its place
    // since is not followed: the upload stops there (as for any folder it cannot read) rather than copy, and
    // with --delete compare, another folder.
    UniqueFd fd(::open(local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (next > 0 ? O_NOFOLLOW : 0)));
    DIR* dir = fd.valid() ? ::fdopendir(fd.get()) : nullptr;
    if (dir == nullptr) return Status(ErrorCode::kIo, fmt::format("{}: {}", local, std::strerror(errno)));
    const int dir_fd = fd.Release();  // the stream owns it now
    int read_error = 0;
    while (true) {
      errno = 0;
      const dirent* entry = ::readdir(dir);
      if (entry == nullptr) {
        read_error = errno;
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      unsigned char type = entry->d_type;
      if (type == DT_UNKNOWN || type == DT_REG) {
        if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno != ENOENT) {  // not merely gone meanwhile: said, and the tree is then copied only in part
            const int error = errno;
            const std::string path = JoinPath(local, std::string(name));
            Warn(fmt::format("{}: {}", path, std::strerror(error)));
            if (tree.unreadable.ok()) tree.unreadable = Status::FromErrno(error, path);
          }
          continue;
        }
        type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
      }
      if (type == DT_LNK) {
        Warn(fmt::format("{}: symbolic link skipped", JoinPath(local, name)));
      } else if (type == DT_DIR) {
        std::string remote_folder = JoinPath(remote, name);
        if (on_folder) on_folder(remote_folder);
        tree.folders.emplace_back(JoinPath(local, name), std::move(remote_folder));
      } else if (type == DT_REG) {
        tree.files.push_back(LocalFile{{}, {}, static_cast<std::uint64_t>(st.st_size), st.st_mode & 07777,
                                       st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec),
                                       static_cast<std::uint32_t>(next), std::string(name)});
        tree.total += tree.files.back().size;
      }
    }
    ::closedir(dir);
    if (read_error != 0) return Status(ErrorCode::kIo, fmt::format("{}: {}", local, std::strerror(read_error)));
    if (after_folder) after_folder();
  }
  return Status::Ok();
}

void Transfers::PlaceFile(const LocalTree& tree, LocalFile& file) {
  const auto& [local, remote] = tree.folders[file.folder];
  file.path = JoinPath(local, file.name);
  file.remote = JoinPath(remote, file.name);
}

void Transfers::MakeRemoteFolders(const LocalTree& tree, Status& first_failure) {
  Connection& c = connection();
  // Pipelined: each mkdir -p needs no answer before the next is sent.
  std::deque<std::pair<std::uint64_t, std::string>> pending;
  auto settle = [&] {
    auto reply = c.AwaitReply(pending.front().first);
    if (!reply.ok()) {
      Warn(fmt::format("{}: {}", pending.front().second, reply.status().message()));
      if (first_failure.ok()) first_failure = reply.status();
    }
    pending.pop_front();
  };
  Connection::Gathering gathering(c);
  for (const auto& [local, remote] : tree.folders) {
    auto id = c.Send(protocol::MkdirRequest{remote, true}.Encode());
    if (!id.ok()) {
      if (first_failure.ok()) first_failure = id.status();
      return;
    }
    pending.emplace_back(*id, remote);
    if (pending.size() >= kWindow) settle();
  }
  while (!pending.empty()) settle();
}

void Transfers::UploadFiles(const LocalTree& tree, const TransferOptions& options, ProgressBar& bar,
                            Status& first_failure) {
  Connection& c = connection();
  struct InFlight {
    std::uint64_t put;
    std::uint64_t close;
    std::string what;
  };
  std::deque<InFlight> in_flight;
  auto settle_one = [&] {
    const InFlight& f = in_flight.front();
    auto opened = AwaitParsed<protocol::PutReply>(c, f.put);
    auto closed = AwaitParsed<protocol::PutCloseReply>(c, f.close);
    const Status& status = !opened.ok() ? opened.status() : closed.status();
    if (!status.ok()) {
      Warn(fmt::format("{}: {}", f.what, status.message()));
      if (first_failure.ok()) first_failure = status;
    }
    bar.FinishFile();
    in_flight.pop_front();
  };
  std::string content;
  // The requests of small files go out a few dozen at a time (a file's put, data and put_close are three frames);
  // under --limit-rate, each as it is paced.
  std::optional<Connection::Gathering> gathering;
  if (options.limit_rate == 0) gathering.emplace(c);
  for (const auto& file : tree.files) {
    if (!c.connected()) break;
    bar.StartFile(file.remote);
    if (file.size > kSmallFile || options.resume) {
      while (!in_flight.empty()) settle_one();
      Status status = UploadFile(file, options.resume, options, bar);
      if (!status.ok()) {
        Warn(fmt::format("{}: {}", file.path, status.message()));
        if (first_failure.ok()) first_failure = status;
      }
      bar.FinishFile();
      continue;
    }
    // A small file: put, its one data frame and put_close go out together; replies are read a window later.
    UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      Warn(fmt::format("{}: {}", file.path, std::strerror(errno)));
      continue;
    }
    content.resize(file.size);
    std::size_t got = 0;
    if (Status s = ReadAt(fd.get(), content.data(), content.size(), 0, &got); !s.ok() || got != file.size) {
      Warn(fmt::format("{}: changed while being read; skipped", file.path));
      continue;
    }
    transfer::Checksum checksum(options.algorithm);
    checksum.Update(content);
    auto put = c.Send(PutRequestFor(file, options.algorithm, false).Encode());
    if (!put.ok()) break;
    if (!content.empty() && !c.SendFrame(protocol::UploadDataFrame{*put}.Encode(), content).ok()) break;
    auto close = c.Send(protocol::PutCloseRequest{*put, checksum.HexDigest()}.Encode());
    if (!close.ok()) break;
    bar.Advance(file.size);
    pace_.Took(file.size);
    in_flight.push_back({*put, *close, file.remote});
    if (in_flight.size() >= kWindow) settle_one();
  }
  while (!in_flight.empty() && c.connected()) settle_one();
}

const protocol::DirectoryEntry* Transfers::FindEntry(const RemoteListing& listing, std::string_view name) {
  const auto found = std::lower_bound(listing.begin(), listing.end(), name,
                                      [](const protocol::DirectoryEntry& entry, std::string_view wanted) {
                                        return entry.name < wanted;
                                      });
  return found != listing.end() && found->name == name ? &*found : nullptr;
}

Transfers::FolderLister::FolderLister(Connection& connection, RemoteFolders& listed)
    : connection_(connection), listed_(listed) {}

void Transfers::FolderLister::Add(const std::string& remote) {
  if (!failed_.ok()) return;
  waiting_.push_back(remote);
  Pump();
}

void Transfers::FolderLister::Pump() {
  while (failed_.ok()) {
    SendWhatFits();
    if (in_flight_.empty()) return;
    auto arrived = connection_.Arrived();
    if (!arrived.ok()) {
      failed_ = arrived.status();
      return;
    }
    if (!*arrived) return;
    ReceiveOldest();
  }
}

void Transfers::FolderLister::SendWhatFits() {
  while (failed_.ok() && !waiting_.empty() && in_flight_.size() < kWindow) {
    auto id = connection_.Send(protocol::ListRequest{waiting_.front(), ""}.Encode());
    if (!id.ok()) {
      failed_ = id.status();
      return;
    }
    in_flight_.emplace_back(*id, std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

Status Transfers::FolderLister::Finish() {
  while (failed_.ok() && (!waiting_.empty() || !in_flight_.empty())) {
    SendWhatFits();
    if (!in_flight_.empty() && failed_.ok()) ReceiveOldest();
  }
  // Read the answers still on their way after a failure, so the next command gets its own.
  while (!in_flight_.empty() && connection_.connected()) {
    connection_.ReceiveStream(in_flight_.front().first, [](const protocol::Frame&) { return Status::Ok(); });
    in_flight_.pop_front();
  }
  in_flight_.clear();
  waiting_.clear();
  return failed_;
}

void Transfers::FolderLister::ReceiveOldest() {
  auto [id, remote] = std::move(in_flight_.front());
  in_flight_.pop_front();
  RemoteFolders::mapped_type entries;
  bool is_folder = true;
  Status unreadable = Status::Ok();
  // Every frame of the stream is read, a bad one too, so the replies after it stay in step.
  Status status = connection_.ReceiveStream(id, [&](const protocol::Frame& frame) {
    auto batch = protocol::ListReply::Parse(frame.header, frame.body);
    if (!batch.ok()) {
      if (unreadable.ok()) unreadable = batch.status();
      return Status::Ok();
    }
    is_folder = !batch->file;
    if (entries.empty()) {
      entries = std::move(batch->entries);
    } else {
      entries.insert(entries.end(), std::make_move_iterator(batch->entries.begin()),
                     std::make_move_iterator(batch->entries.end()));
    }
    return Status::Ok();
  });
  if (status.ok()) status = unreadable;
  if (!status.ok() && status.code() != ErrorCode::kNotFound) {
    failed_ = status;
    return;
  }
  if (!status.ok()) connection_.ForgetRefusal();  // a folder still to be made
  if (!status.ok() || !is_folder) return;
  // In name order (the server lists in its directory's order); of two entries with one name (which a server should
  // not send), the first is kept.
  const auto by_name = [](const protocol::DirectoryEntry& a, const protocol::DirectoryEntry& b) {
    return a.name < b.name;
  };
  std::stable_sort(entries.begin(), entries.end(), by_name);
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const protocol::DirectoryEntry& a, const protocol::DirectoryEntry& b) {
                              return a.name == b.name;
                            }),
                entries.end());
  listed_.emplace(std::move(remote), std::move(entries));
}

Result<bool> Transfers::SameChecksum(const std::string& remote, const std::string& path,
                                     transfer::ChecksumAlgorithm algorithm) {
  auto theirs = connection().Call<protocol::SumReply>(
      protocol::SumRequest{remote, std::string(transfer::ChecksumName(algorithm)), std::nullopt});
  if (!theirs.ok()) return theirs.status();
  auto ours = LocalChecksum(path, algorithm);
  if (!ours.ok()) return ours.status();
  return theirs->checksum == *ours;
}

Status Transfers::UploadTree(const std::string& local_root, const std::string& remote_root,
                             const TransferOptions& options) {
  Connection& c = connection();
  Status first_failure = Status::Ok();
  // Into a folder that exists: compare with what it holds (a first copy lists nothing). Each folder is listed as
  // the local scan finds it, so the server lists while this side scans.
  auto existed = RemoteIsDirectory(remote_root);
  if (!existed.ok()) return existed.status();
  RemoteFolders remote;
  FolderLister lister(c, remote);
  LocalTree tree;
  const Status scanned_tree = ScanLocalTree(
      local_root, remote_root, tree, [&](const std::string& folder) { if (*existed) lister.Add(folder); },
      [&] { if (*existed) lister.Pump(); });
  const Status listing = lister.Finish();
  if (!scanned_tree.ok()) return scanned_tree;
  if (!listing.ok()) return listing;
  first_failure = tree.unreadable;
  const std::size_t scanned = tree.files.size();
  std::size_t unchanged = 0;
  if (!remote.empty() && !options.resume) {  // -c has its own check: the same checksum
    // Each file is looked for in its folder's listing, under its name. The files of a folder are next to each
    // other, so its listing is found once.
    std::vector<LocalFile> changed;
    std::uint32_t folder_of_listing = 0;
    const RemoteFolders::mapped_type* folder_entries = nullptr;
    for (std::size_t i = 0; i < tree.files.size(); ++i) {
      LocalFile& file = tree.files[i];
      if (i == 0 || file.folder != folder_of_listing) {
        folder_of_listing = file.folder;
        const auto listed = remote.find(tree.folders[file.folder].second);
        folder_entries = listed == remote.end() ? nullptr : &listed->second;
      }
      const protocol::DirectoryEntry* entry =
          folder_entries != nullptr ? FindEntry(*folder_entries, file.name) : nullptr;
      bool same = entry != nullptr && entry->type == protocol::EntryType::kFile && entry->size == file.size;
      if (same && options.checksum) {
        PlaceFile(tree, file);
        auto equal = SameChecksum(file.remote, file.path, options.algorithm);
        if (!equal.ok()) return equal.status();
        same = *equal;
      } else if (same) {
        same = entry->mtime == file.mtime;  // whole seconds, as rsync compares
      }
      if (same) {
        ++unchanged;
        tree.total -= file.size;
      } else {
        changed.push_back(std::move(file));
      }
    }
    tree.files = std::move(changed);
  }
  for (LocalFile& file : tree.files) {
    if (file.path.empty()) PlaceFile(tree, file);
  }
  // With --delete, what the server's folders hold that the local ones do not.
  std::vector<std::string> extra;
  if (options.delete_extra) {
    for (const auto& [local, remote_folder] : tree.folders) {
      const auto listed = remote.find(remote_folder);
      if (listed == remote.end()) continue;
      const std::set<std::string> names = LocalNames(local);
      for (const auto& entry : listed->second) {
        if (names.count(entry.name) == 0) extra.push_back(JoinPath(remote_folder, entry.name));
      }
    }
  }
  if (options.dry_run) {
    for (const auto& file : tree.files) DryRunLine("would upload", file.remote);
    for (const auto& path : extra) DryRunLine("would delete", path);
    Note(fmt::format("dry run: {} of {} files to upload ({}), {} unchanged, {} to delete; nothing was changed",
                     tree.files.size(), scanned, HumanBytes(static_cast<double>(tree.total)), unchanged, extra.size()));
    failed_in_part_ = !tree.unreadable.ok();  // as the real run would
    return tree.unreadable;
  }
  // Folders first, so every file has its folder; those the listing found are there already.
  LocalTree missing;
  for (const auto& folder : tree.folders) {
    if (remote.count(folder.second) == 0) missing.folders.push_back(folder);
  }
  MakeRemoteFolders(missing, first_failure);
  if (!c.connected()) return first_failure;
  ProgressBar bar(ProgressBar::ModeFor(options.quiet), "uploaded", tree.total, tree.files.size());
  already_complete_ = 0;
  UploadFiles(tree, options, bar, first_failure);
  // Removed last, so a failed upload leaves the old copy's files in place.
  std::size_t deleted = 0;
  for (const auto& path : extra) {
    if (!c.connected()) break;
    auto reply = c.Call(protocol::RmRequest{path, true}.Encode());
    if (reply.ok()) {
      ++deleted;
    } else {
      Warn(fmt::format("{}: {}", path, reply.status().message()));
      if (first_failure.ok()) first_failure = reply.status();
    }
  }
  // Folder modes and times last: adding files changes a folder's mtime. A folder whose entry in its parent's
  // listing has them already, and that nothing was added to or removed from, is left alone.
  const auto parent_of = [](const std::string& path) {
    const std::size_t slash = path.find_last_not_of('/') == std::string::npos
                                  ? std::string::npos
                                  : path.rfind('/', path.find_last_not_of('/'));
    return slash == std::string::npos ? std::string() : path.substr(0, path.find_last_not_of('/', slash) + 1);
  };
  const auto without_slash = [](std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
  };
  std::set<std::string> touched;  // folders something was added to or removed from
  for (const auto& file : tree.files) touched.insert(parent_of(file.remote));
  for (const auto& path : extra) touched.insert(parent_of(path));
  for (const auto& folder : missing.folders) touched.insert(parent_of(folder.second));
  std::map<std::string, const protocol::DirectoryEntry*> listed_folders;
  for (const auto& [folder, entries] : remote) {
    for (const auto& entry : entries) {
      if (entry.type == protocol::EntryType::kDirectory) {
        listed_folders.emplace(without_slash(JoinPath(folder, entry.name)), &entry);
      }
    }
  }
  for (auto it = tree.folders.rbegin(); it != tree.folders.rend() && c.connected(); ++it) {
    struct stat st {};
    if (::stat(it->first.c_str(), &st) != 0) continue;
    const std::string folder = without_slash(it->second);
    const auto listed = touched.count(folder) > 0 ? listed_folders.end() : listed_folders.find(folder);
    if (listed != listed_folders.end() && listed->second->mode == (st.st_mode & 07777) &&
        listed->second->mtime == st.st_mtim.tv_sec &&
        listed->second->mtime_nsec == static_cast<std::uint32_t>(st.st_mtim.tv_nsec)) {
      continue;
    }
    auto reply = c.Call(protocol::SetStatRequest{it->second, static_cast<std::uint32_t>(st.st_mode & 07777),
                                                 st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)}
                            .Encode());
    if (!reply.ok() && first_failure.ok()) first_failure = reply.status();
  }
  bar.Finish(first_failure.ok() && c.connected());
  if (already_complete_ > 0 && !options.quiet) {
    Note(fmt::format("{} of {} files were already complete on the server (same checksum) and were not sent",
                     already_complete_, tree.files.size()));
  }
  if (unchanged > 0 && !options.quiet) {
    Note(fmt::format("{} of {} files were unchanged (same size and {}) and were not sent", unchanged, scanned,
                     options.checksum ? "checksum" : "modification time"));
  }
  if (deleted > 0 && !options.quiet) Note(fmt::format("{} removed from the server (--delete)", deleted));
  if (!c.connected() && first_failure.ok()) return Status(ErrorCode::kIo, "connection lost during the upload");
  failed_in_part_ = !first_failure.ok();  // files, folders or removals of the tree, each reported
  return first_failure;
}

// ---- downloads ----

Status Transfers::Get(const std::string& remote, const std::string& local_arg, const TransferOptions& options) {
  pace_.Start(options.limit_rate);
  failed_in_part_ = false;
  auto stat = connection().Call<protocol::StatReply>(protocol::StatRequest{remote});
  if (!stat.ok()) return stat.status();
  const protocol::DirectoryEntry& entry = stat->entry;
  std::string local = local_arg;
  std::error_code error;
  if (local_arg.empty() || fs::is_directory(local_arg, error)) {
    auto name = NameOfCopy(remote);
    if (!name.ok()) return name.status();
    local = local_arg.empty() ? *name : JoinPath(local_arg, *name);
  }
  if (entry.type == protocol::EntryType::kDirectory) {
    if (!options.recursive) return Status(ErrorCode::kIsDirectory, fmt::format("{} is a folder (use get -r)", remote));
    // `get -r tree dest` made dest itself the copy when dest did not exist; once interrupted, dest exists, and the
    // same command would start over in dest/tree. With -c, a dest that holds only names of the tree (and partial
    // files of them) is that copy: continue in it.
    if (options.resume && local != local_arg && !fs::exists(local, error)) {
      auto interrupted = IsInterruptedCopyOf(remote, local_arg);
      if (!interrupted.ok()) return interrupted.status();
      if (*interrupted) local = local_arg;
    }
    return DownloadTree(remote, local, options);
  }
  auto target = ResolveLocalTarget(local);
  if (!target.ok()) return target.status();
  const RemoteFile file{remote, target->path, entry.size, target->direct};
  if (file.direct && options.resume) return Status(ErrorCode::kInvalid, fmt::format("cannot resume into {}", local));
  ProgressBar bar(ProgressBar::ModeFor(options.quiet), "downloaded", file.size);
  bar.StartFile(BaseName(remote));
  Status status = WithRetries(options, [&](bool resume) { return DownloadFile(file, resume, options, bar); });
  bar.Finish(status.ok());
  return status;
}

Status Transfers::DownloadFile(const RemoteFile& file, bool resume, const TransferOptions& options, ProgressBar& bar) {
  const std::string partial = PartialPathFor(file.local);
  Connection& c = connection();
  transfer::Checksum checksum(options.algorithm);
  std::uint64_t offset = 0;
  struct stat st {};
  if (resume && ::stat(partial.c_str(), &st) == 0 && st.st_size > 0) {
    // Continue only if the server's file still starts with what we have.
    UniqueFd fd(::open(partial.c_str(), O_RDONLY | O_CLOEXEC));
    const auto have = static_cast<std::uint64_t>(st.st_size);
    auto reply = c.Call(protocol::SumRequest{file.remote, AlgorithmName(options.algorithm), have}.Encode());
    // The server's refusal (the file shrank, went away) means starting again; a reply without its fields is an error.
    Result<protocol::SumReply> theirs = reply.ok() ? protocol::SumReply::Parse(*reply) : reply.status();
    if (reply.ok() && !theirs.ok()) return theirs.status();
    if (fd.valid() && HashPrefix(fd.get(), have, checksum).ok() && theirs.ok() &&
        theirs->checksum == checksum.HexDigest()) {
      offset = have;
      bar.Skip(have);
    } else {
      if (!c.connected()) return theirs.status();
      Warn(fmt::format("{}: the source changed since the interrupted download; starting again from zero",
                       file.remote));
      checksum = transfer::Checksum(options.algorithm);
    }
  }
  auto id = c.Send(protocol::GetRequest{file.remote, offset, AlgorithmName(options.algorithm)}.Encode());
  if (!id.ok()) return id.status();
  return ReceiveDownload(*id, file, partial, offset, std::move(checksum), bar);
}

Status Transfers::ReceiveDownload(std::uint64_t id, const RemoteFile& file, const std::string& partial,
                                  std::uint64_t offset, transfer::Checksum checksum, ProgressBar& bar) {
  Connection& c = connection();
  auto head_frame = c.AwaitReply(id);
  if (!head_frame.ok()) return head_frame.status();
  auto head = protocol::GetHeadReply::Parse(head_frame->header);
  if (!head.ok()) {
    if (StreamGoesOn(head_frame->header)) DrainStream(id);
    return head.status();
  }
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0);
  UniqueFd out(!file.direct ? ::open(partial.c_str(), flags, 0600)
               : file.local == "-" || file.local == "/dev/stdout"
                   ? ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)  // this process's own stdout, wherever it goes
                   : ::open(file.local.c_str(), O_WRONLY | O_CLOEXEC));
  if (!out.valid()) {
    const Status error = Status::FromErrno(errno, file.local);  // the name asked for, not the hidden partial
    DrainStream(id);
    return error;
  }
  std::uint64_t position = offset;
  // Data goes from the socket's buffer to the file and the checksum, piece by piece, never gathered in memory.
  Status written;
  const auto take = [&](std::string_view piece) {
    if (InterruptRequested()) {
      written = Status(ErrorCode::kIo, "interrupted");
      return false;
    }
    written = file.direct ? WriteSequential(out.get(), piece, file.local)
                          : WriteAt(out.get(), piece, position, file.local);
    if (!written.ok()) return false;
    checksum.Update(piece);
    position += piece.size();
    bar.Advance(piece.size());
    pace_.Took(piece.size());
    return true;
  };
  while (true) {
    auto frame = c.AwaitReplyStreaming(id, take);
    if (!frame.ok()) return frame.status();
    if (!written.ok()) {
      // A local write failed: read the rest of the stream so the connection stays in step.
      if (StreamGoesOn(frame->header)) DrainStream(id);
      return written;
    }
    auto more = protocol::MoreFollows(frame->header);
    if (!more.ok()) return more.status();
    if (!*more) {
      auto tail = protocol::GetTailReply::Parse(frame->header);
      if (!tail.ok()) return tail.status();
      if (tail->checksum != checksum.HexDigest()) {
        if (!file.direct) ::unlink(partial.c_str());
        return Status(ErrorCode::kIo, fmt::format("{}: checksum mismatch, the data was corrupted in transit; the "
                                                  "partial download was discarded",
                                                  file.remote));
      }
      break;
    }
  }
  if (file.direct) return Status::Ok();
  // A download from zero wrote a truncated file from its start: its size is already right.
  if (offset > 0 && ::ftruncate(out.get(), static_cast<off_t>(position)) != 0) {
    return Status::FromErrno(errno, file.local);
  }
  ApplyTimesAndMode(out.get(), head->mode, head->mtime, head->mtime_nsec);
  // A name that was free is taken only if it still is; otherwise, and for a name in use, what is there is looked at.
  if (file.absent && ::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, file.local.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  // Only a regular file, or nothing, is ever replaced (something else may have taken the name meanwhile).
  struct stat there {};
  if (::lstat(file.local.c_str(), &there) == 0 && !S_ISREG(there.st_mode)) {
    return Status(ErrorCode::kExists,
                  fmt::format("{}: not a regular file, so not replaced; the download is kept in {}", file.local,
                              partial));
  }
  if (::rename(partial.c_str(), file.local.c_str()) != 0) return Status::FromErrno(errno, file.local);
  return Status::Ok();
}

Status Transfers::DownloadTree(const std::string& remote_root, const std::string& local_root,
                               const TransferOptions& options) {
  Connection& c = connection();
  struct Folder {
    std::string remote;
    std::string local;
    protocol::DirectoryEntry entry;
    bool through_link = false;  // the local path passes a symbolic link below the root: --delete stays out of it
    bool made = false;          // made by this download: it held nothing before
  };
  std::vector<Folder> folders;
  std::vector<RemoteFile> files;
  std::uint64_t total = 0;
  auto root_stat = c.Call<protocol::StatReply>(protocol::StatRequest{remote_root});
  if (!root_stat.ok()) return root_stat.status();
  folders.push_back({remote_root, local_root, root_stat->entry});
  std::vector<std::set<std::string>> remote_names;  // what each of `folders` holds on the server
  for (std::size_t i = 0; i < folders.size(); ++i) {
    std::error_code error;
    if (!options.dry_run) {
      // Made here only when this mkdir made it: a path such as new/.. names a folder that was there before even
      // when a part of it had to be made, so that case (or any other) counts as not made.
      folders[i].made = ::mkdir(folders[i].local.c_str(), 0777) == 0;
      if (!folders[i].made) fs::create_directories(folders[i].local, error);
    }
    if (error) return Status(ErrorCode::kIo, fmt::format("{}: {}", folders[i].local, error.message()));
    const Folder folder = folders[i];  // copied: folders found below are appended while this one is read
    std::vector<protocol::DirectoryEntry> entries;
    Status listed = c.CallStream(protocol::ListRequest{folder.remote, ""}.Encode(), [&](const protocol::Frame& frame) {
      auto batch = protocol::ListReply::Parse(frame.header, frame.body);
      if (!batch.ok()) return batch.status();
      std::move(batch->entries.begin(), batch->entries.end(), std::back_inserter(entries));
      return Status::Ok();
    });
    if (!listed.ok()) return listed;
    remote_names.emplace_back();
    for (const auto& entry : entries) {
      const std::string& name = entry.name;
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) continue;
      remote_names.back().insert(name);
      if (entry.type == protocol::EntryType::kDirectory) {
        const std::string local = JoinPath(folder.local, name);
        std::error_code link_error;
        folders.push_back({JoinPath(folder.remote, name), local, entry,
                           folder.through_link || (!folder.made && fs::is_symlink(local, link_error))});
      } else if (entry.type == protocol::EntryType::kFile) {
        // In a folder this download made, the name is free: nothing to resolve.
        auto target = folder.made ? Result<LocalTarget>(LocalTarget{JoinPath(folder.local, name), false})
                                  : ResolveLocalTarget(JoinPath(folder.local, name));
        if (!target.ok()) return target.status();
        files.push_back({JoinPath(folder.remote, name), target->path, entry.size, target->direct, entry.mtime,
                         entry.mtime_nsec, folder.made});
        total += files.back().size;
      } else {
        Warn(fmt::format("{}: not a regular file; skipped", JoinPath(folder.remote, name)));
      }
    }
  }

  // A file the local side already has with the same size and modification time (or checksum) is kept.
  const std::size_t listed_files = files.size();
  std::size_t unchanged = 0;
  if (!options.resume) {  // -c keeps a complete file by its own check, below
    std::vector<RemoteFile> changed;
    for (auto& file : files) {
      struct stat st {};
      bool same = !file.direct && !file.absent && ::stat(file.local.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                  static_cast<std::uint64_t>(st.st_size) == file.size;
      if (same && options.checksum) {
        auto equal = SameChecksum(file.remote, file.local, options.algorithm);
        if (!equal.ok()) return equal.status();
        same = *equal;
      } else if (same) {
        same = st.st_mtim.tv_sec == file.mtime;  // whole seconds, as rsync compares
      }
      if (same) {
        ++unchanged;
        total -= file.size;
      } else {
        changed.push_back(std::move(file));
      }
    }
    files = std::move(changed);
  }
  // With --delete, what the local folders hold that the server's do not (a partial download of a name the server
  // has stays, for -c).
  std::vector<std::string> extra;
  if (options.delete_extra) {
    for (std::size_t i = 0; i < folders.size(); ++i) {
      if (folders[i].through_link) {
        Warn(fmt::format("{}: a symbolic link; nothing is removed behind it", folders[i].local));
        continue;
      }
      for (const std::string& name : LocalNames(folders[i].local)) {
        const std::string_view of = PartialOf(name);
        if (remote_names[i].count(name) > 0 || (!of.empty() && remote_names[i].count(std::string(of)) > 0)) continue;
        extra.push_back(JoinPath(folders[i].local, name));
      }
    }
  }
  if (options.dry_run) {
    for (const auto& file : files) DryRunLine("would download", file.remote);
    for (const auto& path : extra) DryRunLine("would delete", path);
    Note(fmt::format("dry run: {} of {} files to download ({}), {} unchanged, {} to delete; nothing was changed",
                     files.size(), listed_files, HumanBytes(static_cast<double>(total)), unchanged, extra.size()));
    return Status::Ok();
  }

  ProgressBar bar(ProgressBar::ModeFor(options.quiet), "downloaded", total, files.size());
  Status first_failure = Status::Ok();
  auto record = [&](const RemoteFile& file, const Status& status) {
    if (status.ok()) return;
    Warn(fmt::format("{}: {}", file.remote, status.message()));
    if (first_failure.ok()) first_failure = status;
  };
  std::size_t complete = 0;  // with -c, files found already downloaded
  // Gets are pipelined: up to kWindow requests in flight, their streams read in order. The window is filled again
  // once half of it is answered, and a refill goes out in one write.
  std::deque<std::pair<std::uint64_t, std::size_t>> in_flight;
  std::size_t next = 0;
  while ((next < files.size() || !in_flight.empty()) && c.connected()) {
    if (in_flight.size() <= kWindow / 2 && next < files.size() && !options.resume) {
      Connection::Gathering refill(c);  // sent as it ends
      while (next < files.size() && in_flight.size() < kWindow) {
        auto id = c.Send(protocol::GetRequest{files[next].remote, 0, AlgorithmName(options.algorithm)}.Encode());
        if (!id.ok()) break;
        in_flight.emplace_back(*id, next++);
      }
    }
    if (options.resume && in_flight.empty() && next < files.size()) {
      const RemoteFile& file = files[next++];
      bar.StartFile(file.remote);
      // A file a download completed has the server's size and modification time: kept as it is.
      struct stat st {};
      if (!file.direct && ::stat(file.local.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          static_cast<std::uint64_t>(st.st_size) == file.size && st.st_mtim.tv_sec == file.mtime &&
          static_cast<std::uint32_t>(st.st_mtim.tv_nsec) == file.mtime_nsec) {
        bar.Skip(file.size);
        ++complete;
      } else {
        record(file, DownloadFile(file, true, options, bar));
      }
      bar.FinishFile();
      continue;
    }
    if (in_flight.empty()) break;
    const auto [id, index] = in_flight.front();
    in_flight.pop_front();
    const RemoteFile& file = files[index];
    bar.StartFile(file.remote);
    record(file, ReceiveDownload(id, file, PartialPathFor(file.local), 0, transfer::Checksum(options.algorithm), bar));
    bar.FinishFile();
  }
  // Removed after the downloads, so a failed one leaves the old copy's files in place; a link is removed, never
  // followed.
  std::size_t deleted = 0;
  if (c.connected()) {
    for (const std::string& path : extra) {
      std::error_code error;
      fs::remove_all(path, error);
      if (error) {
        Warn(fmt::format("{}: {}", path, error.message()));
        if (first_failure.ok()) first_failure = Status(ErrorCode::kIo, fmt::format("{}: {}", path, error.message()));
      } else {
        ++deleted;
      }
    }
  }
  // Folder modes and times last, deepest first.
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    UniqueFd fd(::open(it->local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.valid()) {
      ApplyTimesAndMode(fd.get(), it->entry.mode, it->entry.mtime, it->entry.mtime_nsec);
    }
  }
  bar.Finish(first_failure.ok() && c.connected());
  if (complete > 0 && !options.quiet) {
    Note(fmt::format("{} of {} files were already complete (same size and time) and were kept", complete,
                     files.size()));
  }
  if (unchanged > 0 && !options.quiet) {
    Note(fmt::format("{} of {} files were unchanged (same size and {}) and were kept", unchanged, listed_files,
                     options.checksum ? "checksum" : "modification time"));
  }
  if (deleted > 0 && !options.quiet) Note(fmt::format("{} removed here (--delete)", deleted));
  if (!c.connected() && first_failure.ok()) return Status(ErrorCode::kIo, "connection lost during the download");
  failed_in_part_ = !first_failure.ok();
  return first_failure;
}

}  // namespace ferry::client
