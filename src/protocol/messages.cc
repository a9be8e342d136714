#include "protocol/messages.h"

#include <fmt/format.h>

namespace ferry::protocol {

const Json* RequestFields::Find(std::string_view key) const {
  const auto it = header_.find(key);
  return it == header_.end() ? nullptr : &*it;
}

Result<std::string> RequestFields::String(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Status(ErrorCode::kProtocol, fmt::format("request lacks field '{}'", key));
  if (!value->is_string()) return Status(ErrorCode::kProtocol, fmt::format("field '{}' must be a string", key));
  return value->get<std::string>();
}

Result<std::string> RequestFields::OptionalString(std::string_view key, std::string fallback) const {
  if (Find(key) == nullptr) return fallback;
  return String(key);
}

namespace {

Result<std::string> CheckPath(Result<std::string> path, std::string_view key) {
  if (!path.ok()) return path;
  if (path->find('\0') != std::string::npos) {
    return Status(ErrorCode::kInvalid, fmt::format("field '{}' contains a NUL byte", key));
  }
  if (path->size() > kMaxPathLength) {
    return Status(ErrorCode::kNameTooLong, fmt::format("path in '{}' is longer than {} bytes", key, kMaxPathLength));
  }
  return path;
}

}  // namespace

Result<std::string> RequestFields::Path(std::string_view key) const {
  return CheckPath(String(key), key);
}

Result<std::string> RequestFields::OptionalPath(std::string_view key, std::string fallback) const {
  return CheckPath(OptionalString(key, std::move(fallback)), key);
}

Result<bool> RequestFields::OptionalBool(std::string_view key, bool fallback) const {
  const Json* value = Find(key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) return Status(ErrorCode::kProtocol, fmt::format("field '{}' must be a boolean", key));
  return value->get<bool>();
}

Result<std::int64_t> RequestFields::Integer(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Status(ErrorCode::kProtocol, fmt::format("request lacks field '{}'", key));
  if (!value->is_number_integer()) {
    return Status(ErrorCode::kProtocol, fmt::format("field '{}' must be an integer", key));
  }
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return Status(ErrorCode::kProtocol, fmt::format("field '{}' is out of range", key));
  }
  return value->get<std::int64_t>();
}

Result<std::int64_t> RequestFields::OptionalInteger(std::string_view key, std::int64_t fallback, std::int64_t min,
                                                    std::int64_t max) const {
  if (Find(key) == nullptr) return fallback;
  auto value = Integer(key);
  if (!value.ok()) return value.status();
  if (*value < min || *value > max) {
    return Status(ErrorCode::kInvalid, fmt::format("field '{}' must be between {} and {}", key, min, max));
  }
  return *value;
}

Result<std::uint64_t> RequestFields::Unsigned(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Status(ErrorCode::kProtocol, fmt::format("request lacks field '{}'", key));
  if (value->is_number_unsigned()) return value->get<std::uint64_t>();
  if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value->get<std::int64_t>());
  }
  return Status(ErrorCode::kProtocol, fmt::format("field '{}' must be a non-negative integer", key));
}

Json RequestHeader(std::string_view op) {
  Json header(Json::value_t::object);
  header.get_ref<Json::object_t&>().emplace("op", op);
  return header;
}

Json RequestHeader(std::string_view op, std::uint64_t ref) {
  Json header = RequestHeader(op);
  header.get_ref<Json::object_t&>().emplace("ref", ref);
  return header;
}

Json RequestId(const Json& header) {
  const auto it = header.find("id");
  if (it != header.end() && it->is_number_unsigned()) return *it;
  return nullptr;
}

Json OkReply(const Json& id) {
  // Built field by field: nlohmann's initializer lists copy every value and test whether they form an object, which
  // on a request's hot path costs more than the request itself.
  Json reply(Json::value_t::object);
  auto& fields = reply.get_ref<Json::object_t&>();
  fields.emplace("id", id);
  fields.emplace("ok", true);
  return reply;
}

Json ErrorReply(const Json& id, const Status& status) {
  return Json{{"id", id}, {"ok", false}, {"code", status.code_name()}, {"message", status.message()}};
}

Status StatusOfReply(const Json& reply) {
  const auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean()) return Status(ErrorCode::kProtocol, "reply lacks a boolean 'ok'");
  if (ok->get<bool>()) return Status::Ok();
  const auto code = reply.find("code");
  const auto message = reply.find("message");
  if (code == reply.end() || !code->is_string()) return Status(ErrorCode::kProtocol, "error reply lacks a code");
  std::string text = message != reply.end() && message->is_string() ? message->get<std::string>() : "";
  const std::string name = code->get<std::string>();
  const auto known = ErrorCodeFromName(name);
  if (!known || *known == ErrorCode::kOk) return Status(ErrorCode::kIo, name + ": " + text);
  return Status(*known, std::move(text));
}

}  // namespace ferry::protocol
