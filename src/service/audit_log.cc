#include "service/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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
  nlohmann::json line = {{"time", NowIso8601()},
                         {"event", event.event},
                         {"user", event.user},
                         {"address", event.address}};
  if (!event.protocol.empty()) line["protocol"] = event.protocol;
  if (!event.method.empty()) line["method"] = event.method;
  if (!event.key.empty()) line["key"] = event.key;
  if (!event.path.empty()) line["path"] = event.path;
  if (!event.to.empty()) line["to"] = event.to;
  if (event.command != nullptr) line["command"] = *event.command;
  if (!event.stopped.empty()) line["stopped"] = event.stopped;
  if (event.program != nullptr) {
    if (event.program->exit_status) line["exit_status"] = *event.program->exit_status;
    if (event.program->signal) line["signal"] = *event.program->signal;
    if (!event.program->stopped.empty()) line["stopped"] = event.program->stopped;
  }
  if (event.bytes) line["bytes"] = *event.bytes;
  line["result"] = event.result == nullptr || event.result->ok() ? std::string_view("ok") : event.result->code_name();
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  // One write per line with O_APPEND: lines from concurrent sessions never interleave.
  if (::write(fd_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    spdlog::error("audit log {}: write failed: {}", path_, std::strerror(errno));
  }
}

}  // namespace ferry::service
