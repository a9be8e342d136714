#include "protocol/exec_operations.h"

#include <fmt/format.h>

#include <limits>

#include "protocol/messages.h"
#include "protocol/reply_fields.h"

namespace ferry::protocol {
namespace {

constexpr auto kMaxInt = static_cast<std::uint64_t>(std::numeric_limits<int>::max());

Result<std::vector<std::string>> ParseArguments(const Json& header) {
  const auto args = header.find("argv");
  if (args == header.end() || !args->is_array() || args->empty()) {
    return Status(ErrorCode::kProtocol, "exec needs 'argv', a non-empty array of strings");
  }
  if (args->size() > kMaxArguments) {
    return Status(ErrorCode::kTooBig, fmt::format("at most {} arguments", kMaxArguments));
  }
  std::vector<std::string> argv;
  argv.reserve(args->size());
  std::size_t total = 0;
  for (const auto& arg : *args) {
    if (!arg.is_string()) return Status(ErrorCode::kProtocol, "every argument must be a string");
    const auto& text = arg.get_ref<const std::string&>();
    if (text.find('\0') != std::string::npos) return Status(ErrorCode::kInvalid, "an argument contains a NUL byte");
    total += text.size() + 1;
    if (total > kMaxArgumentBytes) {
      return Status(ErrorCode::kTooBig, fmt::format("the arguments exceed {} bytes", kMaxArgumentBytes));
    }
    argv.push_back(text);
  }
  if (argv.front().empty()) return Status(ErrorCode::kInvalid, "the program name is empty");
  return argv;
}

}  // namespace

// ---- exec ----

Result<ExecRequest> ExecRequest::Parse(const Json& header) {
  const RequestFields fields(header);
  ExecRequest request;
  FirstError error;
  error.Take(ParseArguments(header), request.argv);
  error.Take(fields.OptionalBool("shell", false), request.shell);
  error.Take(fields.OptionalBool("stdin", false), request.with_stdin);
  if (!error.ok()) return error.status();
  return request;
}

Json ExecRequest::Encode() const {
  Json header = RequestHeader(kOp);
  auto& fields = FieldsOf(header);
  fields.emplace("argv", argv);
  fields.emplace("shell", shell);
  fields.emplace("stdin", with_stdin);
  return header;
}

// ---- start, output, end ----

Result<ExecStartReply> ExecStartReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, true); !more.ok()) return more;
  return ExecStartReply{};
}

void ExecStartReply::AppendTo(Json& reply) const {
  FieldsOf(reply).emplace("more", true);
}

std::string_view OutputStreamName(OutputStream stream) {
  return stream == OutputStream::kStderr ? "stderr" : "stdout";
}

Result<ExecOutputReply> ExecOutputReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, true); !more.ok()) return more;
  auto name = ReplyFields(header).String("stream");
  if (!name.ok()) return name.status();
  for (const OutputStream stream : {OutputStream::kStdout, OutputStream::kStderr}) {
    if (*name == OutputStreamName(stream)) return ExecOutputReply{stream};
  }
  return Status(ErrorCode::kProtocol, "server reply: field 'stream' must be \"stdout\" or \"stderr\"");
}

void ExecOutputReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("more", true);
  fields.emplace("stream", OutputStreamName(stream));
}

Result<ExecEndReply> ExecEndReply::Parse(const Json& header) {
  if (Status more = ExpectMore(header, false); !more.ok()) return more;
  const ReplyFields fields(header);
  ExecEndReply reply;
  std::optional<std::uint64_t> signal;
  FirstError error;
  error.Take(fields.Unsigned("exit_code", kMaxInt), reply.exit_code);
  error.Take(fields.OptionalUnsigned("signal"), signal);
  error.Take(fields.OptionalBool("timed_out", false), reply.timed_out);
  error.Take(fields.OptionalBool("killed", false), reply.killed);
  error.Take(fields.OptionalString("stopped"), reply.stopped);
  error.Take(fields.OptionalBool("truncated", false), reply.truncated);
  if (reply.truncated) error.Take(fields.Unsigned("output_limit"), reply.output_limit);
  if (!error.ok()) return error.status();
  if (signal) {
    if (*signal > kMaxInt) return Status(ErrorCode::kProtocol, "server reply: field 'signal' is out of range");
    reply.signal = static_cast<int>(*signal);
  }
  return reply;
}

void ExecEndReply::AppendTo(Json& reply) const {
  auto& fields = FieldsOf(reply);
  fields.emplace("more", false);
  fields.emplace("exit_code", exit_code);
  if (signal) fields.emplace("signal", *signal);
  if (timed_out) fields.emplace("timed_out", true);
  if (killed) fields.emplace("killed", true);
  if (stopped) fields.emplace("stopped", *stopped);
  if (truncated) {
    fields.emplace("truncated", true);
    fields.emplace("output_limit", output_limit);
  }
}

// ---- exec_input, exec_kill ----

Result<ExecInputFrame> ExecInputFrame::Parse(const Json& header) {
  const RequestFields fields(header);
  ExecInputFrame frame;
  FirstError error;
  error.Take(fields.Unsigned("ref"), frame.ref);
  error.Take(fields.OptionalBool("eof", false), frame.eof);
  if (!error.ok()) return error.status();
  return frame;
}

Json ExecInputFrame::Encode() const {
  Json header = RequestHeader(kOp, ref);
  if (eof) FieldsOf(header).emplace("eof", true);
  return header;
}

Result<ExecKillFrame> ExecKillFrame::Parse(const Json& header) {
  auto ref = RequestFields(header).Unsigned("ref");
  if (!ref.ok()) return ref.status();
  return ExecKillFrame{*ref};
}

Json ExecKillFrame::Encode() const {
  return RequestHeader(kOp, ref);
}

}  // namespace ferry::protocol
