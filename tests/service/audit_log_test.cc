#include "service/audit_log.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace ferry::service {
namespace {

using nlohmann::json;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The line as it was built before lines were written directly: a nlohmann object of the event's fields (without the
// time, which the caller adds).
json ObjectOf(const AuditEvent& event) {
  json line = {{"event", event.event}, {"user", event.user}, {"address", event.address}};
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
  return line;
}

// Each line is exactly the text nlohmann writes for what it holds (keys sorted, compact, invalid UTF-8 replaced), so
// a reader of the log sees the same lines whichever way they were written.
TEST(AuditLog, EachLineIsTheJsonOfItsEventAsNlohmannWritesIt) {
  ferry::testing::TempDir dir;
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const Status failed(ErrorCode::kQuota, "over");
  const std::vector<std::string> command = {"sh", "-c", "echo \"hi\"\t\\ ü", ""};
  const ProgramEnd killed{std::nullopt, 9, "time_limit"};
  const ProgramEnd exited{-1, std::nullopt, ""};
  // Plain; with every optional field; a path of escapes, non-ASCII and invalid UTF-8; a program's end overriding the
  // transfer's word on why it stopped; a program that ended by itself, the transfer's word kept; no protocol.
  const std::vector<AuditEvent> events = {
      {"login", "alice", "127.0.0.1:1", {}, {}, nullptr, nullptr, {}, nullptr, "ferry", "password", {}, {}},
      {"rename", "alice", "[::1]:2", "/a b.txt", "/c~d.txt", nullptr, nullptr, 18446744073709551615ull, &failed, "ftp",
       "publickey", "SHA256:abc+/=", "interrupted"},
      {"upload", "bob", "127.0.0.1:3", "/q\"\\\n\x01\x7f/ü/\xff\xfe.bin", {}, nullptr, nullptr, 0, nullptr, "sftp",
       {}, {}, {}},
      {"exec", "carol", "127.0.0.1:4", "/", {}, &command, &killed, 12, nullptr, "ferry", {}, {}, "interrupted"},
      {"exec", "dave", "127.0.0.1:5", "/", {}, &command, &exited, {}, nullptr, {}, {}, {}, "interrupted"},
  };
  for (const AuditEvent& event : events) (*log)->Record(event);
  const auto lines = Lines(path);
  ASSERT_EQ(lines.size(), events.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json parsed = json::parse(lines[i]);
    ASSERT_TRUE(parsed.contains("time")) << lines[i];
    json expected = ObjectOf(events[i]);
    expected["time"] = parsed["time"];
    EXPECT_EQ(expected.dump(-1, ' ', false, json::error_handler_t::replace), lines[i]);
  }
  auto field = [&](std::size_t i, const char* key) { return json::parse(lines[i]).value(key, json()); };
  EXPECT_EQ(field(1, "user"), "alice");
  EXPECT_EQ(field(1, "address"), "[::1]:2");
  EXPECT_EQ(field(1, "bytes"), 18446744073709551615ull);
  EXPECT_EQ(field(2, "path"), "/q\"\\\n\x01\x7f/ü/\xef\xbf\xbd\xef\xbf\xbd.bin");
  EXPECT_EQ(field(3, "stopped"), "time_limit");
  EXPECT_EQ(field(4, "stopped"), "interrupted");
  EXPECT_EQ(field(4, "exit_status"), -1);
}

}  // namespace
}  // namespace ferry::service
