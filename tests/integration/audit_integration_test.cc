// The audit log: one JSON line per login, logout, upload, download, delete, rename and mkdir, reopened on SIGHUP.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/audit_lines.h"
#include "support/temp_dir.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using protocol::Json;

// The lines of the audit log at `path`; each must be a JSON object (the test fails for any other).
std::vector<Json> AuditLines(const std::string& path) {
  std::vector<Json> lines;
  for (Json& line : ReadAuditLines(path)) {
    EXPECT_TRUE(line.is_object()) << (line.is_discarded() ? std::string("a line that is not JSON") : line.dump());
    if (line.is_object()) lines.push_back(std::move(line));
  }
  return lines;
}

// The first line for `event` whose fields include all of `expected`, or null.
Json FindLine(const std::vector<Json>& lines, const std::string& event, const Json& expected) {
  for (const auto& line : lines) {
    if (line.value("event", "") != event) continue;
    bool all = true;
    for (const auto& [key, value] : expected.items()) all = all && line.contains(key) && line[key] == value;
    if (all) return line;
  }
  return nullptr;
}

TEST(AuditIntegration, EveryKindOfEventIsOneJsonLine) {
  TestServer server;
  ASSERT_TRUE(server.started());
  TempDir local;
  WriteFile(local / "up.txt", "twelve bytes");
  EXPECT_NE(server.Client("alice", "wrong", {"pwd"}).exit_code, 0);
  const std::string batch = "mkdir box\nput " + (local / "up.txt") + " box/up.txt\nget box/up.txt " +
                            (local / "down.txt") + "\nmv box/up.txt box/moved.txt\nrm box/moved.txt\nrmdir box\n";
  const auto run = server.Client("alice", "alice-secret", {"-q", "-b", "-"}, batch);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  server.Stop();  // every session has ended: its logout is written

  const auto lines = AuditLines(server.root() + "/audit.log");
  for (const auto& line : lines) {
    EXPECT_TRUE(line.contains("time") && line.contains("address") && line.contains("result")) << line.dump();
    EXPECT_EQ(line.dump().find(server.root()), std::string::npos) << "server path in " << line.dump();
  }
  EXPECT_FALSE(FindLine(lines, "login", {{"user", "alice"}, {"result", "EAUTH"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "login", {{"user", "alice"}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "mkdir", {{"path", "/box"}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "upload", {{"path", "/box/up.txt"}, {"bytes", 12}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "download", {{"path", "/box/up.txt"}, {"bytes", 12}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "rename", {{"path", "/box/up.txt"}, {"to", "/box/moved.txt"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "delete", {{"path", "/box/moved.txt"}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "delete", {{"path", "/box"}, {"result", "ok"}}).is_null());
  EXPECT_FALSE(FindLine(lines, "logout", {{"user", "alice"}}).is_null());
}

TEST(AuditIntegration, FailuresAreRecordedWithTheirCode) {
  TestServer server;
  ASSERT_TRUE(server.started());
  EXPECT_NE(server.Client("alice", "alice-secret", {"rm", "nothing-here"}).exit_code, 0);
  const auto lines = AuditLines(server.root() + "/audit.log");
  EXPECT_FALSE(FindLine(lines, "delete", {{"path", "/nothing-here"}, {"result", "ENOENT"}}).is_null());
}

TEST(AuditIntegration, SighupReopensTheLogForLogrotate) {
  TestServer server;
  ASSERT_TRUE(server.started());
  ASSERT_EQ(server.Client("alice", "alice-secret", {"pwd"}).exit_code, 0);
  const std::string log = server.root() + "/audit.log";
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  server.process().Signal(SIGHUP);
  ASSERT_TRUE(server.process().WaitForStderrLine("reopened the audit log", std::chrono::seconds(20)));
  ASSERT_EQ(server.Client("bob", "bob-secret", {"pwd"}).exit_code, 0);
  EXPECT_FALSE(FindLine(AuditLines(log), "login", {{"user", "bob"}}).is_null());
  EXPECT_TRUE(FindLine(AuditLines(log), "login", {{"user", "alice"}}).is_null());
  EXPECT_FALSE(FindLine(AuditLines(log + ".1"), "login", {{"user", "alice"}}).is_null());
}

}  // namespace
}  // namespace ferry::testing
