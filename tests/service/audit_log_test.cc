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
  // transfer's word on why it stopped, and a program's exit status.
  (*log)->Record({"login", "alice", "127.0.0.1:1", {}, {}, nullptr, nullptr, {}, nullptr, "ferry", "password", {}, {}});
  (*log)->Record({"rename", "alice", "[::1]:2", "/a b.txt", "/c~d.txt", nullptr, nullptr, 18446744073709551615ull,
                  &failed, "ftp", "publickey", "SHA256:abc+/=", "interrupted"});
  (*log)->Record({"upload", "bob", "127.0.0.1:3", "/q\"\\\n\x01\x7f/ü/\xff\xfe.bin", {}, nullptr, nullptr, 0, nullptr,
                  "sftp", {}, {}, {}});
  (*log)->Record({"exec", "carol", "127.0.0.1:4", "/", {}, &command, &killed, 12, nullptr, "ferry", {}, {},
                  "interrupted"});
  (*log)->Record({"exec", "carol", "127.0.0.1:4", "/", {}, &command, &exited, {}, nullptr, {}, {}, {}, {}});
  const auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 5u);
  for (const std::string& line : lines) {
    const json parsed = json::parse(line);
    EXPECT_EQ(parsed.dump(-1, ' ', false, json::error_handler_t::replace), line);
    EXPECT_TRUE(parsed.contains("time")) << line;
  }
  auto field = [&](std::size_t i, const char* key) { return json::parse(lines[i]).value(key, json()); };
  EXPECT_EQ(field(0, "event"), "login");
  EXPECT_EQ(field(0, "method"), "password");
  EXPECT_EQ(field(0, "result"), "ok");
  EXPECT_FALSE(json::parse(lines[0]).contains("path"));
  EXPECT_FALSE(json::parse(lines[0]).contains("bytes"));
  EXPECT_EQ(field(1, "to"), "/c~d.txt");
  EXPECT_EQ(field(1, "bytes"), 18446744073709551615ull);
  EXPECT_EQ(field(1, "result"), failed.code_name());
  EXPECT_EQ(field(1, "key"), "SHA256:abc+/=");
  EXPECT_EQ(field(1, "stopped"), "interrupted");
  EXPECT_EQ(field(2, "path"), "/q\"\\\n\x01\x7f/ü/\xef\xbf\xbd\xef\xbf\xbd.bin");
  EXPECT_EQ(field(2, "bytes"), 0);
  EXPECT_EQ(field(3, "command"), json(command));
  EXPECT_EQ(field(3, "signal"), 9);
  EXPECT_EQ(field(3, "stopped"), "time_limit");
  EXPECT_FALSE(json::parse(lines[3]).contains("exit_status"));
  EXPECT_EQ(field(4, "exit_status"), -1);
  EXPECT_FALSE(json::parse(lines[4]).contains("stopped"));
  EXPECT_FALSE(json::parse(lines[4]).contains("protocol"));
}

}  // namespace
}  // namespace ferry::service
