#include "protocol/session_operations.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/ssh_signature.h"
#include "protocol/messages.h"
#include "protocol/reply_fields.h"

namespace ferry::protocol {

// ---- hello ----

Result<HelloRequest> HelloRequest::Parse(const Json& header) {
  const auto versions = header.find("versions");
  if (versions == header.end() || !versions->is_array()) {
    return Status(ErrorCode::kProtocol, "hello needs 'versions', an array of protocol versions");
  }
  HelloRequest request;
  for (const auto& version : *versions) {
    if (!version.is_number_integer()) continue;
    if (version.is_number_unsigned() && version.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()) {
      continue;  // no protocol version is that large
    }
    request.versions.push_back(version.get<std::int64_t>());
  }
  const auto client = header.find("client");
  if (client != header.end() && client->is_string()) request.client = client->get<std::string>();
  return request;
}

Json HelloRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("versions", versions);
  if (!client.empty()) fields.emplace("client", client);
  return header;
}

Result<int> HelloRequest::CommonVersion() const {
  int chosen = 0;
  for (const std::int64_t version : versions) {
    if (version >= kMinProtocolVersion && version <= kProtocolVersion) {
      chosen = std::max(chosen, static_cast<int>(version));
    }
  }
  if (chosen == 0) {
    return Status(ErrorCode::kProtocol, fmt::format("no common protocol version (server speaks {} to {})",
                                                    kMinProtocolVersion, kProtocolVersion));
  }
  return chosen;
}

Result<HelloReply> HelloReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  HelloReply reply;
  FirstError error;
  error.Take(fields.Unsigned("version", std::numeric_limits<int>::max()), reply.version);
  error.Take(fields.String("server"), reply.server);
  const Json* limits = nullptr;
  error.Take(fields.Object("limits"), limits);
  if (!error.ok()) return error.status();
  const ReplyFields limit_fields(*limits, "server reply's limits");
  error.Take(limit_fields.Unsigned("max_header", std::numeric_limits<std::uint32_t>::max()), reply.max_header);
  error.Take(limit_fields.Unsigned("max_body"), reply.max_body);
  std::optional<std::string> challenge;
  error.Take(fields.OptionalString("challenge"), challenge);
  if (!error.ok()) return error.status();
  reply.challenge = challenge.value_or("");
  return reply;
}

void HelloReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("version", version);
  fields.emplace("server", server);
  Json limits(Json::value_t::object);
  FieldsOf(limits).emplace("max_header", max_header);
  FieldsOf(limits).emplace("max_body", max_body);
  if (!challenge.empty()) fields.emplace("challenge", challenge);
  fields.emplace("limits", std::move(limits));
}

// ---- login ----

Result<LoginRequest> LoginRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  LoginRequest request;
  FirstError error;
  error.Take(fields.String("user"), request.user);
  const bool with_key = header.contains("key");
  if (with_key) {
    if (header.contains("password")) return Status(ErrorCode::kInvalid, "a login has a password or a key, not both");
    error.Take(fields.String("key"), request.key);
    error.Take(fields.String("signature"), request.signature);
    if (error.ok() && request.key.empty()) return Status(ErrorCode::kInvalid, "an empty key");
  } else {
    error.Take(fields.String("password"), request.password);
  }
  if (!error.ok()) return error.status();
  if (request.user.size() > kMaxUserNameLength || request.password.size() > kMaxPasswordLength) {
    return Status(ErrorCode::kTooBig, "user name or password too long");
  }
  if (request.key.size() > kMaxKeyFieldLength || request.signature.size() > kMaxKeyFieldLength) {
    return Status(ErrorCode::kTooBig, "key or signature too long");
  }
  return request;
}

std::string KeyLoginData(std::string_view challenge, std::string_view tls_binding, std::string_view user,
                         std::string_view key_blob) {
  std::string data;
  for (const std::string_view part : {std::string_view("ferry-key-login-v1"), challenge, tls_binding, user, key_blob}) {
    ssh::PutString(data, part);
  }
  return data;
}

Json LoginRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("user", user);
  if (key.empty()) {
    fields.emplace("password", password);
  } else {
    fields.emplace("key", key);
    fields.emplace("signature", signature);
  }
  return header;
}

Result<LoginReply> LoginReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  LoginReply reply;
  FirstError error;
  error.Take(fields.String("user"), reply.user);
  error.Take(fields.String("cwd"), reply.cwd);
  if (!error.ok()) return error.status();
  return reply;
}

void LoginReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("user", user);
  fields.emplace("cwd", cwd);
}

// ---- pwd, whoami, cd ----

Result<PwdRequest> PwdRequest::Parse(const Json& /*header*/) {
  return PwdRequest{};
}

Json PwdRequest::Encode() const {
  return RequestHeader(kOp);
}

Result<PwdReply> PwdReply::Parse(const Json& header) {
  auto path = ReplyFields(header).String("path");
  if (!path.ok()) return path.status();
  return PwdReply{std::move(path).value()};
}

void PwdReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("path", path);
}

Result<WhoamiRequest> WhoamiRequest::Parse(const Json& /*header*/) {
  return WhoamiRequest{};
}

Json WhoamiRequest::Encode() const {
  return RequestHeader(kOp);
}

Result<WhoamiReply> WhoamiReply::Parse(const Json& header) {
  auto user = ReplyFields(header).String("user");
  if (!user.ok()) return user.status();
  return WhoamiReply{std::move(user).value()};
}

void WhoamiReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("user", user);
}

Result<CdRequest> CdRequest::Parse(const Json& header) {
  auto path = RequestFields(header).OptionalPath("path", "");
  if (!path.ok()) return path.status();
  return CdRequest{std::move(path).value()};
}

Json CdRequest::Encode() const {
  Json header = RequestHeader(kOp);
  FieldsOf(header).emplace("path", path);
  return header;
}

Result<CdReply> CdReply::Parse(const Json& header) {
  auto path = ReplyFields(header).String("path");
  if (!path.ok()) return path.status();
  return CdReply{std::move(path).value()};
}

void CdReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("path", path);
}

// ---- quit, noop ----

Result<QuitRequest> QuitRequest::Parse(const Json& /*header*/) {
  return QuitRequest{};
}

Json QuitRequest::Encode() const {
  return RequestHeader(kOp);
}

Result<NoopRequest> NoopRequest::Parse(const Json& /*header*/) {
  return NoopRequest{};
}

Json NoopRequest::Encode() const {
  return RequestHeader(kOp);
}

}  // namespace ferry::protocol
