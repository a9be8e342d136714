// Faults against a real ferryd: a server killed mid-upload, a full disk, clients that vanish or stop reading, a crowd
// of idle and slow connections, and a server out of descriptors. Each ends with the server serving a normal client.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "support/partial_upload.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "support/upload_frames.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using protocol::Json;
using ::testing::HasSubstr;

constexpr std::uint64_t kMiB = 1024 * 1024;

std::size_t Occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

// The quota reply for alice, from a session of her own.
Json AliceQuota(const TestServer& server) {
  RawClient client(server.port());
  if (!client.HelloAndLogin("alice", "alice-secret")) return Json{};
  return client.Call({{"op", "quota"}});
}

// A plain loopback TCP connection that sends nothing by itself (for crowds and slow clients); -1 on failure.
int Connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True once the server has closed `fd` (end of stream or reset); whatever it sent before is read and dropped.
bool ClosedByPeer(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

// Waits (30 s at most) until server `pid` holds no more sockets, files and folders than `idle`, what it held with no
// session.
::testing::AssertionResult GivesBackTo(pid_t pid, int idle) {
  int now = 0;
  if (WaitUntil(
          [&] {
            now = OpenSocketsAndFiles(pid);
            return now <= idle;
          },
          30s)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the server still holds " << now << " sockets, files and folders, against "
                                       << idle << " with no session";
}

class Descriptors {
 public:
  Descriptors() = default;
  ~Descriptors() { CloseAll(); }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
  void Add(int fd) { fds_.push_back(fd); }
  std::vector<int>& fds() { return fds_; }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

// A small filesystem (tmpfs of `size`) mounted on a fresh folder in a mount namespace of this test's own, which the
// servers it starts inherit; nothing outside the test process and its children sees it. Needs CAP_SYS_ADMIN.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(const std::string& size) {
    if (::unshare(CLONE_NEWNS) != 0) {
      error_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    // Mounts made here must not propagate back to the machine's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      error_ = std::string("making / private: ") + std::strerror(errno);
      return;
    }
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("ferry-test", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      error_ = std::string("mounting a tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  const std::string& error() const { return error_; }
  const std::string& path() const { return dir_.path(); }
  std::uint64_t FreeBytes() const {
    struct statvfs fs {};
    return ::statvfs(dir_.path().c_str(), &fs) == 0 ? static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize : 0;
  }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

// ---- a server killed mid-upload ----

TEST(FaultIntegration, AServerKilledMidUploadIsResumedToTheSameFileAndTheRightUsage) {
  TestServer server;
  ASSERT_TRUE(server.started());
  ASSERT_EQ(
      RunProcess({FerrydPath(), "user", "set-quota", "--root", server.root(), "alice", "1G", "--max-files", "100"})
          .exit_code,
      0);
  TempDir local;
  const std::string small = RandomBytes(5000, 1);
  const std::string big = RandomBytes(96 * kMiB, 2);
  WriteFile(local / "small.bin", small);
  WriteFile(local / "big.bin", big);
  ASSERT_EQ(server.Client("alice", "alice-secret", {"put", local / "small.bin"}).exit_code, 0);

  // kill -9 while the partial file is growing.
  const auto client = server.StartClient("alice", "alice-secret", {"put", local / "big.bin"});
  const std::string partials = server.root() + "/partials/alice";
  const PartialUpload seen = WaitForPartialUpload(partials, kMiB, big.size() / 2, client->pid(), 60s);
  ASSERT_TRUE(seen.size > kMiB && seen.size < big.size() / 2) << "not caught in flight at " << seen.size << " bytes";
  server.Kill();
  const auto failed = client->Wait(60s);
  EXPECT_NE(failed.exit_code, 0) << failed.err;
  const std::string partial = OnlyFileIn(partials);
  ASSERT_FALSE(partial.empty());
  const std::uint64_t partial_size = FileSize(partial);
  EXPECT_FALSE(Exists(server.home("alice") + "/big.bin")) << "a half upload appeared in the home";

  server.Restart();
  ASSERT_TRUE(server.started());
  // Usage after the crash counts what is on disk, the partial included, and nothing is left reserved.
  Json quota = AliceQuota(server);
  EXPECT_EQ(quota.value("bytes", std::uint64_t{0}), small.size() + partial_size) << quota.dump();
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();

  const auto resumed = server.Client("alice", "alice-secret", {"put", "-c", local / "big.bin"}, "", 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("resumed after")) << "partial was " << partial_size << " bytes";
  EXPECT_TRUE(ReadFile(server.home("alice") + "/big.bin") == big) << "the resumed file differs from the original";
  EXPECT_THAT(Names(partials), ::testing::IsEmpty());
  quota = AliceQuota(server);
  EXPECT_EQ(quota.value("bytes", std::uint64_t{0}), small.size() + big.size()) << quota.dump();
  EXPECT_EQ(quota.value("files", 0), 2) << quota.dump();
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();
}

// ---- a full disk ----

TEST(FaultIntegration, AFullDiskFailsTheUploadClearlyReleasesItsSpaceAndTheServerKeepsServing) {
  SmallFilesystem disk("24m");
  if (!disk.error().empty()) {
    // Root (as in CI) can always mount a tmpfs in a namespace of its own; anyone else may not be allowed to.
    ASSERT_NE(::geteuid(), 0u) << disk.error();
    GTEST_SKIP() << "needs CAP_SYS_ADMIN for a small filesystem: " << disk.error();
  }
  TestServerOptions options;
  options.root_parent = disk.path();
  TestServer server(options);
  ASSERT_TRUE(server.started());
  TempDir local;
  const std::string kept = RandomBytes(kMiB, 3);
  WriteFile(local / "kept.bin", kept);
  ASSERT_EQ(server.Client("alice", "alice-secret", {"put", local / "kept.bin"}).exit_code, 0);
  const std::uint64_t free_before = disk.FreeBytes();
  ASSERT_LT(free_before, 32 * kMiB);

  // More than the filesystem holds, with no quota to stop it first.
  WriteFile(local / "huge.bin", RandomBytes(32 * kMiB, 4));
  const auto failed = server.Client("alice", "alice-secret", {"put", local / "huge.bin"});
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  // The wording is the point: failing clearly is naming the file and the reason, as the user needs them.
  EXPECT_THAT(failed.err, HasSubstr("huge.bin"));
  EXPECT_THAT(failed.err, HasSubstr("no space left on device"));

  // The partial is gone and its space is back; usage is what it was.
  EXPECT_THAT(Names(server.root() + "/partials/alice"), ::testing::IsEmpty());
  EXPECT_THAT(Names(server.home("alice")), ::testing::ElementsAre("kept.bin"));
  EXPECT_GE(disk.FreeBytes() + 256 * 1024, free_before) << "free " << disk.FreeBytes() << ", was " << free_before;
  const Json quota = AliceQuota(server);
  EXPECT_EQ(quota.value("bytes", std::uint64_t{0}), kept.size()) << quota.dump();
  EXPECT_EQ(quota.value("bytes_reserved", -1), 0) << quota.dump();

  // And the server goes on: uploads that fit, downloads, other users.
  const std::string after = RandomBytes(2 * kMiB, 5);
  WriteFile(local / "after.bin", after);
  const auto put = server.Client("alice", "alice-secret", {"put", local / "after.bin"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/after.bin") == after);
  const auto get = server.Client("alice", "alice-secret", {"get", "kept.bin", local / "kept-back.bin"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(ReadFile(local / "kept-back.bin") == kept);
  const auto bob = server.Client("bob", "bob-secret", {"ls"});
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
}

// ---- clients that vanish ----

TEST(FaultIntegration, ClientsThatVanishMidTransferAreFreedWithinTheIdleTimeout) {
  TestServer server(WithConfig("[limits]\nidle_timeout_seconds = 2\nlogin_timeout_seconds = 3\n"));
  ASSERT_TRUE(server.started());
  const pid_t pid = server.process().pid();
  const std::string download = RandomBytes(64 * kMiB, 6);
  WriteFile(server.home("alice") + "/download.bin", download);
  const int idle = OpenSocketsAndFiles(pid);  // with no session
  ASSERT_GT(idle, 0);

  const std::string upload = RandomBytes(4 * kMiB, 7);
  // One upload ends in a reset, one goes silent (half-open: no more bytes and no FIN), one download's client stops
  // reading, and one connection never logs in.
  auto reset = std::make_unique<RawClient>(server.port());
  ASSERT_TRUE(reset->HelloAndLogin("alice", "alice-secret"));
  Json opened = reset->Call(PutHeader("reset.bin", upload.size()));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  ASSERT_TRUE(reset->SendFrame(DataHeader(opened["id"].get<std::uint64_t>()), upload.substr(0, kMiB)));
  ASSERT_TRUE(reset->Call({{"op", "noop"}}).value("ok", false));

  RawClient silent(server.port());
  ASSERT_TRUE(silent.HelloAndLogin("alice", "alice-secret"));
  opened = silent.Call(PutHeader("silent.bin", upload.size()));
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  ASSERT_TRUE(silent.SendFrame(DataHeader(opened["id"].get<std::uint64_t>()), upload.substr(0, kMiB)));
  ASSERT_TRUE(silent.Call({{"op", "noop"}}).value("ok", false));

  RawClient stalled(server.port());
  ASSERT_TRUE(stalled.HelloAndLogin("alice", "alice-secret"));
  ASSERT_TRUE(stalled.SendFrame({{"op", "get"}, {"id", 1}, {"path", "download.bin"}}));

  RawClient mute(server.port());

  EXPECT_GT(AliceQuota(server).value("bytes_reserved", 0), 0);
  reset->Reset();

  // Every descriptor they held is given back: sockets, the open partials, the file being sent, home folders.
  EXPECT_TRUE(GivesBackTo(pid, idle));
  EXPECT_TRUE(silent.WaitClosed(10s));
  EXPECT_TRUE(stalled.WaitClosed(10s));
  EXPECT_TRUE(mute.WaitClosed(10s));
  // Each was closed for its own reason, logged before the descriptors were let go.
  const std::string log = server.process().ReadStderrNow();
  EXPECT_THAT(log, HasSubstr("closed after the idle timeout"));
  EXPECT_THAT(log, HasSubstr("closed: the client stopped reading"));
  EXPECT_THAT(log, HasSubstr("closed after the login timeout"));

  // Nothing stays reserved, the partials are let go, and each can be resumed.
  EXPECT_EQ(AliceQuota(server).value("bytes_reserved", -1), 0);
  for (const char* name : {"reset.bin", "silent.bin"}) {
    TempDir local;
    WriteFile(local / name, upload);
    const auto resumed = server.Client("alice", "alice-secret", {"put", "-c", local / name});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_THAT(resumed.err, HasSubstr("resumed after 1.0 MiB")) << name;
    EXPECT_TRUE(ReadFile(server.home("alice") + "/" + name) == upload) << name;
  }
}

// ---- a crowd ----

TEST(FaultIntegration, TwoThousandConnectionsAndClientsSendingAByteASecondDoNotStopANormalClient) {
  constexpr int kCrowd = 2000;
  constexpr int kSlow = 20;
  rlimit files{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_GE(files.rlim_max, static_cast<rlim_t>(kCrowd + kSlow + 256))
      << "the hard open-file limit is too low for this test (ulimit -Hn)";
  files.rlim_cur = files.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);  // the server started below inherits it too

  // Connections that never log in are closed at the login timeout; one address may hold them all.
  TestServer server(WithConfig("[limits]\nlogin_timeout_seconds = 5\nmax_connections_per_address = 5000\n"));
  ASSERT_TRUE(server.started());
  const pid_t pid = server.process().pid();
  const int idle = OpenSocketsAndFiles(pid);

  Descriptors crowd;
  for (int i = 0; i < kCrowd; ++i) {
    const int fd = Connect(server.port());
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    crowd.Add(fd);
  }
  // Slow clients send a hello frame a byte a second, each keeping its connection busy but never finishing.
  Descriptors slow;
  for (int i = 0; i < kSlow; ++i) {
    const int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    slow.Add(fd);
  }
  const std::string hello = protocol::EncodeFrame({{"op", "hello"}, {"id", 1}, {"versions", {1}}}, "");
  std::atomic<int> slow_closed{0};
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    std::vector<bool> closed(slow.fds().size(), false);
    // Bounded: at most 60 rounds of a second, and the server should close them after about 5.
    for (std::size_t round = 0; round < 60 && !stop && slow_closed < kSlow; ++round) {
      for (std::size_t i = 0; i < slow.fds().size(); ++i) {
        if (closed[i]) continue;
        if (ClosedByPeer(slow.fds()[i])) {
          closed[i] = true;
          ++slow_closed;
          continue;
        }
        ::send(slow.fds()[i], hello.data() + round % hello.size(), 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      ::poll(nullptr, 0, 1000);  // the pace of a slow client
    }
  });

  // A normal client is served in full while all of that is connected.
  TempDir local;
  const std::string content = RandomBytes(kMiB, 8);
  WriteFile(local / "normal.bin", content);
  const auto put = server.Client("alice", "alice-secret", {"put", local / "normal.bin"}, "", 20s);
  EXPECT_EQ(put.exit_code, 0) << put.err;
  const auto get = server.Client("alice", "alice-secret", {"get", "normal.bin", local / "back.bin"}, "", 20s);
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(ReadFile(local / "back.bin") == content);
  const auto ls = server.Client("bob", "bob-secret", {"ls"}, "", 20s);
  EXPECT_EQ(ls.exit_code, 0) << ls.err;

  // The crowd is still connected right after (the login timeout is 5 s), then closed by the server.
  int open_now = 0;
  EXPECT_TRUE(WaitUntil(
      [&] {
        open_now = static_cast<int>(
            std::count_if(crowd.fds().begin(), crowd.fds().end(), [](int fd) { return !ClosedByPeer(fd); }));
        return open_now == 0;
      },
      60s))
      << open_now << " of " << kCrowd << " idle connections still open";
  dribbler.join();
  EXPECT_EQ(slow_closed.load(), kSlow) << "slow clients kept their connections past the login timeout";
  crowd.CloseAll();
  slow.CloseAll();
  EXPECT_TRUE(GivesBackTo(pid, idle));
  // It does not fall over afterwards either.
  EXPECT_EQ(server.Client("alice", "alice-secret", {"ls"}, "", 20s).exit_code, 0);
}

// ---- one session that never has to wait ----

TEST(FaultIntegration, ADownloadToAFastReaderDoesNotHoldItsEventLoop) {
  TestServerOptions options;
  options.threads = 1;  // both sessions on the same event loop
  TestServer server(options);
  ASSERT_TRUE(server.started());
  const std::uint64_t size = 128 * kMiB;
  WriteFile(server.home("alice") + "/big.bin", RandomBytes(size, 9));
  RawClient other(server.port());
  ASSERT_TRUE(other.HelloAndLogin("alice", "alice-secret"));
  RawClient fast(server.port());
  ASSERT_TRUE(fast.HelloAndLogin("alice", "alice-secret"));

  // A reader that keeps up, so the server's socket stays writable and the download never has to wait for it.
  ASSERT_TRUE(fast.SendFrame({{"op", "get"}, {"id", 1}, {"path", "big.bin"}}));
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> finished{false};
  std::thread reader([&] {
    while (auto frame = fast.ReadFrame(60s)) {
      received += frame->body.size();
      if (!frame->header.value("more", false)) break;
    }
    finished = true;
  });
  ASSERT_TRUE(WaitUntil([&] { return received > 0 || finished; }, 30s));
  // Another session's request is answered while the download is still going, not after it.
  const Json reply = other.Call({{"op", "noop"}});
  const std::uint64_t received_by_then = received;
  const bool finished_by_then = finished;
  reader.join();
  EXPECT_TRUE(reply.value("ok", false)) << reply.dump();
  EXPECT_FALSE(finished_by_then) << "the noop was answered only once the download had ended";
  EXPECT_LT(received_by_then, size);
  EXPECT_EQ(received.load(), size);
}

// ---- out of descriptors ----

TEST(FaultIntegration, RunningOutOfDescriptorsPausesAcceptingWithoutSpinningAndRecovers) {
  TestServerOptions options;
  options.launch_prefix = {"/usr/bin/prlimit", "--nofile=64:64", "--"};
  options.config = "[limits]\nlogin_timeout_seconds = 120\n";
  TestServer server(options);
  ASSERT_TRUE(server.started());
  EXPECT_THAT(server.process().stderr_so_far(), HasSubstr("the open-file limit is 64"));
  const pid_t pid = server.process().pid();
  WriteFile(server.home("alice") + "/small.txt", "still here");
  // A server that has served before runs out: one session that logs in and one that does not come and go first.
  // (This also matters to the sanitizer build: UBSan's vptr check asks for a pipe the first time it meets a type, so
  // in a process out of descriptors the first such check of a type fails as "invalid vptr".)
  ASSERT_EQ(server.Client("alice", "alice-secret", {"ls"}).exit_code, 0);
  ASSERT_TRUE(server.process().WaitForStderrLine("disconnected (user alice)", 30s).has_value());
  { RawClient passing(server.port()); }
  ASSERT_TRUE(server.process().WaitForStderrLine(": disconnected", 30s).has_value());

  RawClient in(server.port());  // logged in before the descriptors run out
  ASSERT_TRUE(in.HelloAndLogin("alice", "alice-secret"));

  Descriptors crowd;
  for (int i = 0; i < 100; ++i) {
    const int fd = Connect(server.port());  // the kernel queues what the server cannot accept
    ASSERT_GE(fd, 0) << std::strerror(errno);
    crowd.Add(fd);
  }
  ASSERT_TRUE(server.process().WaitForStderrLine("accept failed", 30s).has_value());
  EXPECT_THAT(server.process().stderr_so_far(), HasSubstr("Too many open files"));

  // A session that needs a descriptor gets a clear error, not a hang.
  Json reply = in.Call({{"op", "get"}, {"path", "small.txt"}});
  EXPECT_EQ(reply.value("code", ""), "EIO") << reply.dump();
  // The wording is the point: EIO is the code of every error without one of its own; only the message says the
  // server is out of descriptors.
  EXPECT_THAT(reply.value("message", ""), HasSubstr("open files")) << reply.dump();

  // While it is out of descriptors, the server waits rather than spins: over a second it uses far less than a
  // second of CPU (a loop retrying accept at once would use all of one core).
  const auto cpu_before = CpuTime(pid);
  ::poll(nullptr, 0, 1000);
  const auto used = CpuTime(pid) - cpu_before;
  EXPECT_LT(used, 400ms) << "the server used " << used.count() << " ms of CPU in 1 s while out of descriptors";
  EXPECT_EQ(Occurrences(server.process().ReadStderrNow(), "accept failed"), 1u) << "warned more than once";

  crowd.CloseAll();
  ASSERT_TRUE(server.process().WaitForStderrLine("accepting connections again", 30s).has_value());
  TempDir local;
  const auto get = server.Client("alice", "alice-secret", {"get", "small.txt", local / "small.txt"}, "", 30s);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(local / "small.txt"), "still here");
  reply = in.Call({{"op", "stat"}, {"path", "small.txt"}});
  EXPECT_TRUE(reply.value("ok", false)) << reply.dump();
}

}  // namespace
}  // namespace ferry::testing
