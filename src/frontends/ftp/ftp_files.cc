// The commands that work on files and folders over the control connection alone.
#include <fmt/format.h>

#include "frontends/ftp/ftp_session.h"
#include "transfer/checksum.h"

namespace ferry::frontends::ftp {

void FtpSession::Pwd(std::string_view /*argument*/) {
  Reply(257, QuotePath(cwd_) + " is the current folder.");
}

asio::awaitable<void> FtpSession::Cwd(std::string_view argument) {
  auto folder = user_->ResolveDirectory(PathOf(argument));
  if (!folder.ok()) {
    ReplyError(folder.status());
    co_return;
  }
  cwd_ = std::move(folder).value();
  Reply(250, fmt::format("Folder changed to {}.", cwd_));
}

asio::awaitable<void> FtpSession::Cdup(std::string_view /*argument*/) { co_await Cwd(".."); }

asio::awaitable<void> FtpSession::Mkd(std::string_view argument) {
  if (argument.empty()) {
    Reply(501, "MKD wants a folder name.");
    co_return;
  }
  const std::string path = PathOf(argument);
  if (Status s = user_->MakeDirectory(path, false); !s.ok()) {
    ReplyError(s);
    co_return;
  }
  Reply(257, QuotePath(path) + " created.");
}

asio::awaitable<void> FtpSession::Rmd(std::string_view argument) {
  if (argument.empty()) {
    Reply(501, "RMD wants a folder name.");
    co_return;
  }
  if (Status s = user_->RemoveDirectory(PathOf(argument)); !s.ok()) {
    ReplyError(s);
    co_return;
  }
  Reply(250, "Folder removed.");
}

asio::awaitable<void> FtpSession::Dele(std::string_view argument) {
  if (argument.empty()) {
    Reply(501, "DELE wants a file name.");
    co_return;
  }
  const std::string path = PathOf(argument);
  // DELE removes files (and links); a folder is RMD's.
  auto info = user_->Stat(path);
  if (info.ok() && info->type == service::FileType::kDirectory) {
    Reply(550, fmt::format("is a folder (use RMD): {}", path));
    co_return;
  }
  if (Status s = user_->Remove(path, false); !s.ok()) {
    ReplyError(s);
    co_return;
  }
  Reply(250, "File deleted.");
}

asio::awaitable<void> FtpSession::Rnfr(std::string_view argument) {
  const std::string path = PathOf(argument);
  if (argument.empty()) {
    Reply(501, "RNFR wants a name.");
    co_return;
  }
  auto info = user_->StatRenameSource(path);
  if (!info.ok()) {
    ReplyError(info.status());
    co_return;
  }
  rename_from_ = path;
  Reply(350, "Ready for RNTO.");
}

asio::awaitable<void> FtpSession::Rnto(std::string_view argument) {
  if (rename_from_.empty()) {
    Reply(503, "Send RNFR first.");
    co_return;
  }
  if (argument.empty()) {
    Reply(501, "RNTO wants a name.");
    co_return;
  }
  const std::string from = std::move(rename_from_);
  rename_from_.clear();
  // As rename(2) and every FTP server: an existing file of the new name is replaced.
  if (Status s = user_->Rename(from, PathOf(argument), true); !s.ok()) {
    ReplyError(s);
    co_return;
  }
  Reply(250, "Renamed.");
}

asio::awaitable<void> FtpSession::Size(std::string_view argument) {
  auto info = user_->Stat(PathOf(argument));
  if (!info.ok()) {
    // No file, but an interrupted upload of it: its size is where a resume (APPE, REST + STOR) starts, which is
    // what clients ask SIZE for before resuming (curl -C - -T, lftp reput).
    if (auto kept = user_->UnfinishedUploadSize(PathOf(argument));
        info.status().code() == ErrorCode::kNotFound && kept.ok()) {
      Reply(213, std::to_string(*kept));
      co_return;
    }
    ReplyError(info.status());
    co_return;
  }
  if (info->type != service::FileType::kFile) {
    Reply(550, fmt::format("not a regular file: {}", PathOf(argument)));
    co_return;
  }
  Reply(213, std::to_string(info->size));
}

asio::awaitable<void> FtpSession::Mdtm(std::string_view argument) {
  auto info = user_->Stat(PathOf(argument));
  if (!info.ok()) {
    ReplyError(info.status());
    co_return;
  }
  Reply(213, FormatTimeVal(info->mtime));
}

asio::awaitable<void> FtpSession::Mfmt(std::string_view argument) {
  const std::size_t space = argument.find(' ');
  if (space == std::string_view::npos || space + 1 >= argument.size()) {
    Reply(501, "MFMT wants YYYYMMDDHHMMSS and a path.");
    co_return;
  }
  auto seconds = ParseTimeVal(argument.substr(0, space));
  if (!seconds.ok()) {
    Reply(501, seconds.status().message());
    co_return;
  }
  const std::string path = PathOf(argument.substr(space + 1));
  timespec mtime{};
  mtime.tv_sec = static_cast<time_t>(*seconds);
  if (Status s = user_->SetAttributes(path, std::nullopt, mtime); !s.ok()) {
    ReplyError(s);
    co_return;
  }
  Reply(213, fmt::format("Modify={}; {}", FormatTimeVal(*seconds), argument.substr(space + 1)));
}

asio::awaitable<void> FtpSession::Mlst(std::string_view argument) {
  const std::string path = PathOf(argument);
  auto info = user_->Stat(path);
  if (!info.ok()) {
    ReplyError(info.status());
    co_return;
  }
  Reply(250, fmt::format("Listing {}\n {}\nEnd", path, FormatFacts(*info, FactType(*info), writable(), path)));
}

asio::awaitable<void> FtpSession::Hash(std::string_view argument) {
  const std::string path = PathOf(argument);
  auto report = user_->Checksum(path, hash_md5_ ? transfer::ChecksumAlgorithm::kMd5 : transfer::ChecksumAlgorithm::kSha256,
                                std::nullopt);
  if (!report.ok()) {
    ReplyError(report.status());
    co_return;
  }
  // draft-bryan-ftpext-hash: "213 ALGORITHM START-END HASH NAME".
  Reply(213, fmt::format("{} 0-{} {} {}", hash_md5_ ? "MD5" : "SHA-256", report->size, report->checksum, argument));
}

asio::awaitable<void> FtpSession::Avbl(std::string_view /*argument*/) {
  auto quota = user_->Quota();
  if (!quota.ok()) {
    ReplyError(quota.status());
    co_return;
  }
  if (!quota->limits.max_bytes) {
    Reply(550, "No byte quota: the room left is the disk's.");
    co_return;
  }
  const std::uint64_t used = quota->usage.bytes + quota->usage.reserved_bytes;
  Reply(213, std::to_string(*quota->limits.max_bytes > used ? *quota->limits.max_bytes - used : 0));
}

}  // namespace ferry::frontends::ftp
