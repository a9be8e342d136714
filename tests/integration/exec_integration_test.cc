// Remote execution and the UDP ping service against a real ferryd: output streams and exit status through the real
// client, arguments without a shell, the exec permission, limits (time, output), the kill on disconnect, and what the
// sandbox lets a program see.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using protocol::Json;
using ::testing::HasSubstr;

void GrantExec(const TestServer& server, const std::string& user) {
  const auto result = RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), user, "--exec"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Waits (bounded) until no command line starts with `marker`; true if that happened.
bool NoProcessLeft(const std::string& marker) {
  return WaitUntil([&] { return ProcessesWith(marker) == 0; }, std::chrono::seconds(10));
}

// alice may run programs, bob may not.
class ExecIntegration : public ::testing::Test {
 protected:
  void SetUp() override { GrantExec(server_, "alice"); }

  ProcessResult Alice(const std::vector<std::string>& args, const std::string& input = "") {
    return server_.Client("alice", "alice-secret", args, input);
  }

  TestServer server_;
};

TEST_F(ExecIntegration, BothStreamsArriveCompleteAndSeparate) {
  const std::string data = RandomBytes(3 * 1024 * 1024, 21);
  WriteFile(server_.home("alice") + "/data.bin", data);
  const auto result = Alice({"exec", "sh", "-c", "cat data.bin; cat data.bin >&2; cat data.bin"});
  ASSERT_EQ(result.exit_code, 0) << result.err.substr(0, 200);
  EXPECT_TRUE(result.out == data + data) << "stdout has " << result.out.size() << " bytes";
  EXPECT_TRUE(result.err == data) << "stderr has " << result.err.size() << " bytes";
}

TEST_F(ExecIntegration, TheExitStatusPassesThrough) {
  EXPECT_EQ(Alice({"exec", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(Alice({"exec", "true"}).exit_code, 0);
  EXPECT_EQ(Alice({"exec", "sh", "-c", "kill -9 $$"}).exit_code, 137);
  // A program the server cannot find: as a shell says it, status 127, and nothing of the sandbox's own.
  const auto missing = Alice({"exec", "no-such-program-here"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err, "ferry: no-such-program-here: command not found\n");
}

TEST_F(ExecIntegration, ArgumentsArriveVerbatimWithoutAShell) {
  const auto result = Alice({"exec", "echo", "a;b", "$(id)", "*", "\"q\" 'r'", "x|y>z"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "a;b $(id) * \"q\" 'r' x|y>z\n");
  EXPECT_FALSE(Exists(server_.home("alice") + "/z"));
}

TEST_F(ExecIntegration, StdinIsPassedWithDashI) {
  const auto counted = Alice({"exec", "-i", "wc", "-l"}, "one\ntwo\nthree\n");
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_EQ(counted.out, "3\n");
  const std::string big = RandomBytes(2 * 1024 * 1024, 22);
  const auto echoed = Alice({"exec", "-i", "cat"}, big);
  ASSERT_EQ(echoed.exit_code, 0) << echoed.err;
  EXPECT_TRUE(echoed.out == big) << echoed.out.size();
  // Without -i the program's stdin is empty.
  EXPECT_EQ(Alice({"exec", "wc", "-c"}, "ignored").out, "0\n");
}

TEST_F(ExecIntegration, AUserWithoutThePermissionIsRefused) {
  const auto refused = server_.Client("bob", "bob-secret", {"exec", "true"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("bob", "bob-secret"));
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", {"true"}}}).value("code", ""), "EPERM");
  // Taking the permission away applies to open sessions.
  RawClient alice(server_.port());
  ASSERT_TRUE(alice.HelloAndLogin("alice", "alice-secret"));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-perm", "--root", server_.root(), "alice", "--no-exec"}).exit_code, 0);
  EXPECT_EQ(alice.Call({{"op", "exec"}, {"argv", {"true"}}}).value("code", ""), "EPERM");
}

TEST_F(ExecIntegration, TheShellFormIsRefusedUnlessTheServerAllowsIt) {
  const auto refused = Alice({"exec", "--shell", "echo hi | wc -c"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  // The wording is the point: this refusal and a missing exec permission are both EPERM; only the message tells
  // the user that the shell form is what the server refuses.
  EXPECT_THAT(refused.err, HasSubstr("without a shell"));
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", {"echo hi | wc -c"}}, {"shell", true}}).value("code", ""), "EPERM");
}

TEST_F(ExecIntegration, BadRequestsGetClearErrors) {
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  EXPECT_EQ(raw.Call({{"op", "exec"}}).value("code", ""), "EPROTO");
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", Json::array()}}).value("code", ""), "EPROTO");
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", {1, 2}}}).value("code", ""), "EPROTO");
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", Json::array({std::string("a\0b", 3)})}}).value("code", ""), "EINVAL");
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", std::vector<std::string>(5000, "x")}}).value("code", ""), "ETOOBIG");
  EXPECT_TRUE(raw.Call({{"op", "noop"}}).value("ok", false));
}

TEST_F(ExecIntegration, ProgramsRunInTheCurrentFolderAndTheirFilesCount) {
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(raw.Call({{"op", "mkdir"}, {"path", "docs"}}).value("ok", false));
  const auto made = Alice({"exec", "sh", "-c", "cd docs && pwd && head -c 5000 /dev/zero > made.bin"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, "/home/alice/docs\n");
  EXPECT_EQ(ReadFile(server_.home("alice") + "/docs/made.bin").size(), 5000u);
  // The quota counts what the program wrote.
  ASSERT_TRUE(raw.Call({{"op", "exec"}, {"argv", {"true"}}}).value("ok", false));
  while (true) {  // the rest of that program's frames, up to its last
    auto frame = raw.ReadFrame();
    ASSERT_TRUE(frame);
    if (!frame->header.value("more", true)) break;
  }
  const Json quota = raw.Call({{"op", "quota"}});
  EXPECT_EQ(quota.value("bytes", 0), 5000) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 2) << quota.dump();
}

TEST_F(ExecIntegration, TheSandboxShowsOnlyTheUsersOwnHomeAndNoNetwork) {
  WriteFile(server_.home("bob") + "/secret.txt", "bob's secret");
  const std::string root = server_.root();
  const auto other = Alice({"exec", "cat", root + "/homes/bob/secret.txt"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_THAT(other.out, ::testing::Not(HasSubstr("secret")));
  const auto db = Alice({"exec", "ls", root});
  EXPECT_NE(db.exit_code, 0);
  EXPECT_EQ(Alice({"exec", "ls", "/home"}).out, "alice\n");
  const auto key = Alice({"exec", "cat", root + "/tls/key.pem"});
  EXPECT_NE(key.exit_code, 0);
  EXPECT_THAT(key.out, ::testing::Not(HasSubstr("PRIVATE")));
  EXPECT_NE(Alice({"exec", "cat", "/etc/shadow"}).exit_code, 0);
  // The system's programs are there, read-only.
  const auto write_usr = Alice({"exec", "sh", "-c", "echo x > /usr/ferry-test"});
  EXPECT_NE(write_usr.exit_code, 0);
  EXPECT_FALSE(Exists("/usr/ferry-test"));
  // No network: no interface other than (at most) the namespace's own loopback...
  const auto interfaces = Alice({"exec", "cat", "/proc/net/dev"});
  ASSERT_EQ(interfaces.exit_code, 0) << interfaces.err;
  std::istringstream lines(interfaces.out);
  std::string line;
  for (int n = 0; std::getline(lines, line); ++n) {
    if (n < 2) continue;  // the two header lines
    const auto name_end = line.find(':');
    ASSERT_NE(name_end, std::string::npos) << line;
    const auto name_begin = line.find_first_not_of(' ');
    EXPECT_EQ(line.substr(name_begin, name_end - name_begin), "lo") << interfaces.out;
  }
  // ...and even the server listening on the host's loopback cannot be reached.
  const auto reach = Alice({"exec", "bash", "-c", "echo > /dev/tcp/127.0.0.1/" + std::to_string(server_.port())});
  EXPECT_NE(reach.exit_code, 0);
  // No capabilities, even when the server runs as root.
  const auto status = Alice({"exec", "grep", "CapEff", "/proc/self/status"});
  EXPECT_THAT(status.out, HasSubstr("0000000000000000"));
}

TEST_F(ExecIntegration, AProgramIsKilledWhenItsClientGoesAway) {
  {
    RawClient raw(server_.port());
    ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
    ASSERT_TRUE(raw.SendFrame({{"op", "exec"}, {"id", 7}, {"argv", {"sh", "-c", "sleep 41.25 & sleep 41.5"}}}));
    auto started = raw.ReadFrame();
    ASSERT_TRUE(started);
    EXPECT_TRUE(started->header.value("ok", false)) << started->header.dump();
    // Both sleeps exist before the client leaves.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ProcessesWith("sleep 41.") < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(ProcessesWith("sleep 41."), 2);
  }
  EXPECT_TRUE(NoProcessLeft("sleep 41."));
  // The server goes on.
  EXPECT_EQ(Alice({"exec", "echo", "still here"}).out, "still here\n");
}

TEST_F(ExecIntegration, TheClientCanKillItsProgram) {
  RawClient raw(server_.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(raw.SendFrame({{"op", "exec"}, {"id", 8}, {"argv", {"sleep", "42.5"}}}));
  auto started = raw.ReadFrame();
  ASSERT_TRUE(started && started->header.value("ok", false));
  ASSERT_TRUE(raw.SendFrame({{"op", "exec_kill"}, {"ref", 8}}));
  auto last = raw.ReadFrame();
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->header.value("more", true));
  EXPECT_TRUE(last->header.value("killed", false)) << last->header.dump();
  EXPECT_NE(last->header.value("exit_code", 0), 0);
  EXPECT_TRUE(NoProcessLeft("sleep 42.5"));
  // A request pipelined behind the program is answered after it.
  EXPECT_TRUE(raw.Call({{"op", "pwd"}}).value("ok", false));
}

// Ctrl-C in the client stops the program on the server, not the session: the batch goes on with its next line.
TEST_F(ExecIntegration, CtrlCInTheClientStopsTheProgramAndTheSessionGoesOn) {
  const auto client = server_.StartClient("alice", "alice-secret", {}, "-exec sleep 44.75\npwd\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ProcessesWith("sleep 44.75") < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(ProcessesWith("sleep 44.75"), 1);
  client->Signal(SIGINT);
  const auto result = client->Wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // The wording is the point: the batch goes on and ends with 0, so only the message says the program was stopped.
  EXPECT_THAT(result.err, HasSubstr("interrupted"));
  EXPECT_EQ(result.out, "/\n");
  EXPECT_TRUE(NoProcessLeft("sleep 44.75"));
}

// Over TLS the client must see records the TLS layer already holds; it used to wait for them now and then, after
// all the output had arrived, until killed. Each run is bounded, so a hang fails the test instead of stalling it.
TEST(ExecOverTls, ManyRunsOfLargeStdoutThenStderrAllEndComplete) {
  TestServer server(WithTls());
  GrantExec(server, "alice");
  // Pins the server's certificate first, so that stderr holds only the program's output.
  ASSERT_EQ(server.Client("alice", "alice-secret", {"pwd"}).exit_code, 0);
  const std::string script = "head -c 3000000 /dev/zero | tr '\\0' a; head -c 2000000 /dev/zero | tr '\\0' b >&2";
  for (int run = 0; run < 30; ++run) {
    const auto result =
        server.Client("alice", "alice-secret", {"exec", "sh", "-c", script}, "", std::chrono::seconds(20));
    ASSERT_FALSE(result.timed_out) << "run " << run << " did not end";
    ASSERT_EQ(result.exit_code, 0) << "run " << run << ": " << result.err.substr(0, 200);
    ASSERT_EQ(result.out.size(), 3000000u) << "run " << run;
    ASSERT_EQ(result.err.size(), 2000000u) << "run " << run;
    ASSERT_EQ(std::count(result.out.begin(), result.out.end(), 'a'), 3000000) << "run " << run;
    ASSERT_EQ(std::count(result.err.begin(), result.err.end(), 'b'), 2000000) << "run " << run;
  }
}

TEST(ExecLimits, TheTimeLimitKillsTheWholeProcessTree) {
  TestServer server(WithConfig("[exec]\ntime_limit_seconds = 1\n"));
  GrantExec(server, "alice");
  const auto result =
      server.Client("alice", "alice-secret", {"exec", "sh", "-c", "sleep 43.25 & sleep 43.5; echo never"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("time limit"));
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("never")));
  EXPECT_TRUE(NoProcessLeft("sleep 43."));
}

TEST(ExecLimits, OutputBeyondTheLimitIsDroppedAndTheClientIsTold) {
  TestServer server(WithConfig("[exec]\noutput_limit_bytes = 1000\n"));
  GrantExec(server, "alice");
  const auto result = server.Client("alice", "alice-secret", {"exec", "head", "-c", "100000", "/dev/zero"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), 1000u);
  EXPECT_THAT(result.err, HasSubstr("output truncated"));
}

TEST(ExecLimits, MemoryIsBounded) {
  TestServer server(WithConfig("[exec]\nmemory_limit_bytes = 67108864\n"));
  GrantExec(server, "alice");
  // head -c with a 200 MiB buffer size: the allocation fails under a 64 MiB address-space limit.
  const auto result = server.Client("alice", "alice-secret",
                                    {"exec", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo done"});
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("done")));
  // The same with a small buffer runs to the end, and the limits are what the config says.
  const auto small = server.Client("alice", "alice-secret",
                                   {"exec", "sh", "-c", "x=$(head -c 1000 /dev/zero | tr '\\0' a); echo done"});
  EXPECT_EQ(small.out, "done\n") << small.err;
  const auto limits = server.Client("alice", "alice-secret", {"exec", "sh", "-c", "ulimit -v; ulimit -n; ulimit -c"});
  EXPECT_EQ(limits.out, "65536\n256\n0\n") << limits.err;
}

TEST(ExecLimits, ShutdownKillsRunningPrograms) {
  TestServer server(WithConfig("[server]\nshutdown_grace_seconds = 2\n"));
  GrantExec(server, "alice");
  RawClient raw(server.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(raw.SendFrame({{"op", "exec"}, {"id", 3}, {"argv", {"sh", "-c", "sleep 45.25 & sleep 45.5"}}}));
  auto started = raw.ReadFrame();
  ASSERT_TRUE(started && started->header.value("ok", false));
  // Another session ran a program that has ended, and waits for its next request: idle.
  RawClient after(server.port());
  ASSERT_TRUE(after.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(after.SendFrame({{"op", "exec"}, {"id", 4}, {"argv", {"true"}}}));
  for (auto frame = after.ReadFrame(); frame && frame->header.value("more", false); frame = after.ReadFrame()) {
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ProcessesWith("sleep 45.") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(ProcessesWith("sleep 45."), 2);
  const auto stopped = server.Stop();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_TRUE(NoProcessLeft("sleep 45."));
  // The client is told why its program ended, and then why its session does.
  const auto end = raw.ReadFrame();
  ASSERT_TRUE(end.has_value()) << stopped.err;
  EXPECT_EQ(end->header.value("stopped", ""), "the server is shutting down") << end->header.dump();
  const auto farewell = raw.ReadFrame();
  ASSERT_TRUE(farewell.has_value());
  EXPECT_EQ(farewell->header.value("code", ""), "ESHUTDOWN") << farewell->header.dump();
  const auto idle_farewell = after.ReadFrame();
  ASSERT_TRUE(idle_farewell.has_value());
  EXPECT_EQ(idle_farewell->header.value("code", ""), "ESHUTDOWN") << idle_farewell->header.dump();
  // Neither held the server to the end of its grace period.
  EXPECT_EQ(stopped.err.find("grace period over"), std::string::npos) << stopped.err;
}

TEST(ExecLimits, TheShellFormWorksWhereAllowed) {
  TestServer server(WithConfig("[exec]\nallow_shell = true\n"));
  GrantExec(server, "alice");
  const auto result = server.Client("alice", "alice-secret", {"exec", "--shell", "echo hi | wc -c"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "3\n");
}

TEST(ExecLimits, WithoutTheSandboxProgramIsClearlyRefused) {
  TestServer server(WithConfig("[exec]\nbwrap = \"/nonexistent/bwrap\"\n"));
  GrantExec(server, "alice");
  const auto result = server.Client("alice", "alice-secret", {"exec", "true"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("bubblewrap"));  // names what the server lacks
  RawClient raw(server.port());
  ASSERT_TRUE(raw.HelloAndLogin("alice", "alice-secret"));
  EXPECT_EQ(raw.Call({{"op", "exec"}, {"argv", {"true"}}}).value("code", ""), "ENOSYS");
}

TEST(ExecLimits, TheSandboxCanBeTurnedOffExplicitly) {
  TestServer server(WithConfig("[exec]\nsandbox = false\n"));
  GrantExec(server, "alice");
  const auto result = server.Client("alice", "alice-secret", {"exec", "pwd"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  char real[PATH_MAX];
  ASSERT_NE(::realpath(server.home("alice").c_str(), real), nullptr);
  EXPECT_EQ(result.out, std::string(real) + "\n");
  const auto tree = server.Client("alice", "alice-secret", {"exec", "sh", "-c", "sleep 44.5 & echo started"});
  EXPECT_EQ(tree.out, "started\n");
  EXPECT_TRUE(NoProcessLeft("sleep 44.5"));  // what it left behind went with it
}

// A free UDP port on 127.0.0.1 (bound, read and released).
std::uint16_t UnusedUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Sends `datagram` to the server's port and returns what comes back within `wait` ("" if nothing).
std::vector<std::string> Exchange(std::uint16_t port, const std::vector<std::string>& datagrams,
                                  std::chrono::milliseconds wait) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  for (const auto& datagram : datagrams) {
    ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  std::vector<std::string> replies;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  char buffer[2048];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd readable{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) break;
    replies.emplace_back(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return replies;
}

TEST(Ping, ReportsRepliesLikePing) {
  TestServer server;
  const auto result = RunProcess({FerryPath(), "ping", "-c", "3", "-i", "0.05", server.address()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("3 probes transmitted, 3 received, 0% loss"));
  EXPECT_THAT(result.out, HasSubstr("seq=3 time="));
  EXPECT_THAT(result.out, HasSubstr("rtt min/avg/max = "));
}

TEST(Ping, ReportsLossAgainstAClosedPort) {
  const auto result = RunProcess(
      {FerryPath(), "ping", "-c", "2", "-i", "0.05", "-W", "0.3", "127.0.0.1:" + std::to_string(UnusedUdpPort())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("2 probes transmitted, 0 received, 100% loss"));
}

TEST(Ping, RepliesAreNeverLargerThanProbesAndCarryOnlyTheVersion) {
  TestServer server;
  const std::string probe = std::string("FRY?") + '\x01' + "0123456789abcdef";
  const auto replies = Exchange(server.port(), {probe}, std::chrono::milliseconds(2000));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].size(), probe.size());
  EXPECT_EQ(replies[0], std::string("FRY!") + '\x01' + "0123456789abcdef");
  // Not a probe, too short, too long: no answer at all.
  EXPECT_TRUE(Exchange(server.port(), {"hello there, server", "FRY?", std::string("FRY?") + std::string(2000, 'x')},
                       std::chrono::milliseconds(300))
                  .empty());
}

TEST(Ping, RepliesAreRateLimitedPerAddress) {
  TestServer server(WithConfig("[ping]\nreplies_per_second = 1\n"));
  const std::vector<std::string> probes(20, std::string("FRY?") + '\x01' + "12345678");
  const auto replies = Exchange(server.port(), probes, std::chrono::milliseconds(500));
  EXPECT_GE(replies.size(), 1u);
  EXPECT_LE(replies.size(), 3u);  // a burst of 2, and perhaps one more token while they were sent
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// The packaged unit runs ferryd with NoNewPrivileges=yes (packaging/ferryd.service.in): the sandbox must still work
// under it. setpriv sets the same flag (PR_SET_NO_NEW_PRIVS) that systemd does, and programs inherit it.
TEST(ExecUnderServiceHardening, ProgramsRunInTheSandboxUnderNoNewPrivileges) {
  TestServerOptions options;
  options.launch_prefix = {"/usr/bin/setpriv", "--no-new-privs", "--"};
  TestServer server(options);
  ASSERT_TRUE(server.started());
  GrantExec(server, "alice");
  const auto ran = server.Client("alice", "alice-secret", {"exec", "grep", "NoNewPrivs", "/proc/self/status"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_THAT(ran.out, ::testing::MatchesRegex("NoNewPrivs:\\s+1\n"));
  // Still inside the sandbox: the home is the only user data there.
  const auto home = server.Client("alice", "alice-secret", {"exec", "pwd"});
  EXPECT_EQ(home.out, "/home/alice\n") << home.err;
}

}  // namespace
}  // namespace ferry::testing
