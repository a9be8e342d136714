#include "service/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"

namespace ferry::service {
namespace {

std::string NowIso8601() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis);
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(std::string path) {
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(path)));
  if (Status s = log->Reopen(); !s.ok()) return s;
  return log;
}

Status AuditLog::Reopen() {
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, path_);
  std::lock_guard lock(mutex_);
  fd_ = std::move(fd);
  return Status::Ok();
}

void AuditLog::Record(const AuditEvent& event) {
  // Written directly, one key after another in the order nlohmann's object keeps them (sorted), so the line is the
  // same text nlohmann::json would write for it, without building one a line.
  std::string text;
  text.reserve(256);
  bool first = true;
  const auto key = [&](std::string_view name) {
    text += first ? "{\"" : ",\"";
    first = false;
    text += name;
    text += "\":";
  };
  const auto string_field = [&](std::string_view name, std::string_view value) {
    key(name);
    AppendJsonString(text, value);
  };
  const auto optional_field = [&](std::string_view name, std::string_view value) {
    if (!value.empty()) string_field(name, value);
  };
  string_field("address", event.address);
  if (event.bytes) {
    key("bytes");
    AppendJsonInteger(text, *event.bytes);
  }
  if (event.command != nullptr) {
    key("command");
    text += '[';
    for (std::size_t i = 0; i < event.command->size(); ++i) {
      if (i > 0) text += ',';
      AppendJsonString(text, (*event.command)[i]);
    }
    text += ']';
  }
  string_field("event", event.event);
  if (event.program != nullptr && event.program->exit_status) {
    key("exit_status");
    AppendJsonInteger(text, static_cast<std::int64_t>(*event.program->exit_status));
  }
  optional_field("key", event.key);
  optional_field("method", event.method);
  optional_field("path", event.path);
  optional_field("protocol", event.protocol);
  string_field("result",
               event.result == nullptr || event.result->ok() ? std::string_view("ok") : event.result->code_name());
  if (event.program != nullptr && event.program->signal) {
    key("signal");
    AppendJsonInteger(text, static_cast<std::int64_t>(*event.program->signal));
  }
  // How a program ended says why it was stopped, over the transfer's own word.
  optional_field("stopped", event.program != nullptr && !event.program->stopped.empty() ? event.program->stopped
                                                                                         : event.stopped);
  string_field("time", NowIso8601());
  optional_field("to", event.to);
  string_field("user", event.user);
  text += "}\n";
  std::lock_guard lock(mutex_);
  // One write per line with O_APPEND: lines from concurrent sessions never interleave.
  if (::write(fd_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    spdlog::error("audit log {}: write failed: {}", path_, std::strerror(errno));
  }
}

}  // namespace ferry::service
