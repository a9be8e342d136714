// The session's requests and replies: hello, login, pwd, whoami, cd, quit and noop.
//
// One struct per request and per reply that carries fields, shared by server and client; docs/protocol.md is the
// reference. The request id is not part of a struct: the client's Connection assigns it, the server echoes
// RequestId(header). Conventions every message struct of this layer follows:
//   - a request has kOp, `static Result<X> Parse(const Json& header)` (the server's side: EPROTO, EINVAL, ETOOBIG
//     ... with the messages the server answers) and `Json Encode() const` ({"op": kOp, ...fields}, without the id);
//   - a reply has `static Result<X> Parse(const Json& header)` (the client's side: EPROTO naming a required field
//     that is missing or of the wrong type) and `void AppendTo(Json& reply) const`, which adds its fields to an
//     OkReply(id) (or use OkReply(id, reply) from reply_fields.h).
// Structs compare equal field by field, so an encoded message parses back to what it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/frame.h"

namespace ferry::protocol {

// {"op": "hello", "versions": [1], "client": "ferry 0.1.0"}: the first request of every session.
struct HelloRequest {
  static constexpr std::string_view kOp = "hello";
  // The protocol versions the client speaks. Elements that are not integers are ignored, as the server always has.
  std::vector<std::int64_t> versions;
  std::string client;  // optional, for logs; "" when absent (or not a string)

  static Result<HelloRequest> Parse(const Json& header);
  Json Encode() const;
  // The highest version both sides speak; EPROTO when there is none.
  Result<int> CommonVersion() const;

  bool operator==(const HelloRequest&) const = default;
};

struct HelloReply {
  int version = 0;
  std::string server;  // "ferryd 0.1.0"
  // The server's frame limits ("limits": {"max_header": ..., "max_body": ...}).
  std::uint32_t max_header = 0;
  std::uint64_t max_body = 0;
  // 32 random bytes, base64: what a public-key login signs, with the TLS session (KeyLoginData). "" from a server
  // without public-key logins.
  std::string challenge;

  static Result<HelloReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const HelloReply&) const = default;
};

// A login with a password, or with a key: {"user", "key": "ssh-ed25519 AAAA...", "signature": base64 of an SSH
// signature blob of KeyLoginData}. EINVAL for both or neither.
struct LoginRequest {
  static constexpr std::string_view kOp = "login";
  std::string user;      // at most kMaxUserNameLength bytes
  std::string password;  // at most kMaxPasswordLength bytes (ETOOBIG beyond either)
  std::string key;        // "TYPE BASE64", as authorized_keys holds it; "" for a password login
  std::string signature;  // base64; at most kMaxKeyFieldLength bytes, as `key`

  static Result<LoginRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const LoginRequest&) const = default;
};

// The most bytes of a login's `key` and `signature` fields (an RSA key of 16384 bits fits).
inline constexpr std::size_t kMaxKeyFieldLength = 8192;
// Label of the TLS exporter (RFC 5705 / RFC 8446 7.5) whose value a key login signs.
inline constexpr std::string_view kKeyLoginExporterLabel = "EXPORTER-ferry-key-login";

// What a public-key login signs (SSH strings, RFC 4251): "ferry-key-login-v1", the hello reply's challenge (raw
// bytes), the TLS exporter value of kKeyLoginExporterLabel (32 bytes; empty over a plain connection), the user name
// and the public key blob. Bound to one TLS session and one challenge, a signature is worthless on any other
// connection.
std::string KeyLoginData(std::string_view challenge, std::string_view tls_binding, std::string_view user,
                         std::string_view key_blob);

struct LoginReply {
  std::string user;
  std::string cwd;  // the session's first folder, "/"

  static Result<LoginReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const LoginReply&) const = default;
};

struct PwdRequest {
  static constexpr std::string_view kOp = "pwd";

  static Result<PwdRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const PwdRequest&) const = default;
};

struct PwdReply {
  std::string path;  // the current folder

  static Result<PwdReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const PwdReply&) const = default;
};

struct WhoamiRequest {
  static constexpr std::string_view kOp = "whoami";

  static Result<WhoamiRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const WhoamiRequest&) const = default;
};

struct WhoamiReply {
  std::string user;

  static Result<WhoamiReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const WhoamiReply&) const = default;
};

struct CdRequest {
  static constexpr std::string_view kOp = "cd";
  std::string path;  // optional; "" (or absent) is the current folder

  static Result<CdRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const CdRequest&) const = default;
};

struct CdReply {
  std::string path;  // the new current folder, symbolic links resolved

  static Result<CdReply> Parse(const Json& header);
  void AppendTo(Json& reply) const;

  bool operator==(const CdReply&) const = default;
};

// The server answers ok and closes the connection.
struct QuitRequest {
  static constexpr std::string_view kOp = "quit";

  static Result<QuitRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const QuitRequest&) const = default;
};

struct NoopRequest {
  static constexpr std::string_view kOp = "noop";

  static Result<NoopRequest> Parse(const Json& header);
  Json Encode() const;

  bool operator==(const NoopRequest&) const = default;
};

}  // namespace ferry::protocol
