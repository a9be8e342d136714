// Session: the file operations, each a parse of its fields, one call to the file service and an encoded answer.
#include <fmt/format.h>

#include "frontends/ferry/session.h"
#include "frontends/ferry/wire_fields.h"
#include "service/paths.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;

using Fields = protocol::RequestFields;

Json QuotaLimit(const std::optional<std::uint64_t>& value) { return value ? Json(*value) : Json(nullptr); }

Result<Json> Pwd(Session& session, const Json& /*id*/, const Fields& /*fields*/) { return Json{{"path", session.cwd()}}; }

Result<Json> Whoami(Session& session, const Json& /*id*/, const Fields& /*fields*/) { return Json{{"user", session.user().user()}}; }

Result<Json> ChangeDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto resolved = session.user().ResolveDirectory(*path);
  if (!resolved.ok()) return resolved.status();
  session.set_cwd(std::move(resolved).value());
  return Json{{"path", session.cwd()}};
}

Result<Json> Stat(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto info = session.user().Stat(*path);
  if (!info.ok()) return info.status();
  Json reply(Json::value_t::object);
  reply.get_ref<Json::object_t&>().emplace("entry", EntryJson(*info));
  return reply;
}

asio::awaitable<void> List(Session& session, const Json& id, const Fields& fields) {
  auto path = session.PathField(fields, "path");
  if (!path.ok()) {
    session.ReplyError(id, path.status());
    co_return;
  }
  // A file lists as itself, like ls(1).
  if (auto info = session.user().Stat(*path); info.ok() && info->type != service::FileType::kDirectory) {
    Json reply = protocol::OkReply(id);
    reply["more"] = false;
    reply["file"] = true;
    session.Reply(std::move(reply), protocol::DumpJson(Json::array({EntryJson(*info)})));
    co_return;
  }
  auto lister = session.user().OpenDirectory(*path);
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
    const bool last = batch->size() < protocol::kListBatchSize;
    Json entries = Json::array();
    for (const auto& info : *batch) entries.push_back(EntryJson(info));
    Json reply = protocol::OkReply(id);
    reply["more"] = !last;
    session.Reply(std::move(reply), protocol::DumpJson(entries));
    if (last || !co_await session.FlushIfFull()) co_return;
  }
}

Result<Json> Quota(Session& session, const Json& /*id*/, const Fields& /*fields*/) {
  auto quota = session.user().Quota();
  if (!quota.ok()) return quota.status();
  return Json{{"bytes", quota->usage.bytes},
              {"bytes_reserved", quota->usage.reserved_bytes},
              {"max_bytes", QuotaLimit(quota->limits.max_bytes)},
              {"files", quota->usage.entries},
              {"files_reserved", quota->usage.reserved_entries},
              {"max_files", QuotaLimit(quota->limits.max_files)}};
}

Result<Json> MakeDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.RequiredPathField(fields, "path");
  auto parents = fields.OptionalBool("parents", false);
  if (!path.ok()) return path.status();
  if (!parents.ok()) return parents.status();
  if (Status s = session.user().MakeDirectory(*path, *parents); !s.ok()) return s;
  return Json::object();
}

Result<Json> RemoveDirectory(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.RequiredPathField(fields, "path");
  if (!path.ok()) return path.status();
  if (Status s = session.user().RemoveDirectory(*path); !s.ok()) return s;
  return Json::object();
}

Result<Json> Remove(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.RequiredPathField(fields, "path");
  auto recursive = fields.OptionalBool("recursive", false);
  if (!path.ok()) return path.status();
  if (!recursive.ok()) return recursive.status();
  if (Status s = session.user().Remove(*path, *recursive); !s.ok()) return s;
  return Json::object();
}

Result<Json> Rename(Session& session, const Json& /*id*/, const Fields& fields) {
  auto from = session.RequiredPathField(fields, "from");
  auto to = session.RequiredPathField(fields, "to");
  auto overwrite = fields.OptionalBool("overwrite", false);
  if (!from.ok()) return from.status();
  if (!to.ok()) return to.status();
  if (!overwrite.ok()) return overwrite.status();
  if (Status s = session.user().Rename(*from, *to, *overwrite); !s.ok()) return s;
  return Json::object();
}

Result<Json> SetStat(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.PathField(fields, "path");
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
  if (Status s = session.user().SetAttributes(*path, new_mode, new_mtime); !s.ok()) return s;
  return Json::object();
}

Result<Json> Sum(Session& session, const Json& /*id*/, const Fields& fields) {
  auto path = session.PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto algorithm = AlgorithmField(fields);
  if (!algorithm.ok()) return algorithm.status();
  auto length = OptionalInteger(fields, "length", -1, 0, kMaxFileSize);
  if (!length.ok()) return length.status();
  auto sum = session.user().Checksum(*path, *algorithm,
                             *length >= 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(*length))
                                          : std::nullopt);
  if (!sum.ok()) return sum.status();
  return Json{{"checksum", sum->checksum}, {"algo", transfer::ChecksumName(sum->algorithm)}, {"size", sum->size}};
}

}  // namespace

std::span<const Session::Operation> FileOperations() {
  using enum Session::Operation::StateBits;
  static constexpr Session::Operation kOperations[] = {
      {"stat", kLoggedIn, false, &Stat, nullptr, nullptr},
      {"ls", kLoggedIn, false, nullptr, &List, nullptr},
      {"sum", kLoggedIn, false, &Sum, nullptr, nullptr},
      {"cd", kLoggedIn, false, &ChangeDirectory, nullptr, nullptr},
      {"pwd", kLoggedIn, false, &Pwd, nullptr, nullptr},
      {"mkdir", kLoggedIn, true, &MakeDirectory, nullptr, nullptr},
      {"rm", kLoggedIn, true, &Remove, nullptr, nullptr},
      {"rmdir", kLoggedIn, true, &RemoveDirectory, nullptr, nullptr},
      {"mv", kLoggedIn, true, &Rename, nullptr, nullptr},
      {"setstat", kLoggedIn, true, &SetStat, nullptr, nullptr},
      {"quota", kLoggedIn, false, &Quota, nullptr, nullptr},
      {"whoami", kLoggedIn, false, &Whoami, nullptr, nullptr},
  };
  return kOperations;
}

}  // namespace ferry::frontends::native
