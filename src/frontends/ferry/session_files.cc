// Session: the file operations, each a parse of its request, one call to the file service and its reply.
#include <fmt/format.h>

#include "common/glob.h"
#include "frontends/ferry/session.h"
#include "frontends/ferry/wire_fields.h"
#include "protocol/file_operations.h"
#include "protocol/reply_fields.h"
#include "protocol/session_operations.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;
using Fields = protocol::RequestFields;

Result<Json> Pwd(Session& session, const Json& /*id*/, const Fields& /*fields*/) {
  return AsFields(protocol::PwdReply{session.cwd()});
}

Result<Json> Whoami(Session& session, const Json& /*id*/, const Fields& /*fields*/) {
  return AsFields(protocol::WhoamiReply{session.user().user()});
}

Result<Json> ChangeDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::CdRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto resolved = session.user().ResolveDirectory(session.PathOf(request->path));
  if (!resolved.ok()) return resolved.status();
  session.set_cwd(std::move(resolved).value());
  return AsFields(protocol::CdReply{session.cwd()});
}

// What the link at `path` says, for ls -l and stat ("" if it cannot be read: the entry is still listed).
std::string LinkText(Session& session, const std::string& path) {
  auto text = session.user().ReadLink(path);
  return text.ok() ? *text : std::string();
}

Result<Json> Stat(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::StatRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  const std::string path = session.PathOf(request->path);
  auto info = session.user().Stat(path);
  if (!info.ok()) return info.status();
  protocol::DirectoryEntry entry = EntryOf(*info);
  if (entry.type == protocol::EntryType::kLink) entry.target = LinkText(session, path);
  return AsFields(protocol::StatReply{std::move(entry)});
}

asio::awaitable<void> List(Session& session, const Json& id, const Fields& fields) {
  auto request = protocol::ListRequest::Parse(fields.header());
  if (!request.ok()) {
    session.ReplyError(id, request.status());
    co_return;
  }
  const std::string path = session.PathOf(request->path);
  // A file lists as itself, like ls(1); a pattern matches names in a folder, which may be a link to one (inside the
  // home, as every path).
  if (auto info = session.user().Stat(path, /*follow=*/!request->match.empty());
      info.ok() && info->type != service::FileType::kDirectory) {
    if (!request->match.empty()) {
      session.ReplyError(id, Status(ErrorCode::kNotDirectory, fmt::format("{}: not a folder", request->path)));
      co_return;
    }
    protocol::ListReply reply{false, true, {EntryOf(*info)}};
    if (info->type == service::FileType::kSymlink) reply.entries.front().target = LinkText(session, path);
    session.Reply(protocol::OkReply(id, reply), reply.EncodeBody());
    co_return;
  }
  auto lister = session.user().OpenDirectory(path);
  if (!lister.ok()) {
    session.ReplyError(id, lister.status());
    co_return;
  }
  // One frame per batch, "more": true on all but the last, each written before the next batch is read.
  while (true) {
    auto batch = lister->Next(protocol::kListBatchSize);
    if (!batch.ok()) {
      session.ReplyError(id, batch.status());
      co_return;
    }
    protocol::ListReply reply;
    reply.more = batch->size() == protocol::kListBatchSize;
    reply.entries.reserve(batch->size());
    for (const auto& info : *batch) {
      if (!request->match.empty() && !GlobMatches(request->match, info.name)) continue;
      reply.entries.push_back(EntryOf(info));
      protocol::DirectoryEntry& entry = reply.entries.back();
      if (entry.type == protocol::EntryType::kLink) {
        entry.target = LinkText(session, path.ends_with('/') ? path + info.name : path + "/" + info.name);
      }
    }
    session.Reply(protocol::OkReply(id, reply), reply.EncodeBody());
    if (!reply.more || !co_await session.FlushIfFull()) co_return;
  }
}

Result<Json> Quota(Session& session, const Json& /*id*/, const Fields& /*fields*/) {
  auto quota = session.user().Quota();
  if (!quota.ok()) return quota.status();
  return AsFields(protocol::QuotaReply{quota->usage.bytes, quota->usage.reserved_bytes, quota->limits.max_bytes,
                                       quota->usage.entries, quota->usage.reserved_entries, quota->limits.max_files});
}

Result<Json> MakeDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::MkdirRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  if (Status s = session.user().MakeDirectory(session.PathOf(request->path), request->parents); !s.ok()) return s;
  return Json::object();
}

Result<Json> MakeSymlink(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::SymlinkRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  if (Status s = session.user().MakeSymlink(session.PathOf(request->path), request->target); !s.ok()) return s;
  return Json::object();
}

// A server-side copy, in steps of kCopyStep with a turn for the loop's other sessions between them.
asio::awaitable<void> Copy(Session& session, const Json& id, const Fields& fields) {
  constexpr std::uint64_t kCopyStep = 16ull << 20;
  auto request = protocol::CpRequest::Parse(fields.header());
  if (!request.ok()) {
    session.ReplyError(id, request.status());
    co_return;
  }
  auto copy = session.user().BeginCopy(session.PathOf(request->from), session.PathOf(request->to), request->preserve,
                                       request->no_clobber, request->exact);
  if (!copy.ok()) {
    session.ReplyError(id, copy.status());
    co_return;
  }
  while (true) {
    auto done = copy->Step(kCopyStep);
    if (!done.ok()) {
      session.ReplyError(id, done.status());
      co_return;
    }
    if (*done) break;
    co_await session.TakeTurns();
  }
  auto published = copy->Commit();
  if (!published.ok()) {
    session.ReplyError(id, published.status());
    co_return;
  }
  session.Reply(protocol::OkReply(id, protocol::CpReply{copy->path(), published->size}));
}

Result<Json> RemoveDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::RmdirRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  if (Status s = session.user().RemoveDirectory(session.PathOf(request->path)); !s.ok()) return s;
  return Json::object();
}

Result<Json> Remove(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::RmRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  if (Status s = session.user().Remove(session.PathOf(request->path), request->recursive); !s.ok()) return s;
  return Json::object();
}

Result<Json> Rename(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::MvRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  Status moved =
      session.user().Rename(session.PathOf(request->from), session.PathOf(request->to), request->overwrite);
  if (!moved.ok()) return moved;
  return Json::object();
}

Result<Json> SetStat(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::SetStatRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  std::optional<std::uint32_t> mode;
  if (request->mode) mode = *request->mode & 0777;
  std::optional<timespec> mtime;
  if (request->mtime) mtime = timespec{*request->mtime, static_cast<long>(request->mtime_nsec)};
  if (Status s = session.user().SetAttributes(session.PathOf(request->path), mode, mtime); !s.ok()) return s;
  return Json::object();
}

Result<Json> Sum(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::SumRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto algorithm = AlgorithmOf(request->algo);
  if (!algorithm.ok()) return algorithm.status();
  auto sum = session.user().Checksum(session.PathOf(request->path), *algorithm, request->length);
  if (!sum.ok()) return sum.status();
  return AsFields(
      protocol::SumReply{std::move(sum->checksum), std::string(transfer::ChecksumName(sum->algorithm)), sum->size});
}

}  // namespace

std::span<const Session::Operation> FileOperations() {
  using enum Session::Operation::StateBits;
  static constexpr Session::Operation kOperations[] = {
      {"stat", kLoggedIn, &Stat, nullptr, nullptr},
      {"ls", kLoggedIn, nullptr, &List, nullptr},
      {"sum", kLoggedIn, &Sum, nullptr, nullptr},
      {"cd", kLoggedIn, &ChangeDirectory, nullptr, nullptr},
      {"pwd", kLoggedIn, &Pwd, nullptr, nullptr},
      {"mkdir", kLoggedIn, &MakeDirectory, nullptr, nullptr},
      {"cp", kLoggedIn, nullptr, &Copy, nullptr},
      {"rm", kLoggedIn, &Remove, nullptr, nullptr},
      {"rmdir", kLoggedIn, &RemoveDirectory, nullptr, nullptr},
      {"mv", kLoggedIn, &Rename, nullptr, nullptr},
      {"symlink", kLoggedIn, &MakeSymlink, nullptr, nullptr},
      {"setstat", kLoggedIn, &SetStat, nullptr, nullptr},
      {"quota", kLoggedIn, &Quota, nullptr, nullptr},
      {"whoami", kLoggedIn, &Whoami, nullptr, nullptr},
  };
  return kOperations;
}

}  // namespace ferry::frontends::native
