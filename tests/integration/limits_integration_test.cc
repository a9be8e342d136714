// Timeouts and connection limits: a slow or silent client cannot hold a session, and one address cannot take
// every connection.
#include <signal.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/ftp_control.h"
#include "support/partial_upload.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "support/upload_frames.h"

namespace ferry::testing {
namespace {

using protocol::Json;

// The nice value of each thread of process `pid`, from /proc.
std::vector<int> ThreadNiceValues(pid_t pid) {
  std::vector<int> values;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i) {
      if (i == 19) values.push_back(std::stoi(field));  // field 19 of proc_pid_stat(5): nice
    }
  }
  return values;
}

TEST(LimitsIntegration, PasswordsAreVerifiedAtTheLowestPriorityAndSessionsRunAtTheNormalOne) {
  TestServer server(WithConfig("[server]\nthreads = 2\n[auth]\nlogin_workers = 3\n"));
  ASSERT_TRUE(server.started());
  for (int i = 0; i < 4; ++i) {
    const auto result = server.Client("alice", "alice-secret", {"ls"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  const auto nice = ThreadNiceValues(server.process().pid());
  const auto lowered = std::count(nice.begin(), nice.end(), 19);
  // Every worker that verified a password runs at nice 19 (at least one did); the two event loops (the main thread
  // runs one) and any worker still unused keep the normal priority.
  EXPECT_GE(lowered, 1);
  EXPECT_LE(lowered, 3);
  EXPECT_GE(std::count(nice.begin(), nice.end(), 0), 2);
  EXPECT_EQ(lowered + std::count(nice.begin(), nice.end(), 0), static_cast<long>(nice.size()));
}

TEST(LimitsIntegration, SilentConnectionIsClosedAtTheLoginTimeout) {
  TestServer server(WithConfig("[limits]\nlogin_timeout_seconds = 1\n"));
  ASSERT_TRUE(server.started());
  RawClient silent(server.port());
  EXPECT_TRUE(silent.WaitClosed(std::chrono::seconds(20)));
  // A slow client that trickles a frame without finishing it is cut off the same way.
  RawClient trickle(server.port());
  ASSERT_TRUE(trickle.SendRaw(std::string("\0\0\0\x40{\"op\":", 10)));
  EXPECT_TRUE(trickle.WaitClosed(std::chrono::seconds(20)));
  // Logging in in time is unaffected.
  RawClient prompt(server.port());
  EXPECT_TRUE(prompt.HelloAndLogin("alice", "alice-secret"));
}

TEST(LimitsIntegration, LoginTimeoutCountsFromConnectNotFromTheLastByte) {
  TestServer server(WithConfig("[limits]\nlogin_timeout_seconds = 2\n"));
  ASSERT_TRUE(server.started());
  RawClient client(server.port());
  ASSERT_FALSE(client.Call({{"op", "hello"}, {"versions", {1}}}).is_null());
  // Keeps talking, never logs in: noop answers do not extend the deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    closed = client.Call({{"op", "noop"}}).is_null();
  }
  EXPECT_TRUE(closed);
}

TEST(LimitsIntegration, IdleSessionIsClosedAtTheIdleTimeout) {
  TestServer server(WithConfig("[limits]\nidle_timeout_seconds = 1\n"));
  ASSERT_TRUE(server.started());
  RawClient client(server.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  EXPECT_TRUE(client.WaitClosed(std::chrono::seconds(20)));
}

TEST(LimitsIntegration, ClientThatStopsReadingIsClosed) {
  TestServer server(WithConfig("[limits]\nidle_timeout_seconds = 1\n"));
  ASSERT_TRUE(server.started());
  WriteFile(server.home("alice") + "/big.bin", std::string(64 * 1024 * 1024, 'b'));
  RawClient client(server.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  // Asks for 64 MiB and reads none of it: the server's writes stall until the idle timeout closes the session.
  ASSERT_TRUE(client.SendFrame({{"op", "get"}, {"id", 1}, {"path", "big.bin"}}));
  EXPECT_TRUE(server.process().WaitForStderrLine("the client stopped reading", std::chrono::seconds(30)));
  // Everyone else is still served.
  RawClient other(server.port());
  EXPECT_TRUE(other.HelloAndLogin("bob", "bob-secret"));
}

TEST(LimitsIntegration, UnfinishedTlsHandshakeIsClosed) {
  TestServer server(WithConfig("[limits]\nhandshake_timeout_seconds = 1\n", /*tls=*/true));
  ASSERT_TRUE(server.started());
  RawClient client(server.port());  // plain TCP: never starts the handshake
  EXPECT_TRUE(client.WaitClosed(std::chrono::seconds(20)));
}

TEST(LimitsIntegration, ConnectionsPerAddressAreLimited) {
  TestServer server(WithConfig("[limits]\nmax_connections_per_address = 3\n"));
  ASSERT_TRUE(server.started());
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server.port()));
    ASSERT_TRUE(held.back()->HelloAndLogin("alice", "alice-secret"));
  }
  RawClient refused(server.port());
  auto reply = refused.ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.value("code", ""), "EBUSY");
  EXPECT_TRUE(refused.WaitClosed());
  // Held sessions keep working, and a freed slot is usable again.
  EXPECT_EQ(held[0]->Call({{"op", "whoami"}}).value("user", ""), "alice");
  held.pop_back();
  bool admitted = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    RawClient again(server.port());
    admitted = again.HelloAndLogin("bob", "bob-secret");
  }
  EXPECT_TRUE(admitted);
}

// The resident memory of process `pid`, in KiB (VmRSS), or 0 if it cannot be read.
std::uint64_t ResidentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// Before login nothing needs a body: one declared in a header is refused there, before any of it is read, and the
// connection closes. So anonymous connections each pushing a megabyte leave nothing behind (each used to hold a
// 4 MiB buffer, and much of it stayed after they left), and 150 anonymous connections held open cost a few KiB each.
TEST(LimitsIntegration, AnonymousConnectionsCannotMakeTheServerHoldBodies) {
  TestServer server;
  ASSERT_TRUE(server.started());
  {
    RawClient warm(server.port());  // the first session's one-time allocations are not what is measured
    ASSERT_TRUE(warm.HelloAndLogin("alice", "alice-secret"));
  }
  const pid_t pid = server.process().pid();
  const std::uint64_t before = ResidentKib(pid);
  ASSERT_GT(before, 0u);
  constexpr int kClients = 150;
  const std::string megabyte(1 << 20, 'x');
  for (int i = 0; i < kClients; ++i) {
    RawClient pusher(server.port());
    std::string head;
    protocol::AppendFrameHeader(head, {{"op", "hello"}, {"id", 1}, {"versions", {1}}}, 4u << 20);
    ASSERT_TRUE(pusher.SendRaw(head));
    (void)pusher.SendRaw(megabyte);  // may fail once the server has closed: what matters is what it kept
    ASSERT_TRUE(pusher.WaitClosed(std::chrono::seconds(10))) << "connection " << i << " was not closed";
  }
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < kClients; ++i) {
    held.push_back(std::make_unique<RawClient>(server.port()));
    ASSERT_TRUE(held.back()->SendFrame({{"op", "hello"}, {"id", 1}, {"versions", {1}}}));
    auto hello = held.back()->ReadFrame(std::chrono::seconds(10));
    ASSERT_TRUE(hello.has_value());
    ASSERT_TRUE(hello->header.value("ok", false));
  }
  const std::uint64_t during = ResidentKib(pid);
  held.clear();
  // The bodies alone would be 150 MiB; what is allowed covers the sanitizer builds' red zones and quarantine.
  EXPECT_LT(during, before + 48 * 1024) << "KiB resident before " << before << ", with " << kClients
                                        << " anonymous connections open " << during;
  // The refusal is a clear error at the header.
  RawClient one(server.port());
  std::string head;
  protocol::AppendFrameHeader(head, {{"op", "hello"}, {"id", 1}, {"versions", {1}}}, 100);
  ASSERT_TRUE(one.SendRaw(head));
  auto reply = one.ReadFrame(std::chrono::seconds(10));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.value("code", ""), "ETOOBIG");
  EXPECT_NE(reply->header.value("message", "").find("before login"), std::string::npos) << reply->header.dump();
  EXPECT_TRUE(one.WaitClosed());
  // The server still serves everyone else.
  RawClient alice(server.port());
  EXPECT_TRUE(alice.HelloAndLogin("alice", "alice-secret"));
}

// A login name is the client's to choose: with a newline in it, it must not start a line of its own in the
// server's log, and escape sequences in it must not reach whoever reads the log.
TEST(LimitsIntegration, PeerStringsCannotForgeLogLines) {
  TestServer server;
  ASSERT_TRUE(server.started());
  RawClient client(server.port());
  ASSERT_TRUE(client.SendFrame({{"op", "hello"}, {"id", 1}, {"versions", {1}}}));
  ASSERT_TRUE(client.ReadFrame().has_value());
  const std::string name = "x\n2026-01-01T00:00:00.000 info FORGED\x1b[2J";
  ASSERT_TRUE(client.SendFrame({{"op", "login"}, {"id", 2}, {"user", name}, {"password", "p"}}));
  auto reply = client.ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.value("code", ""), "EAUTH");
  auto line = server.process().WaitForStderrLine("failed login", std::chrono::seconds(20));
  ASSERT_TRUE(line.has_value());
  EXPECT_NE(line->find("x\\n2026-01-01T00:00:00.000 info FORGED\\x1b[2J"), std::string::npos) << *line;
  const std::string log = server.process().stderr_so_far();
  EXPECT_EQ(log.find("\nFORGED"), std::string::npos);
  EXPECT_EQ(log.find("\n2026-01-01T00:00:00.000 info FORGED"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos);
}

TEST(LimitsIntegration, RepeatedFailedLoginsAreBlockedWithTheSameAnswer) {
  TestServer server(WithConfig("[auth]\nslow_after_failures = 100\nblock_after_failures = 3\nblock_seconds = 600\n"
                               "max_login_attempts = 20\n"));
  ASSERT_TRUE(server.started());
  RawClient client(server.port());
  ASSERT_FALSE(client.Call({{"op", "hello"}, {"versions", {1}}}).is_null());
  auto login = [&](const std::string& user, const std::string& password) {
    Json reply = client.Call({{"op", "login"}, {"user", user}, {"password", password}});
    reply.erase("id");
    return reply;
  };
  const Json wrong = login("alice", "guess-1");
  EXPECT_EQ(wrong.value("code", ""), "EAUTH");
  EXPECT_EQ(login("alice", "guess-2"), wrong);
  EXPECT_EQ(login("mallory", "guess-3"), wrong);
  // Blocked now, for this address: the right password gets the very same answer, for any name, known or not.
  EXPECT_EQ(login("alice", "alice-secret"), wrong);
  EXPECT_EQ(login("bob", "bob-secret"), wrong);
  EXPECT_EQ(login("nobody", "x"), wrong);
  EXPECT_TRUE(server.process().WaitForStderrLine("too many failures", std::chrono::seconds(10)));
}

// A stranger failing as alice from another machine (127.0.0.2 here) is blocked there; alice, logging in from her
// own address with her password, is not locked out by it.
TEST(LimitsIntegration, FailuresFromAnotherAddressDoNotLockAUserOut) {
  TestServer server(WithConfig("[auth]\nslow_after_failures = 100\nblock_after_failures = 3\nblock_seconds = 600\n"
                               "max_login_attempts = 20\n"));
  ASSERT_TRUE(server.started());
  RawClient stranger(server.port(), "127.0.0.1", "127.0.0.2");
  ASSERT_FALSE(stranger.Call({{"op", "hello"}, {"versions", {1}}}).is_null());
  for (int i = 0; i < 10; ++i) {
    const Json reply = stranger.Call({{"op", "login"}, {"user", "alice"}, {"password", "guess-" + std::to_string(i)}});
    EXPECT_EQ(reply.value("code", ""), "EAUTH");
  }
  // Blocked from there, even with the right password...
  EXPECT_EQ(stranger.Call({{"op", "login"}, {"user", "alice"}, {"password", "alice-secret"}}).value("code", ""),
            "EAUTH");
  // ...but alice at her own address gets in.
  RawClient alice(server.port());
  EXPECT_TRUE(alice.HelloAndLogin("alice", "alice-secret"));
}

TEST(LimitsIntegration, SessionsPerUserAreLimited) {
  TestServer server(WithConfig("[limits]\nmax_sessions_per_user = 2\n"));
  ASSERT_TRUE(server.started());
  auto first = std::make_unique<RawClient>(server.port());
  RawClient second(server.port());
  ASSERT_TRUE(first->HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(second.HelloAndLogin("alice", "alice-secret"));
  RawClient third(server.port());
  ASSERT_FALSE(third.Call({{"op", "hello"}, {"versions", {1}}}).is_null());
  EXPECT_EQ(third.Call({{"op", "login"}, {"user", "alice"}, {"password", "alice-secret"}}).value("code", ""), "EBUSY");
  RawClient bob(server.port());
  EXPECT_TRUE(bob.HelloAndLogin("bob", "bob-secret"));
  // A session that ends frees its place.
  first.reset();
  bool admitted = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    admitted = third.Call({{"op", "login"}, {"user", "alice"}, {"password", "alice-secret"}}).value("ok", false);
  }
  EXPECT_TRUE(admitted);
}

// An id-less ESHUTDOWN reply: the server saying it shuts down, before it closes the connection.
bool ToldShuttingDown(RawClient& client) {
  const auto frame = client.ReadFrame();
  return frame && frame->header.value("id", Json(0)).is_null() && frame->header.value("code", "") == "ESHUTDOWN" &&
         frame->header.value("message", "") == "the server is shutting down";
}

TEST(LimitsIntegration, SigtermLetsRunningTransfersFinishAndTellsIdleSessionsWhyTheyEnd) {
  // The session that never logs in must outlast the wait for the upload below.
  TestServerOptions options = WithConfig("[limits]\nlogin_timeout_seconds = 300\n[ftp]\nrequire_tls = false\n");
  options.ftp = true;
  TestServer server(options);
  ASSERT_TRUE(server.started());
  TempDir local;
  const std::string content = RandomBytes(200 * 1024 * 1024, 3);
  WriteFile(local / "big.bin", content);
  RawClient idle(server.port());
  ASSERT_TRUE(idle.HelloAndLogin("bob", "bob-secret"));
  RawClient anonymous(server.port());  // connected, not logged in
  ASSERT_EQ(anonymous.Call({{"op", "hello"}, {"versions", {1}}}).value("ok", false), true);
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("bob", "bob-secret"));
  // A session whose put was refused, its put_close never sent: idle too.
  RawClient refused(server.port());
  ASSERT_TRUE(refused.HelloAndLogin("bob", "bob-secret"));
  ASSERT_FALSE(refused.Call(PutHeader("/", 3)).value("ok", true));

  const auto upload = server.StartClientWithFlags({"-q"}, "alice", "alice-secret", {"put", local / "big.bin"});
  // Wait (bounded) until the upload is under way, then ask the server to stop.
  const PartialUpload seen =
      WaitForPartialUpload(server.root() + "/partials/alice", 1024 * 1024 - 1,
                           std::numeric_limits<std::uint64_t>::max(), upload->pid(), std::chrono::seconds(30));
  ASSERT_GE(seen.size, 1024u * 1024) << "the upload was not seen under way";
  server.process().Signal(SIGTERM);

  // Idle sessions go at once, told why.
  EXPECT_TRUE(ToldShuttingDown(idle));
  EXPECT_TRUE(idle.WaitClosed(std::chrono::seconds(20)));
  EXPECT_TRUE(ToldShuttingDown(anonymous));
  EXPECT_TRUE(anonymous.WaitClosed(std::chrono::seconds(20)));
  EXPECT_TRUE(ToldShuttingDown(refused));
  EXPECT_TRUE(refused.WaitClosed(std::chrono::seconds(20)));
  const FtpReply said = ftp.Read();
  EXPECT_EQ(said.code, 421) << said.text;
  EXPECT_TRUE(ftp.Closed());
  const auto result = upload->Wait(std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 0) << result.err;  // the running upload finished
  EXPECT_TRUE(ReadFile(server.home("alice") + "/big.bin") == content);
  const auto stopped = server.process().Wait(std::chrono::seconds(60));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(stopped.err.find("grace period over"), std::string::npos) << stopped.err;
}

// While the server shuts down, an open upload takes its data and put_close; every request that would start something
// new is answered ESHUTDOWN (a refused put's data and put_close are taken, and its put_close says why); once nothing
// is open, the session says it ends.
TEST(LimitsIntegration, DuringAShutdownOpenUploadsFinishAndNothingNewStarts) {
  TestServer server;
  ASSERT_TRUE(server.started());
  WriteFile(server.home("alice") + "/old.txt", "old");
  RawClient client(server.port());
  ASSERT_TRUE(client.HelloAndLogin("alice", "alice-secret"));
  const std::string first = RandomBytes(300000, 1);
  const std::string second = RandomBytes(200000, 2);
  const std::string content = first + second;
  const Json opened = client.Call(PutHeader("/new.bin", content.size()));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  const auto ref = opened["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(ref), first));
  server.process().Signal(SIGTERM);
  ASSERT_TRUE(server.process().WaitForStderrLine("shutting down", std::chrono::seconds(20)));

  // The drain reaches the session on its loop: until then, a request may still be answered as usual.
  Json refused;
  ASSERT_TRUE(WaitUntil([&] {
    refused = client.Call({{"op", "stat"}, {"path", "/old.txt"}});
    return refused.value("code", "") == "ESHUTDOWN";
  }, std::chrono::seconds(20))) << refused.dump();
  EXPECT_EQ(refused.value("message", ""), "the server is shutting down");
  EXPECT_FALSE(refused["id"].is_null());
  const Json another = client.Call(PutHeader("/other.bin", 3));
  EXPECT_EQ(another.value("code", ""), "ESHUTDOWN") << another.dump();
  const auto another_ref = another["id"].get<std::uint64_t>();
  ASSERT_TRUE(client.SendFrame(DataHeader(another_ref), "abc"));
  const Json another_closed = client.Call(PutCloseHeader(another_ref, Xxh3("abc")));
  EXPECT_EQ(another_closed.value("code", ""), "ESHUTDOWN") << another_closed.dump();
  EXPECT_EQ(client.Call({{"op", "mkdir"}, {"path", "/d"}}).value("code", ""), "ESHUTDOWN");
  EXPECT_TRUE(client.Call({{"op", "noop"}}).value("ok", false));

  ASSERT_TRUE(client.SendFrame(DataHeader(ref), second));
  const Json closed = client.Call(PutCloseHeader(ref, Xxh3(content)));
  EXPECT_TRUE(closed.value("ok", false)) << closed.dump();
  EXPECT_TRUE(ToldShuttingDown(client));
  EXPECT_TRUE(client.WaitClosed(std::chrono::seconds(20)));
  EXPECT_TRUE(ReadFile(server.home("alice") + "/new.bin") == content);
  EXPECT_FALSE(Exists(server.home("alice") + "/other.bin"));
  EXPECT_FALSE(Exists(server.home("alice") + "/d"));
  const auto stopped = server.process().Wait(std::chrono::seconds(60));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

// A transfer still running when the grace period is over is cut off; the client says how to continue it, and the
// command it names does, once the server is back.
TEST(LimitsIntegration, AtTheEndOfTheGracePeriodTransfersAreCutAndTheClientSaysHowToContinue) {
  TestServer server(WithConfig("[server]\nshutdown_grace_seconds = 1\n"));
  ASSERT_TRUE(server.started());
  TempDir local;
  const std::string content = RandomBytes(40 * 1024 * 1024, 4);
  WriteFile(local / "big.bin", content);
  // 4 MB a second: ten seconds, far past the grace period.
  const auto upload =
      server.StartClientWithFlags({"--limit-rate", "4M"}, "alice", "alice-secret", {"put", local / "big.bin"});
  const PartialUpload seen =
      WaitForPartialUpload(server.root() + "/partials/alice", 1024 * 1024 - 1,
                           std::numeric_limits<std::uint64_t>::max(), upload->pid(), std::chrono::seconds(30));
  ASSERT_GE(seen.size, 1024u * 1024) << "the upload was not seen under way";
  server.process().Signal(SIGTERM);
  ASSERT_TRUE(server.process().WaitForStderrLine("grace period over: closing 1 session(s) still running",
                                                 std::chrono::seconds(30)));
  const auto stopped = server.process().Wait(std::chrono::seconds(30));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;

  const auto cut = upload->Wait(std::chrono::seconds(60));
  EXPECT_EQ(cut.exit_code, 3) << cut.err;  // the connection was lost
  // The same command line with -c: what the user typed, less the password the client took from the environment.
  EXPECT_THAT(cut.err, ::testing::HasSubstr("what was transferred is kept: `ferry --plain --limit-rate 4M alice@" +
                                            server.address() + " put -c " + (local / "big.bin") + "` continues it"));
  EXPECT_FALSE(Exists(server.home("alice") + "/big.bin"));

  // Continued once the server is back (without the rate limit: the same transfer, sooner).
  server.RestartOnTheSamePort();
  ASSERT_TRUE(server.started());
  const auto resumed = server.ClientWithFlags({"-q"}, "alice", "alice-secret", {"put", "-c", local / "big.bin"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/big.bin") == content);
}

}  // namespace
}  // namespace ferry::testing
