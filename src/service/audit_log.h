// AuditLog: one JSON line per security-relevant event, appended to DIR/audit.log.
//
// Each line: {"time": ISO-8601 UTC, "event": ..., "user": ..., "address": ..., "path": ..., "bytes": ...,
// "result": "ok" or an error code}; a login also has "method" ("password" or "publickey") and, for a key, "key" (its
// SHA256 fingerprint); a program run also has "command" (its argument list) and, once it ran, how it
// ended: "exit_status" or "signal", and "stopped" when the server stopped it; a transfer that ended unfinished (the
// connection dropped, or the client gave up) has "stopped": "interrupted". Reopen() (on SIGHUP) starts writing
// to a fresh file at the same path, so logrotate can move the old one away. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ferry::service {

// How a program that ran ended (its audit line's result is "ok": it ran).
struct ProgramEnd {
  std::optional<int> exit_status;  // it exited with this status
  std::optional<int> signal;       // this signal ended it
  std::string_view stopped;        // why the server stopped it ("time_limit", "quota", ...); empty when it did not
};

struct AuditEvent {
  std::string_view event;  // login, logout, upload, download, delete, rename, mkdir, exec
  std::string_view user;
  std::string_view address;
  std::string_view path;              // as the user sees it ("/docs/a.txt"); empty when none
  std::string_view to;                // the new path of a rename
  const std::vector<std::string>* command = nullptr;  // the argument list of an exec (its folder is `path`)
  const ProgramEnd* program = nullptr;                 // how that program ended, once it ran
  std::optional<std::uint64_t> bytes;
  const Status* result = nullptr;     // null means ok
  std::string_view protocol;          // "ferry", "ftp": what the client spoke
  std::string_view method;            // how a login proved who it was: "password", "publickey"
  std::string_view key;               // the fingerprint of the key a publickey login used
  std::string_view stopped;           // a transfer that ended before it was complete: "interrupted"
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(std::string path);

  void Record(const AuditEvent& event);
  // Reopens the file at its path (after logrotate moved it).
  Status Reopen();

 private:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}

  std::mutex mutex_;
  std::string path_;
  UniqueFd fd_;
};

}  // namespace ferry::service
