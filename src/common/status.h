// Status and Result<T>: errors as values, with the stable symbolic codes the protocol puts on the wire.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry {

// Every error a request can end in. The wire name of each is its symbolic code (see docs/protocol.md);
// new codes are only ever appended.
enum class ErrorCode {
  kOk,
  kNotFound,         // ENOENT
  kAccessDenied,     // EACCES
  kExists,           // EEXIST
  kNotDirectory,     // ENOTDIR
  kIsDirectory,      // EISDIR
  kNotEmpty,         // ENOTEMPTY
  kAuthFailed,       // EAUTH
  kProtocol,         // EPROTO
  kTooBig,           // ETOOBIG
  kNotPermitted,     // EPERM
  kInvalid,          // EINVAL
  kNotSupported,     // ENOSYS: unknown operation
  kNameTooLong,      // ENAMETOOLONG
  kTooManyLinks,     // ELOOP
  kNoSpace,          // ENOSPC
  kBusy,             // EBUSY
  kCrossDevice,      // EXDEV
  kQuota,            // EQUOTA
  kShuttingDown,     // ESHUTDOWN: the server is shutting down
  kIo,               // EIO: anything else the system reported
};

// The symbolic wire code ("ENOENT", ...) of a code; "OK" for kOk.
std::string_view ErrorCodeName(ErrorCode code);
// The code for a wire name; nullopt for names this build does not know.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);
// Maps an errno value to our code. The one place errno is translated.
ErrorCode ErrorCodeFromErrno(int err);

class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  // A status from errno, with `what` naming the operation or object ("mkdir /a").
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string_view code_name() const { return ErrorCodeName(code_); }
  // "ENOENT: no such file or directory: /a".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. REQUIRES: a Result is never built from an ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace ferry
