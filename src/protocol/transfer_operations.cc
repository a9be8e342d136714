#include "protocol/transfer_operations.h"

#include "protocol/reply_fields.h"

namespace ferry::protocol {

// ---- put ----

Result<PutRequest> PutRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  PutRequest request;
  FirstError error;
  error.Take(fields.Path("path"), request.path);
  std::int64_t size = -1;  // absent
  error.Take(fields.OptionalInteger("size", -1, 0, kMaxFileSize), size);
  if (!error.ok()) return error.status();
  if (size < 0) return Status(ErrorCode::kProtocol, "put needs 'size', the number of bytes to come");
  request.size = static_cast<std::uint64_t>(size);
  std::int64_t mtime = -1;  // absent
  error.Take(fields.OptionalInteger("mode", 0644, 0, kMaxModeBits), request.mode);
  error.Take(fields.OptionalInteger("mtime", -1, -1, kMaxModificationTime), mtime);
  error.Take(fields.OptionalInteger("mtime_nsec", 0, 0, kMaxNanoseconds), request.mtime_nsec);
  error.Take(fields.OptionalBool("resume", false), request.resume);
  error.Take(fields.OptionalString("algo", std::string(kDefaultChecksumName)), request.algo);
  if (!error.ok()) return error.status();
  if (mtime >= 0) request.mtime = mtime;
  return request;
}

Json PutRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("path", path);
  fields.emplace("size", size);
  fields.emplace("mode", mode);
  if (mtime) fields.emplace("mtime", *mtime);
  fields.emplace("mtime_nsec", mtime_nsec);
  fields.emplace("algo", algo);
  fields.emplace("resume", resume);
  return header;
}

Result<PutReply> PutReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  PutReply reply;
  FirstError error;
  error.Take(fields.Unsigned("offset"), reply.offset);
  error.Take(fields.OptionalString("prefix_checksum"), reply.prefix_checksum);
  std::optional<std::uint64_t> discarded;
  error.Take(fields.OptionalUnsigned("discarded"), discarded);
  if (!error.ok()) return error.status();
  reply.discarded = discarded.value_or(0);
  return reply;
}

void PutReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("offset", offset);
  if (prefix_checksum) fields.emplace("prefix_checksum", *prefix_checksum);
  if (discarded > 0) fields.emplace("discarded", discarded);
}

// ---- data, put_close, put_abort ----

Result<UploadDataFrame> UploadDataFrame::Parse(const Json& header) {
  auto ref = RequestFields(header).Unsigned("ref");
  if (!ref.ok()) return ref.status();
  return UploadDataFrame{*ref};
}

Json UploadDataFrame::Encode() const {
  return RequestHeader(kOp, ref);
}

Result<PutCloseRequest> PutCloseRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  PutCloseRequest request;
  FirstError error;
  error.Take(fields.Unsigned("ref"), request.ref);
  error.Take(fields.String("checksum"), request.checksum);
  if (!error.ok()) return error.status();
  return request;
}

Json PutCloseRequest::Encode() const {
  Json header = RequestHeader(kOp, ref);
  FieldsOf(header).emplace("checksum", checksum);
  return header;
}

Result<PutCloseReply> PutCloseReply::Parse(const Json& header) {
  const ReplyFields fields(header);
  PutCloseReply reply;
  FirstError error;
  error.Take(fields.Unsigned("size"), reply.size);
  error.Take(fields.String("checksum"), reply.checksum);
  if (!error.ok()) return error.status();
  return reply;
}

void PutCloseReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("size", size);
  fields.emplace("checksum", checksum);
}

Result<PutAbortRequest> PutAbortRequest::Parse(const Json& header) {
  auto ref = RequestFields(header).Unsigned("ref");
  if (!ref.ok()) return ref.status();
  return PutAbortRequest{*ref};
}

Json PutAbortRequest::Encode() const {
  return RequestHeader(kOp, ref);
}

// ---- get ----

Result<GetRequest> GetRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  GetRequest request;
  FirstError error;
  error.Take(fields.OptionalPath("path", ""), request.path);
  error.Take(fields.OptionalInteger("offset", 0, 0, kMaxFileSize), request.offset);
  error.Take(fields.OptionalString("algo", std::string(kDefaultChecksumName)), request.algo);
  if (!error.ok()) return error.status();
  return request;
}

Json GetRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("path", path);
  fields.emplace("offset", offset);
  fields.emplace("algo", algo);
  return header;
}

Result<GetHeadReply> GetHeadReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, true); !more.ok()) return more;
  const ReplyFields fields(header);
  GetHeadReply reply;
  FirstError error;
  error.Take(fields.Unsigned("size"), reply.size);
  error.Take(fields.Unsigned("mode", kMaxModeBits), reply.mode);
  error.Take(fields.Integer("mtime"), reply.mtime);
  error.Take(fields.Unsigned("mtime_nsec", kMaxNanoseconds), reply.mtime_nsec);
  error.Take(fields.Unsigned("offset"), reply.offset);
  if (!error.ok()) return error.status();
  return reply;
}

void GetHeadReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("more", true);
  fields.emplace("size", size);
  fields.emplace("mode", mode);
  fields.emplace("mtime", mtime);
  fields.emplace("mtime_nsec", mtime_nsec);
  fields.emplace("offset", offset);
}

Result<GetDataReply> GetDataReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, true); !more.ok()) return more;
  return GetDataReply{};
}

void GetDataReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("more", true);
}

Result<GetTailReply> GetTailReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, false); !more.ok()) return more;
  const ReplyFields fields(header);
  GetTailReply reply;
  FirstError error;
  error.Take(fields.Unsigned("size"), reply.size);
  error.Take(fields.String("checksum"), reply.checksum);
  if (!error.ok()) return error.status();
  return reply;
}

void GetTailReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("more", false);
  fields.emplace("size", size);
  fields.emplace("checksum", checksum);
}

}  // namespace ferry::protocol
