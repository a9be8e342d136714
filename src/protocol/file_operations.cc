#include "protocol/file_operations.h"

#include "protocol/reply_fields.h"

namespace ferry::protocol {
namespace {

// For the requests whose only field is an optional path (stat, ls).
Result<std::string> OptionalPathOf(const Json& header) {
  return RequestFields(header).OptionalPath("path", "");
}

Json HeaderWithPath(std::string_view op, const std::string& path) {
  Json header = RequestHeader(op);
  FieldsOf(header).emplace("path", path);
  return header;
}

}  // namespace

// ---- stat ----

Result<StatRequest> StatRequest::Parse(const Json& header) {
  auto path = OptionalPathOf(header);
  if (!path.ok()) return path.status();
  return StatRequest{std::move(path).value()};
}

Json StatRequest::Encode() const {
  return HeaderWithPath(kOp, path);
}

Result<StatReply> StatReply::Parse(const Json& header) {
  auto object = ReplyFields(header).Object("entry");
  if (!object.ok()) return object.status();
  auto entry = DirectoryEntry::Parse(**object);
  if (!entry.ok()) return entry.status();
  return StatReply{std::move(entry).value()};
}

void StatReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("entry", entry.Encode());
}

// ---- ls ----

Result<ListRequest> ListRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  ListRequest request;
  FirstError error;
  error.Take(fields.OptionalPath("path", ""), request.path);
  error.Take(fields.OptionalPath("match", ""), request.match);
  if (!error.ok()) return error.status();
  if (request.match.size() > kMaxNameLength) {
    return Status(ErrorCode::kNameTooLong, "a pattern matches one name: at most 255 bytes");
  }
  if (request.match.find('/') != std::string::npos) {
    return Status(ErrorCode::kInvalid, "a pattern matches one name, so it holds no /");
  }
  return request;
}

Json ListRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  if (!match.empty()) FieldsOf(header).emplace("match", match);
  return header;
}

Result<ListReply> ListReply::Parse(const Json& header, std::string_view body) {
  const ReplyFields fields(header);
  ListReply reply;
  FirstError error;
  error.Take(fields.Bool("more"), reply.more);
  error.Take(fields.OptionalBool("file", false), reply.file);
  error.Take(ParseEntryList(body), reply.entries);
  if (!error.ok()) return error.status();
  return reply;
}

void ListReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("more", more);
  if (file) fields.emplace("file", true);
}

std::string ListReply::EncodeBody() const {
  return EncodeEntryList(entries);
}

// ---- mkdir, rmdir, rm, mv ----

Result<MkdirRequest> MkdirRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  MkdirRequest request;
  FirstError error;
  error.Take(fields.Path("path"), request.path);
  error.Take(fields.OptionalBool("parents", false), request.parents);
  if (!error.ok()) return error.status();
  return request;
}

Json MkdirRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  FieldsOf(header).emplace("parents", parents);
  return header;
}

Result<RmdirRequest> RmdirRequest::Parse(const Json& header) {
  auto path = RequestFields(header).Path("path");
  if (!path.ok()) return path.status();
  return RmdirRequest{std::move(path).value()};
}

Json RmdirRequest::Encode() const {
  return HeaderWithPath(kOp, path);
}

Result<RmRequest> RmRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  RmRequest request;
  FirstError error;
  error.Take(fields.Path("path"), request.path);
  error.Take(fields.OptionalBool("recursive", false), request.recursive);
  if (!error.ok()) return error.status();
  return request;
}

Json RmRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  FieldsOf(header).emplace("recursive", recursive);
  return header;
}

Result<MvRequest> MvRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  MvRequest request;
  FirstError error;
  error.Take(fields.Path("from"), request.from);
  error.Take(fields.Path("to"), request.to);
  error.Take(fields.OptionalBool("overwrite", false), request.overwrite);
  if (!error.ok()) return error.status();
  return request;
}

Result<CpRequest> CpRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  CpRequest request;
  FirstError error;
  error.Take(fields.Path("from"), request.from);
  error.Take(fields.Path("to"), request.to);
  error.Take(fields.OptionalBool("preserve", false), request.preserve);
  error.Take(fields.OptionalBool("no_clobber", false), request.no_clobber);
  error.Take(fields.OptionalBool("exact", false), request.exact);
  if (!error.ok()) return error.status();
  return request;
}

Json CpRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("from", from);
  fields.emplace("to", to);
  fields.emplace("preserve", preserve);
  fields.emplace("no_clobber", no_clobber);
  fields.emplace("exact", exact);
  return header;
}

Result<CpReply> CpReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  CpReply reply;
  FirstError error;
  error.Take(fields.String("path"), reply.path);
  error.Take(fields.Unsigned("size"), reply.size);
  if (!error.ok()) return error.status();
  return reply;
}

void CpReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("path", path);
  fields.emplace("size", size);
}

Result<SymlinkRequest> SymlinkRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  SymlinkRequest request;
  FirstError error;
  error.Take(fields.Path("path"), request.path);
  error.Take(fields.Path("target"), request.target);
  if (!error.ok()) return error.status();
  return request;
}

Json SymlinkRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  FieldsOf(header).emplace("target", target);
  return header;
}

Json MvRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("from", from);
  fields.emplace("to", to);
  fields.emplace("overwrite", overwrite);
  return header;
}

// ---- setstat ----

Result<SetStatRequest> SetStatRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  SetStatRequest request;
  std::int64_t mode = -1;   // absent
  std::int64_t mtime = -1;  // absent
  FirstError error;
  error.Take(fields.OptionalPath("path", ""), request.path);
  error.Take(fields.OptionalInteger("mode", -1, 0, kMaxModeBits), mode);
  error.Take(fields.OptionalInteger("mtime", -1, 0, kMaxModificationTime), mtime);
  error.Take(fields.OptionalInteger("mtime_nsec", 0, 0, kMaxNanoseconds), request.mtime_nsec);
  if (!error.ok()) return error.status();
  if (mode >= 0) request.mode = static_cast<std::uint32_t>(mode);
  if (mtime >= 0) request.mtime = mtime;
  return request;
}

Json SetStatRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  auto& fields = FieldsOf(header);
  if (mode) fields.emplace("mode", *mode);
  if (mtime) fields.emplace("mtime", *mtime);
  fields.emplace("mtime_nsec", mtime_nsec);
  return header;
}

// ---- quota ----

Result<QuotaRequest> QuotaRequest::Parse(const Json& /*header*/) {
  return QuotaRequest{};
}

Json QuotaRequest::Encode() const {
  return RequestHeader(kOp);
}

Result<QuotaReply> QuotaReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  QuotaReply reply;
  FirstError error;
  error.Take(fields.Unsigned("bytes"), reply.bytes);
  error.Take(fields.Unsigned("bytes_reserved"), reply.bytes_reserved);
  error.Take(fields.NullableUnsigned("max_bytes"), reply.max_bytes);
  error.Take(fields.Unsigned("files"), reply.files);
  error.Take(fields.Unsigned("files_reserved"), reply.files_reserved);
  error.Take(fields.NullableUnsigned("max_files"), reply.max_files);
  if (!error.ok()) return error.status();
  return reply;
}

void QuotaReply::AppendTo(Json& reply) const {
  const auto limit = [](const std::optional<std::uint64_t>& value) { return value ? Json(*value) : Json(nullptr); };
  auto& fields = FieldsOf(reply);
  fields.emplace("bytes", bytes);
  fields.emplace("bytes_reserved", bytes_reserved);
  fields.emplace("max_bytes", limit(max_bytes));
  fields.emplace("files", files);
  fields.emplace("files_reserved", files_reserved);
  fields.emplace("max_files", limit(max_files));
}

// ---- sum ----

Result<SumRequest> SumRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  SumRequest request;
  std::int64_t length = -1;  // absent
  FirstError error;
  error.Take(fields.OptionalPath("path", ""), request.path);
  error.Take(fields.OptionalString("algo", std::string(kDefaultChecksumName)), request.algo);
  error.Take(fields.OptionalInteger("length", -1, 0, kMaxFileSize), length);
  if (!error.ok()) return error.status();
  if (length >= 0) request.length = static_cast<std::uint64_t>(length);
  return request;
}

Json SumRequest::Encode() const {
  Json header = HeaderWithPath(kOp, path);
  auto& fields = FieldsOf(header);
  fields.emplace("algo", algo);
  if (length) fields.emplace("length", *length);
  return header;
}

Result<SumReply> SumReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  SumReply reply;
  FirstError error;
  error.Take(fields.String("checksum"), reply.checksum);
  error.Take(fields.String("algo"), reply.algo);
  error.Take(fields.Unsigned("size"), reply.size);
  if (!error.ok()) return error.status();
  return reply;
}

void SumReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("checksum", checksum);
  fields.emplace("algo", algo);
  fields.emplace("size", size);
}

}  // namespace ferry::protocol
