// Session: the file operations, each a parse of its fields, one call to the file service and an encoded answer.
#include <fmt/format.h>

#include "frontends/ferry/session.h"
#include "frontends/ferry/wire_fields.h"
#include "service/paths.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;

Json QuotaLimit(const std::optional<std::uint64_t>& value) { return value ? Json(*value) : Json(nullptr); }

}  // namespace

Result<Json> Session::Pwd(const Json& /*id*/, const Fields& /*fields*/) { return Json{{"path", cwd_}}; }

Result<Json> Session::Whoami(const Json& /*id*/, const Fields& /*fields*/) { return Json{{"user", user_->user()}}; }

Result<Json> Session::ChangeDirectory(const Json& /*id*/, const Fields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto resolved = user_->ResolveDirectory(*path);
  if (!resolved.ok()) return resolved.status();
  cwd_ = std::move(resolved).value();
  return Json{{"path", cwd_}};
}

Result<Json> Session::Stat(const Json& /*id*/, const Fields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto info = user_->Stat(*path);
  if (!info.ok()) return info.status();
  Json reply(Json::value_t::object);
  reply.get_ref<Json::object_t&>().emplace("entry", EntryJson(*info));
  return reply;
}

asio::awaitable<void> Session::List(const Json& id, const Fields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) {
    ReplyError(id, path.status());
    co_return;
  }
  // A file lists as itself, like ls(1).
  if (auto info = user_->Stat(*path); info.ok() && info->type != service::FileType::kDirectory) {
    Json reply = protocol::OkReply(id);
    reply["more"] = false;
    reply["file"] = true;
    Reply(std::move(reply), protocol::DumpJson(Json::array({EntryJson(*info)})));
    co_return;
  }
  auto lister = user_->OpenDirectory(*path);
  if (!lister.ok()) {
    ReplyError(id, lister.status());
    co_return;
  }
  // One frame per batch, "more": true on all but the last, each written before the next batch is read.
  while (true) {
    auto batch = lister->Next(protocol::kListBatchSize);
    if (!batch.ok()) {
      ReplyError(id, batch.status());
      co_return;
    }
    const bool last = batch->size() < protocol::kListBatchSize;
    Json entries = Json::array();
    for (const auto& info : *batch) entries.push_back(EntryJson(info));
    Json reply = protocol::OkReply(id);
    reply["more"] = !last;
    Reply(std::move(reply), protocol::DumpJson(entries));
    if (last || !co_await FlushIfFull()) co_return;
  }
}

Result<Json> Session::Quota(const Json& /*id*/, const Fields& /*fields*/) {
  auto quota = user_->Quota();
  if (!quota.ok()) return quota.status();
  return Json{{"bytes", quota->usage.bytes},
              {"bytes_reserved", quota->usage.reserved_bytes},
              {"max_bytes", QuotaLimit(quota->limits.max_bytes)},
              {"files", quota->usage.entries},
              {"files_reserved", quota->usage.reserved_entries},
              {"max_files", QuotaLimit(quota->limits.max_files)}};
}

Result<Json> Session::MakeDirectory(const Json& /*id*/, const Fields& fields) {
  auto path = RequiredPathField(fields, "path");
  auto parents = fields.OptionalBool("parents", false);
  if (!path.ok()) return path.status();
  if (!parents.ok()) return parents.status();
  if (Status s = user_->MakeDirectory(*path, *parents); !s.ok()) return s;
  return Json::object();
}

Result<Json> Session::RemoveDirectory(const Json& /*id*/, const Fields& fields) {
  auto path = RequiredPathField(fields, "path");
  if (!path.ok()) return path.status();
  if (Status s = user_->RemoveDirectory(*path); !s.ok()) return s;
  return Json::object();
}

Result<Json> Session::Remove(const Json& /*id*/, const Fields& fields) {
  auto path = RequiredPathField(fields, "path");
  auto recursive = fields.OptionalBool("recursive", false);
  if (!path.ok()) return path.status();
  if (!recursive.ok()) return recursive.status();
  if (Status s = user_->Remove(*path, *recursive); !s.ok()) return s;
  return Json::object();
}

Result<Json> Session::Rename(const Json& /*id*/, const Fields& fields) {
  auto from = RequiredPathField(fields, "from");
  auto to = RequiredPathField(fields, "to");
  auto overwrite = fields.OptionalBool("overwrite", false);
  if (!from.ok()) return from.status();
  if (!to.ok()) return to.status();
  if (!overwrite.ok()) return overwrite.status();
  if (Status s = user_->Rename(*from, *to, *overwrite); !s.ok()) return s;
  return Json::object();
}

Result<Json> Session::SetStat(const Json& /*id*/, const Fields& fields) {
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
  if (Status s = user_->SetAttributes(*path, new_mode, new_mtime); !s.ok()) return s;
  return Json::object();
}

Result<Json> Session::Sum(const Json& /*id*/, const Fields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) return path.status();
  auto algorithm = AlgorithmField(fields);
  if (!algorithm.ok()) return algorithm.status();
  auto length = OptionalInteger(fields, "length", -1, 0, kMaxFileSize);
  if (!length.ok()) return length.status();
  auto sum = user_->Checksum(*path, *algorithm,
                             *length >= 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(*length))
                                          : std::nullopt);
  if (!sum.ok()) return sum.status();
  return Json{{"checksum", sum->checksum}, {"algo", transfer::ChecksumName(sum->algorithm)}, {"size", sum->size}};
}

}  // namespace ferry::frontends::native
