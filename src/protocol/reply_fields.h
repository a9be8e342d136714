// Reading a server's reply strictly, and the small helpers every message parser and encoder shares.
//
// A client reads replies with ReplyFields: a required field that is missing or of the wrong type is EPROTO naming
// the field ("server reply lacks field 'size'"), never a silent 0 or "". Requests are read with RequestFields
// (messages.h), whose errors are the ones the server answers with. docs/protocol.md is the reference for both.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace ferry::protocol {

// Typed, checked access to the fields of a reply header (or of an object inside one). Every error is EPROTO naming
// the field and `what` was being read ("server reply", "directory entry").
class ReplyFields {
 public:
  // REQUIRES: `object` and `what` outlive this object.
  explicit ReplyFields(const Json& object, std::string_view what = "server reply") : object_(object), what_(what) {}

  Result<std::string> String(std::string_view key) const;
  // nullopt when missing.
  Result<std::optional<std::string>> OptionalString(std::string_view key) const;
  Result<bool> Bool(std::string_view key) const;
  Result<bool> OptionalBool(std::string_view key, bool fallback) const;
  // A signed integer in [min, max].
  Result<std::int64_t> Integer(std::string_view key, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                               std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  // A non-negative integer up to `max`.
  Result<std::uint64_t> Unsigned(std::string_view key,
                                 std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const;
  // nullopt when missing.
  Result<std::optional<std::uint64_t>> OptionalUnsigned(std::string_view key) const;
  // Present, and either null (nullopt) or a non-negative integer.
  Result<std::optional<std::uint64_t>> NullableUnsigned(std::string_view key) const;
  // A nested object. The pointer borrows from the object this reader reads.
  Result<const Json*> Object(std::string_view key) const;

 private:
  const Json* Find(std::string_view key) const;
  Status Missing(std::string_view key) const;
  Status WrongType(std::string_view key, std::string_view expected) const;

  const Json& object_;
  std::string_view what_;
};

// The `more` field of a frame in a stream (ls, get, exec): true when frames for the same request follow.
Result<bool> MoreFollows(const Json& reply);
// Ok when `more` is present and equal to `expected` (a head or data frame needs true, a stream's end false).
Status ExpectMore(const Json& reply, bool expected);

// Gathers the results of reading fields one after another and keeps the first error, so that a parser reads every
// field in order and checks once; the error is the one a field-by-field check would have returned.
class FirstError {
 public:
  // Stores the value in `out` unless an earlier field failed or this one does.
  template <typename T, typename Out>
  void Take(Result<T> result, Out& out) {
    if (!status_.ok()) return;
    if (!result.ok()) {
      status_ = result.status();
      return;
    }
    out = static_cast<Out>(std::move(result).value());
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// The members of a JSON object, for building one field by field: nlohmann's initializer lists copy every value and
// test whether they form an object, which on a reply's hot path costs more than the reply itself.
// REQUIRES: `object` is an object.
inline Json::object_t& FieldsOf(Json& object) {
  return object.get_ref<Json::object_t&>();
}

// {"id": id, "ok": true, ...the reply's fields}. `Reply` is any reply struct of this layer (it has AppendTo).
template <typename Reply>
Json OkReply(const Json& id, const Reply& reply) {
  Json header = OkReply(id);
  reply.AppendTo(header);
  return header;
}

}  // namespace ferry::protocol
