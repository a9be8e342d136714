// Running programs: exec, the frames that answer it (start, output, end), and the client's id-less exec_input and
// exec_kill frames.
//
// Shared by server and client; docs/protocol.md ("Running programs") is the reference, and session_operations.h
// states the conventions. What depends on the server's configuration (whether it runs programs or a shell at all)
// is the server's to check; what the protocol itself limits is checked here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::protocol {

// Arguments of an exec: how many, and their total size (each counted with its terminating NUL, as execve does).
inline constexpr std::size_t kMaxArguments = 4096;
inline constexpr std::size_t kMaxArgumentBytes = 128 * 1024;

struct ExecRequest {
  static constexpr std::string_view kOp = "exec";
  // The program and its arguments: not empty, strings without NUL bytes, a non-empty program name, within
  // kMaxArguments and kMaxArgumentBytes. With `shell`, the one command line.
  std::vector<std::string> argv;
  bool shell = false;       // argv[0] is one command line for /bin/sh -c (the server's policy decides)
  bool with_stdin = false;  // "stdin" on the wire: the client sends the program's input

  static Result<ExecRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const ExecRequest&) const = default;
};

// {"more": true}: the program runs.
struct ExecStartReply {
  // EPROTO when `more` is not true.
  static Result<ExecStartReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const ExecStartReply&) const = default;
};

enum class OutputStream { kStdout, kStderr };

// "stdout", "stderr".
std::string_view OutputStreamName(OutputStream stream);

// {"more": true, "stream": "stdout"} with what the program wrote as the body.
struct ExecOutputReply {
  OutputStream stream = OutputStream::kStdout;

  // EPROTO when `more` is not true or `stream` is neither "stdout" nor "stderr".
  static Result<ExecOutputReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const ExecOutputReply&) const = default;
};

// {"more": false, "exit_code": N, ...}: how the program ended.
struct ExecEndReply {
  int exit_code = 0;               // 128 + signal when a signal ended it
  std::optional<int> signal;       // the signal that ended it
  bool timed_out = false;          // the server's time limit ended it
  bool killed = false;             // the client's exec_kill ended it
  std::optional<std::string> stopped;  // why else the server stopped it, for the user ("the program passed your quota")
  bool truncated = false;          // output beyond the server's limit was dropped
  std::uint64_t output_limit = 0;  // that limit, in bytes; on the wire only (and then required) with `truncated`

  // EPROTO when `more` is not false, or a field is missing or of the wrong type.
  static Result<ExecEndReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const ExecEndReply&) const = default;
};

// {"op": "exec_input", "ref": EXEC_ID} with bytes for the program's stdin as the body. No id and no reply.
struct ExecInputFrame {
  static constexpr std::string_view kOp = "exec_input";
  std::uint64_t ref = 0;  // the id of the exec
  bool eof = false;       // close the program's stdin after the body

  static Result<ExecInputFrame> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const ExecInputFrame&) const = default;
};

// {"op": "exec_kill", "ref": EXEC_ID}: kill the program and everything it started. No id and no reply.
struct ExecKillFrame {
  static constexpr std::string_view kOp = "exec_kill";
  std::uint64_t ref = 0;  // the id of the exec

  static Result<ExecKillFrame> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const ExecKillFrame&) const = default;
};

}  // namespace ferry::protocol
