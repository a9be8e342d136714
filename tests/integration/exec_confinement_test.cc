// What bounds a program run with exec, against a real ferryd and the real client: the user's quota watched while
// the program runs, the size of its /tmp and /dev/shm, the programs one user may run at once, no host path in its
// /proc, the process limit under root (pids cgroups), and what the audit log keeps of a run.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/audit_lines.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using protocol::Json;
using ::testing::HasSubstr;
using ::testing::Not;

void GrantExec(const TestServer& server, const std::string& user) {
  const auto result = RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), user, "--exec"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

void SetQuota(const TestServer& server, const std::string& user, const std::string& size,
              const std::string& max_files = "") {
  std::vector<std::string> argv = {FerrydPath(), "user", "set-quota", "--root", server.root(), user, size};
  if (!max_files.empty()) argv.insert(argv.end(), {"--max-files", max_files});
  const auto result = RunProcess(argv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Bytes of regular files and number of entries under `home`, as the quota counts them.
std::pair<std::uint64_t, std::uint64_t> UsageOnDisk(const std::string& home) {
  std::uint64_t bytes = 0;
  std::uint64_t entries = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(home)) {
    ++entries;
    if (entry.is_regular_file() && !entry.is_symlink()) bytes += entry.file_size();
  }
  return {bytes, entries};
}

// The exec lines of the server's audit log.
std::vector<Json> ExecAuditLines(const TestServer& server) {
  std::vector<Json> lines;
  for (Json& line : ReadAuditLines(server.root() + "/audit.log")) {
    if (line.is_object() && line.value("event", "") == "exec") lines.push_back(std::move(line));
  }
  return lines;
}

// The quota as the server reports it to alice.
Json AliceQuota(const TestServer& server) {
  RawClient raw(server.port());
  if (!raw.HelloAndLogin("alice", "alice-secret")) return Json();
  return raw.Call({{"op", "quota"}});
}

TEST(ExecConfinement, AProgramPastTheByteQuotaIsStoppedAndUsageIsExactAfterwards) {
  TestServer server(WithConfig("[exec]\ntime_limit_seconds = 20\n"));
  GrantExec(server, "alice");
  SetQuota(server, "alice", "1M");
  // 30 MB in 100 KiB files (each well under the room RLIMIT_FSIZE leaves), then it would wait: only a stop ends it.
  const auto result = server.Client(
      "alice", "alice-secret",
      {"exec", "sh", "-c",
       "i=0; while [ $i -lt 300 ]; do head -c 102400 /dev/zero > f$i; i=$((i+1)); done; exec sleep 47.25"});
  EXPECT_EQ(result.exit_code, 137) << result.err;  // killed, and said why
  EXPECT_THAT(result.err, HasSubstr("stopped: the program passed your quota"));
  EXPECT_THAT(result.err, Not(HasSubstr("time limit")));
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 47.25") == 0; }));
  // Usage is what the home holds.
  // Named variables, not a structured binding: clang 14 cannot capture those in the lambda below.
  const auto on_disk = UsageOnDisk(server.home("alice"));
  const std::uint64_t bytes = on_disk.first;
  const std::uint64_t entries = on_disk.second;
  EXPECT_GT(bytes, 1024u * 1024u);
  Json quota;
  EXPECT_TRUE(WaitUntil([&] {
    quota = AliceQuota(server);
    return quota.value("bytes", std::uint64_t{0}) == bytes;
  })) << quota.dump() << " on disk: " << bytes;
  EXPECT_EQ(quota.value("files", std::uint64_t{0}), entries) << quota.dump();
  // The audit line says so.
  std::vector<Json> lines;
  ASSERT_TRUE(WaitUntil([&] { return !(lines = ExecAuditLines(server)).empty(); }));
  EXPECT_EQ(lines.back().value("stopped", ""), "quota") << lines.back().dump();
  EXPECT_EQ(lines.back().value("result", ""), "ok") << lines.back().dump();
}

TEST(ExecConfinement, AProgramPastTheFileQuotaIsStopped) {
  TestServer server(WithConfig("[exec]\ntime_limit_seconds = 20\n"));
  GrantExec(server, "alice");
  SetQuota(server, "alice", "100M", "50");
  const auto result = server.Client(
      "alice", "alice-secret",
      {"exec", "sh", "-c", "i=0; while [ $i -lt 300 ]; do : > e$i; i=$((i+1)); done; exec sleep 47.5"});
  EXPECT_EQ(result.exit_code, 137) << result.err;
  EXPECT_THAT(result.err, HasSubstr("stopped: the program passed your quota"));
  EXPECT_THAT(result.err, HasSubstr("files of 50"));
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 47.5") == 0; }));
  const std::uint64_t entries = UsageOnDisk(server.home("alice")).second;
  Json quota;
  EXPECT_TRUE(WaitUntil([&] {
    quota = AliceQuota(server);
    return quota.value("files", std::uint64_t{0}) == entries;
  })) << quota.dump() << " on disk: " << entries;
}

TEST(ExecConfinement, TmpAndDevShmAreBoundedAndDevIsReadOnly) {
  TestServer server(WithConfig("[exec]\ntmp_size_bytes = 4194304\n"));
  GrantExec(server, "alice");
  const auto result = server.Client(
      "alice", "alice-secret",
      {"exec", "sh", "-c",
       "if head -c 8388608 /dev/zero > /tmp/big; then echo tmp=written; else echo tmp=full; fi; "
       "if head -c 8388608 /dev/zero > /dev/shm/big; then echo shm=written; else echo shm=full; fi; "
       "if echo x > /dev/new-file; then echo dev=written; else echo dev=refused; fi; "
       "rm /tmp/big; head -c 3000000 /dev/zero > /tmp/small && echo small=written; "
       "echo x > /dev/null && head -c 4 /dev/urandom | wc -c"});
  EXPECT_EQ(result.out, "tmp=full\nshm=full\ndev=refused\nsmall=written\n4\n") << result.err;
  // ENOSPC, twice: the bound is the file system's size, not a limit on one file.
  std::size_t full = 0;
  for (std::size_t at = 0; (at = result.err.find("No space left on device", at)) != std::string::npos; ++at) ++full;
  EXPECT_EQ(full, 2u) << result.err;
  EXPECT_THAT(result.err, HasSubstr("Read-only file system"));
}

TEST(ExecConfinement, OneUserCannotTakeEveryProgramSlot) {
  TestServer server(WithConfig("[exec]\nmax_programs_per_user = 2\n"));
  GrantExec(server, "alice");
  GrantExec(server, "bob");
  std::vector<std::unique_ptr<RawClient>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(std::make_unique<RawClient>(server.port()));
    ASSERT_TRUE(running.back()->HelloAndLogin("alice", "alice-secret"));
    ASSERT_TRUE(running.back()->SendFrame({{"op", "exec"}, {"id", 5}, {"argv", {"sleep", "48.25"}}}));
    const auto started = running.back()->ReadFrame();
    ASSERT_TRUE(started && started->header.value("ok", false));
  }
  // A third of alice's is refused, naming the per-user limit...
  const auto third = server.Client("alice", "alice-secret", {"exec", "true"});
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_THAT(third.err, HasSubstr("max_programs_per_user"));
  RawClient raw(server.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  const Json refused = raw.Call({{"op", "exec"}, {"argv", {"true"}}});
  EXPECT_EQ(refused.value("code", ""), "EBUSY") << refused.dump();
  // ...while bob still runs his.
  const auto bobs = server.Client("bob", "bob-secret", {"exec", "echo", "bob runs"});
  EXPECT_EQ(bobs.exit_code, 0) << bobs.err;
  EXPECT_EQ(bobs.out, "bob runs\n");
  running.clear();  // their programs go with their connections
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 48.25") == 0; }));
  const auto again = server.Client("alice", "alice-secret", {"exec", "echo", "again"});
  EXPECT_EQ(again.out, "again\n") << again.err;
}

TEST(ExecConfinement, TheSandboxsCommandLinesAndEnvironmentShowNoHostPath) {
  TestServer server;
  GrantExec(server, "alice");
  char real[PATH_MAX];
  ASSERT_NE(::realpath(server.root().c_str(), real), nullptr);
  const std::string root_name = std::filesystem::path(real).filename();
  const auto result = server.Client(
      "alice", "alice-secret",
      {"exec", "sh", "-c",
       "cat /proc/1/cmdline; echo; cat /proc/self/cmdline; echo; cat /proc/1/environ; echo; cat /proc/self/environ"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("bwrap"));  // what was read is there...
  EXPECT_THAT(result.out, Not(HasSubstr(real))) << result.out;  // ...and no path of the server's
  EXPECT_THAT(result.out, Not(HasSubstr(root_name))) << result.out;
  EXPECT_THAT(result.out, Not(HasSubstr("/homes/"))) << result.out;
  // bubblewrap's set-up descriptor is not left open for the program.
  const auto fds = server.Client("alice", "alice-secret", {"exec", "ls", "/proc/self/fd"});
  EXPECT_EQ(fds.out, "0\n1\n2\n3\n") << fds.out;  // stdin, stdout, stderr, and ls's own listing of the folder
}

// The mountinfo line of the sandbox's home (mounted at /home/USER), split into its fields; empty if there is none.
std::vector<std::string> HomeMountFields(const std::string& mountinfo, const std::string& user) {
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;) fields.push_back(word);
    if (fields.size() > 4 && fields[4] == "/home/" + user) return fields;
  }
  return {};
}

TEST(ExecConfinement, TheServerSaysWhenProgramsCanReadWhereTheDataRootIs) {
  TestServer server;
  GrantExec(server, "alice");
  char real[PATH_MAX];
  ASSERT_NE(::realpath(server.root().c_str(), real), nullptr);
  // A data root in a temporary folder is not the top of a file system: the kernel shows the home's bind mount with
  // its path on the host, and the server says so when it starts.
  EXPECT_THAT(server.process().stderr_so_far(),
              HasSubstr("programs run with exec can read where their home is (" + std::string(real) + "/homes/NAME)"));
  const auto result = server.Client("alice", "alice-secret", {"exec", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto fields = HomeMountFields(result.out, "alice");
  ASSERT_FALSE(fields.empty()) << result.out;
  EXPECT_EQ(fields[3], std::string(real) + "/homes/alice") << result.out;
}

TEST(ExecConfinement, ADataRootOnAFileSystemOfItsOwnShowsProgramsNoHostPath) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a file system for the data root needs root";
  if (::access("/usr/bin/unshare", X_OK) != 0 || ::access("/usr/bin/nsenter", X_OK) != 0) {
    GTEST_SKIP() << "no unshare(1) or nsenter(1)";
  }
  // The server starts in a mount namespace of its own, where its data root is a tmpfs holding a copy of what the
  // test made: nothing is mounted where the rest of the machine can see it, and it all goes with the server.
  TempDir parent;
  TempDir stage;
  TestServerOptions options;
  options.root_parent = parent.path();
  options.launch_prefix = {"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                           "set -e; root=$(echo \"$1\"/*); mount -t tmpfs -o size=64m ferry-data \"$2\"; "
                           "cp -a \"$root\"/. \"$2\"/; mount --move \"$2\" \"$root\"; shift 2; exec \"$@\"",
                           "sh", parent.path(), stage.path()};
  TestServer server(options);
  ASSERT_TRUE(server.started()) << server.process().stderr_so_far();
  // The permission goes into the server's copy of the user database, in its mount namespace.
  const auto granted = RunProcess({"/usr/bin/nsenter", "--mount", "--target", std::to_string(server.process().pid()), "--",
                                   FerrydPath(), "user", "set-perm", "--root", server.root(), "alice", "--exec"});
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  EXPECT_THAT(server.process().stderr_so_far(), Not(HasSubstr("programs run with exec can read where")));
  const auto result = server.Client("alice", "alice-secret", {"exec", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto fields = HomeMountFields(result.out, "alice");
  ASSERT_FALSE(fields.empty()) << result.out;
  EXPECT_EQ(fields[3], "/homes/alice") << result.out;
  char real[PATH_MAX];
  ASSERT_NE(::realpath(parent.path().c_str(), real), nullptr);
  EXPECT_THAT(result.out, Not(HasSubstr(real))) << result.out;
  EXPECT_THAT(result.out, Not(HasSubstr(stage.path()))) << result.out;
}

// The pids cgroup folder of the server with process id `pid`, under v1 or v2; "" if there is none.
std::string ServerCgroup(pid_t pid) {
  for (const std::string base : {"/sys/fs/cgroup", "/sys/fs/cgroup/pids"}) {
    const std::string path = base + "/ferryd-" + std::to_string(pid);
    if (std::filesystem::is_directory(path)) return path;
  }
  return "";
}

// Whether this process could create a pids cgroup (v2 with the pids controller, or v1).
bool PidsCgroupWritable() {
  if (::geteuid() != 0) return false;
  const std::string controllers = ReadFile("/sys/fs/cgroup/cgroup.controllers");
  if (controllers.find("pids") != std::string::npos) return ::access("/sys/fs/cgroup", W_OK) == 0;
  return ::access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) == 0;
}

TEST(ExecConfinement, TheProcessLimitHoldsForAServerRunningAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root is exempt from RLIMIT_NPROC; as another user the rlimit holds";
  if (!PidsCgroupWritable()) GTEST_SKIP() << "no writable pids cgroup controller on this machine";
  TestServer server(WithConfig("[exec]\nmax_processes = 20\ntime_limit_seconds = 20\n"));
  GrantExec(server, "alice");
  const std::string cgroup = ServerCgroup(server.process().pid());
  ASSERT_FALSE(cgroup.empty()) << "the server made no pids cgroup";
  // Up to 200 background processes, each announced once it started; a fork that fails ends the shell.
  const auto result = server.Client(
      "alice", "alice-secret",
      {"exec", "sh", "-c", "n=0; while [ $n -lt 200 ]; do sleep 48.75 & n=$((n+1)); echo $n; done; echo all"});
  EXPECT_THAT(result.out, Not(HasSubstr("all")));
  std::istringstream lines(result.out);
  int started = 0;
  for (std::string line; std::getline(lines, line);) started = std::max(started, std::stoi(line));
  EXPECT_GT(started, 0) << result.err;
  EXPECT_LT(started, 20) << "bwrap's own processes count too";
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 48.75") == 0; }));
  // The program's cgroup went with it; the server's goes with the server.
  EXPECT_TRUE(WaitUntil([&] {
    for (const auto& entry : std::filesystem::directory_iterator(cgroup)) {
      if (entry.is_directory()) return false;
    }
    return true;
  }));
  const auto stopped = server.Stop();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_FALSE(std::filesystem::exists(cgroup));
}

TEST(ExecConfinement, TheAuditLogKeepsTheArgumentsAndHowTheProgramEnded) {
  TestServer server(WithConfig("[exec]\ntime_limit_seconds = 1\n"));
  GrantExec(server, "alice");
  EXPECT_EQ(server.Client("alice", "alice-secret", {"exec", "sh", "-c", "exit 3"}).exit_code, 3);
  EXPECT_EQ(server.Client("alice", "alice-secret", {"exec", "sh", "-c", "kill -9 $$"}).exit_code, 137);
  EXPECT_NE(server.Client("alice", "alice-secret", {"exec", "sleep", "49.25"}).exit_code, 0);
  EXPECT_EQ(server.Client("alice", "alice-secret", {"exec", "echo", "a b", "c"}).exit_code, 0);
  EXPECT_EQ(server.Client("bob", "bob-secret", {"exec", "true"}).exit_code, 1);
  std::vector<Json> lines;
  ASSERT_TRUE(WaitUntil([&] { return (lines = ExecAuditLines(server)).size() == 5; })) << lines.size();
  EXPECT_EQ(lines[0]["command"], Json::array({"sh", "-c", "exit 3"})) << lines[0].dump();
  EXPECT_EQ(lines[0].value("result", ""), "ok") << lines[0].dump();
  EXPECT_EQ(lines[0].value("exit_status", -1), 3) << lines[0].dump();
  EXPECT_FALSE(lines[0].contains("stopped")) << lines[0].dump();
  // bubblewrap reports a program a signal ended as 128 + the signal, as a shell does.
  EXPECT_EQ(lines[1].value("result", ""), "ok") << lines[1].dump();
  EXPECT_EQ(lines[1].value("exit_status", -1), 137) << lines[1].dump();
  // The server's own kill (of bubblewrap) is a signal.
  EXPECT_EQ(lines[2].value("stopped", ""), "time_limit") << lines[2].dump();
  EXPECT_EQ(lines[2].value("signal", -1), 9) << lines[2].dump();
  EXPECT_FALSE(lines[2].contains("exit_status")) << lines[2].dump();
  EXPECT_EQ(lines[3]["command"], Json::array({"echo", "a b", "c"})) << lines[3].dump();
  EXPECT_EQ(lines[3].value("exit_status", -1), 0) << lines[3].dump();
  EXPECT_EQ(lines[3].value("bytes", -1), 6) << lines[3].dump();  // its output
  EXPECT_EQ(lines[4].value("user", ""), "bob") << lines[4].dump();
  EXPECT_EQ(lines[4].value("result", ""), "EPERM") << lines[4].dump();
  EXPECT_EQ(lines[4]["command"], Json::array({"true"})) << lines[4].dump();
  EXPECT_FALSE(lines[4].contains("exit_status")) << lines[4].dump();
}

}  // namespace
}  // namespace ferry::testing
