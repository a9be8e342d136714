#include "protocol/reply_fields.h"

#include <fmt/format.h>

namespace ferry::protocol {
namespace {

// A JSON integer as an unsigned value, if it is one: numbers parsed from the wire are unsigned when not negative,
// numbers built in code may be signed ones that happen to be positive.
std::optional<std::uint64_t> AsUnsigned(const Json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  return std::nullopt;
}

}  // namespace

const Json* ReplyFields::Find(std::string_view key) const {
  if (!object_.is_object()) return nullptr;
  const auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

Status ReplyFields::Missing(std::string_view key) const {
  return Status(ErrorCode::kProtocol, fmt::format("{} lacks field '{}'", what_, key));
}

Status ReplyFields::WrongType(std::string_view key, std::string_view expected) const {
  return Status(ErrorCode::kProtocol, fmt::format("{}: field '{}' must be {}", what_, key, expected));
}

Result<std::string> ReplyFields::String(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  if (!value->is_string()) return WrongType(key, "a string");
  return value->get<std::string>();
}

Result<std::optional<std::string>> ReplyFields::OptionalString(std::string_view key) const {
  if (Find(key) == nullptr) return std::optional<std::string>();
  auto value = String(key);
  if (!value.ok()) return value.status();
  return std::optional<std::string>(std::move(value).value());
}

Result<bool> ReplyFields::Bool(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  if (!value->is_boolean()) return WrongType(key, "a boolean");
  return value->get<bool>();
}

Result<bool> ReplyFields::OptionalBool(std::string_view key, bool fallback) const {
  if (Find(key) == nullptr) return fallback;
  return Bool(key);
}

Result<std::int64_t> ReplyFields::Integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  const std::string range = fmt::format("an integer between {} and {}", min, max);
  if (!value->is_number_integer()) return WrongType(key, range);
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return WrongType(key, range);
  }
  const auto number = value->get<std::int64_t>();
  if (number < min || number > max) return WrongType(key, range);
  return number;
}

Result<std::uint64_t> ReplyFields::Unsigned(std::string_view key, std::uint64_t max) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  const auto number = AsUnsigned(*value);
  if (!number || *number > max) return WrongType(key, fmt::format("an integer between 0 and {}", max));
  return *number;
}

Result<std::optional<std::uint64_t>> ReplyFields::OptionalUnsigned(std::string_view key) const {
  if (Find(key) == nullptr) return std::optional<std::uint64_t>();
  auto value = Unsigned(key);
  if (!value.ok()) return value.status();
  return std::optional<std::uint64_t>(*value);
}

Result<std::optional<std::uint64_t>> ReplyFields::NullableUnsigned(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  if (value->is_null()) return std::optional<std::uint64_t>();
  const auto number = AsUnsigned(*value);
  if (!number) return WrongType(key, "null or a non-negative integer");
  return std::optional<std::uint64_t>(*number);
}

Result<const Json*> ReplyFields::Object(std::string_view key) const {
  const Json* value = Find(key);
  if (value == nullptr) return Missing(key);
  if (!value->is_object()) return WrongType(key, "an object");
  return value;
}

Result<bool> MoreFollows(const Json& reply) {
  return ReplyFields(reply).Bool("more");
}

Status ExpectMore(const Json& reply, bool expected) {
  auto more = MoreFollows(reply);
  if (!more.ok()) return more.status();
  if (*more != expected) {
    return Status(ErrorCode::kProtocol, fmt::format("server reply: field 'more' must be {} here", expected));
  }
  return Status::Ok();
}

}  // namespace ferry::protocol
