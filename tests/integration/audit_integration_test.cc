// The audit log: one JSON line per login, logout, upload, download, delete, rename and mkdir, reopened on SIGHUP.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/audit_lines.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
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

// Every attempt to change something gets its line, whatever its result: a read-only account's upload, mkdir, rm and
// mv (EPERM); an upload the quota stops midway (FTP declares no size: EQUOTA); an upload whose connection dropped
// (stopped "interrupted", with the bytes that arrived); and a program the account may not run, with its command.
TEST(AuditIntegration, RefusedWritesInterruptedUploadsAndRefusedProgramsAreRecorded) {
  TestServerOptions options = WithConfig("[ftp]\nrequire_tls = false\n");
  options.ftp = true;
  TestServer server(options);
  ASSERT_TRUE(server.started());
  auto ferryd = [&](std::vector<std::string> args) {
    args.insert(args.begin(), FerrydPath());
    args.insert(args.begin() + 3, {"--root", server.root()});
    const auto result = RunProcess(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
  };
  ferryd({"user", "set-perm", "bob", "--read-only"});
  ferryd({"user", "set-quota", "alice", "64K"});
  WriteFile(server.home("bob") + "/keep.txt", "kept");
  TempDir local;
  WriteFile(local / "small.txt", "small");
  WriteFile(local / "big.bin", std::string(200 * 1024, 'x'));
  for (const std::vector<std::string>& refused :
       {std::vector<std::string>{"put", local / "small.txt", "small.txt"}, {"mkdir", "box"}, {"rm", "keep.txt"},
        {"mv", "keep.txt", "moved.txt"}, {"exec", "true"}}) {
    EXPECT_NE(server.Client("bob", "bob-secret", refused).exit_code, 0) << refused[0];
  }
  const std::string ftp_root = "ftp://127.0.0.1:" + std::to_string(server.ftp_port()) + "/";
  const auto rnfr = RunProcess({"/usr/bin/curl", "-sS", "--max-time", "60", "-u", "bob:bob-secret", "-Q",
                                "RNFR keep.txt", "-Q", "RNTO moved.txt", ftp_root});
  EXPECT_NE(rnfr.exit_code, 0) << rnfr.out;
  const auto over = RunProcess({"/usr/bin/curl", "-sS", "--max-time", "60", "-u", "alice:alice-secret", "-T",
                                local / "big.bin",
                                ftp_root + "big.bin"});
  EXPECT_NE(over.exit_code, 0) << over.err;
  {
    RawClient client(server.port());
    ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
    const auto begun = client.Call({{"op", "put"}, {"path", "cut.bin"}, {"size", 10000}});
    ASSERT_TRUE(begun.value("ok", false)) << begun.dump();
    ASSERT_TRUE(client.SendFrame({{"op", "data"}, {"ref", begun["id"]}}, std::string(1000, 'c')));
    ASSERT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));  // the data has been taken in
    client.Reset();
  }
  server.Stop();  // every session has ended

  const auto lines = AuditLines(server.root() + "/audit.log");
  // Exactly one line for each attempt: what names it (event, user, path, protocol) appears once, with its result.
  const auto one = [&](const std::string& event, const Json& names, const Json& result) -> Json {
    std::vector<Json> found;
    for (const auto& line : lines) {
      bool match = line.value("event", "") == event;
      for (const auto& [key, value] : names.items()) match = match && line.contains(key) && line[key] == value;
      if (match) found.push_back(line);
    }
    EXPECT_EQ(found.size(), 1u) << event << " " << names.dump() << ": " << Json(found).dump();
    if (found.size() != 1) return nullptr;
    for (const auto& [key, value] : result.items()) EXPECT_EQ(found[0].value(key, Json()), value) << found[0].dump();
    return found[0];
  };
  const Json eperm = {{"result", "EPERM"}};
  one("upload", {{"user", "bob"}, {"path", "/small.txt"}}, eperm);
  one("mkdir", {{"user", "bob"}, {"path", "/box"}}, eperm);
  one("delete", {{"user", "bob"}, {"path", "/keep.txt"}}, eperm);
  one("rename", {{"user", "bob"}, {"path", "/keep.txt"}, {"protocol", "ferry"}},
      {{"to", "/moved.txt"}, {"result", "EPERM"}});
  one("rename", {{"user", "bob"}, {"path", "/keep.txt"}, {"protocol", "ftp"}}, eperm);
  one("exec", {{"user", "bob"}}, {{"command", Json::array({"true"})}, {"result", "EPERM"}});
  const Json quota =
      one("upload", {{"user", "alice"}, {"path", "/big.bin"}, {"protocol", "ftp"}}, {{"result", "EQUOTA"}});
  EXPECT_FALSE(quota.is_null() || quota.contains("stopped")) << quota.dump();
  one("upload", {{"user", "alice"}, {"path", "/cut.bin"}},
      {{"result", "EIO"}, {"bytes", 1000}, {"stopped", "interrupted"}});
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
