#include "frontends/ferry/wire_fields.h"

#include <fmt/format.h>

namespace ferry::frontends::native {

using protocol::Json;

Result<std::int64_t> OptionalInteger(const protocol::RequestFields& fields, std::string_view key,
                                     std::int64_t fallback, std::int64_t min, std::int64_t max) {
  if (fields.header().find(key) == fields.header().end()) return fallback;
  auto value = fields.Integer(key);
  if (!value.ok()) return value.status();
  if (*value < min || *value > max) {
    return Status(ErrorCode::kInvalid, fmt::format("field '{}' must be between {} and {}", key, min, max));
  }
  return *value;
}

Result<transfer::ChecksumAlgorithm> AlgorithmField(const protocol::RequestFields& fields) {
  auto name = fields.OptionalString("algo", std::string(transfer::ChecksumName(transfer::kDefaultChecksum)));
  if (!name.ok()) return name.status();
  return transfer::ParseChecksumName(*name);
}

Json EntryJson(const service::FileInfo& info) {
  // Field by field (see protocol::OkReply): a listing builds one of these per entry.
  Json entry(Json::value_t::object);
  auto& fields = entry.get_ref<Json::object_t&>();
  fields.emplace("name", info.name);
  fields.emplace("type", service::FileTypeName(info.type));
  fields.emplace("size", info.size);
  fields.emplace("mode", info.mode);
  fields.emplace("mtime", info.mtime);
  fields.emplace("mtime_nsec", info.mtime_nsec);
  fields.emplace("nlink", info.nlink);
  return entry;
}

}  // namespace ferry::frontends::native
