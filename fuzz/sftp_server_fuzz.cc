// Fuzzes the SFTP server: an SftpServer on a real user session (alice, with a quota) in a temporary data root, fed
// the input as the client's byte stream after an SSH_FXP_INIT.
//
// Invariants checked:
//   - every reply is a whole packet of a reply type, at most a READ's worth of data plus its header, and its id (for
//     all but VERSION) is one the input could have sent;
//   - the server takes in the whole input or stops at a framing error (failed()), and never loops;
//   - nothing outside alice's home and upload area changes: bob's file is untouched;
//   - no descriptor outlives the session.
// Under root the target hands the data root to nobody and drops to nobody first, so a jail bug cannot change real
// files.
#include <grp.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "frontends/sftp/sftp_server.h"
#include "fuzz_check.h"
#include "fuzz_fs.h"
#include "server/data_root.h"
#include "service/audit_log.h"
#include "storage/user_store.h"
#include "support/session_harness.h"

namespace {

namespace fs = std::filesystem;
using ferry::frontends::sftp::SftpServer;

struct World {
  std::string dir;
  std::unique_ptr<ferry::server::DataRoot> root;
  std::unique_ptr<ferry::storage::UserStore> users;
  std::unique_ptr<asio::thread_pool> login_pool;
  std::unique_ptr<ferry::service::AuditLog> audit;
  std::string bob_file;
  std::string bob_content;
};
World* world = nullptr;

void WriteFile(const std::string& path, std::string_view content) {
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(content.data(), 1, content.size(), f) == content.size());
  std::fclose(f);
}

std::string ReadFile(const std::string& path) {
  std::string content;
  FILE* f = std::fopen(path.c_str(), "rb");
  FUZZ_CHECK(f != nullptr);
  char buffer[256];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) content.append(buffer, n);
  std::fclose(f);
  return content;
}

void ResetAlice() {
  const std::string home = world->root->home_of("alice");
  ferry::fuzz::RemoveTree(home);
  ferry::fuzz::RemoveTree(world->root->partials_of("alice"));
  FUZZ_CHECK(::mkdir(home.c_str(), 0700) == 0);
  WriteFile(home + "/a.txt", "hello, ferry\n");
  FUZZ_CHECK(::mkdir((home + "/dir").c_str(), 0755) == 0);
  WriteFile(home + "/dir/b.bin", std::string(70000, 'b'));
  FUZZ_CHECK(::symlink("../bob/secret", (home + "/to_bob").c_str()) == 0);
  FUZZ_CHECK(::symlink(world->bob_file.c_str(), (home + "/abs_bob").c_str()) == 0);
  FUZZ_CHECK(::symlink("/", (home + "/root").c_str()) == 0);
}

void DropPrivileges() {
  constexpr std::uint32_t kNobody = 65534;
  if (::geteuid() != 0) return;
  FUZZ_CHECK(::lchown(world->dir.c_str(), kNobody, kNobody) == 0);
  for (const auto& entry : fs::recursive_directory_iterator(world->dir)) {
    FUZZ_CHECK(::lchown(entry.path().c_str(), kNobody, kNobody) == 0);
  }
  FUZZ_CHECK(::setgroups(0, nullptr) == 0);
  FUZZ_CHECK(::setresgid(kNobody, kNobody, kNobody) == 0);
  FUZZ_CHECK(::setresuid(kNobody, kNobody, kNobody) == 0);
  FUZZ_CHECK(::prctl(PR_SET_DUMPABLE, 1) == 0);
}

int CountOpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::uint32_t U32(std::string_view s, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Every reply: whole, of a reply type, no larger than a READ's data and header.
void CheckReplies(std::string_view out) {
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 5);
    const std::uint32_t length = U32(out, 0);
    FUZZ_CHECK(length >= 1 && length <= SftpServer::kMaxReadLength + 64 * 1024);
    FUZZ_CHECK(out.size() >= 4 + std::size_t{length});
    const auto type = static_cast<std::uint8_t>(out[4]);
    FUZZ_CHECK(type == 2 || (type >= 101 && type <= 105) || type == 201);
    if (type != 2) FUZZ_CHECK(length >= 5);
    out.remove_prefix(4 + std::size_t{length});
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  FUZZ_CHECK(sodium_init() >= 0);
  world = new World;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ferry-sftp-fuzz-XXXXXX";
  FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
  world->dir = pattern;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(world->dir, ec);
  });
  const std::string data = world->dir + "/data";
  FUZZ_CHECK(ferry::server::DataRoot::Init(data).ok());
  world->root = std::make_unique<ferry::server::DataRoot>(data);
  const ferry::storage::PasswordHashCost cheap{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  ferry::storage::UserQuota quota;
  quota.max_bytes = 1 << 20;
  quota.max_files = 64;
  FUZZ_CHECK(world->root->AddUser("alice", "alice-secret", cheap, {}, quota).ok());
  FUZZ_CHECK(world->root->AddUser("bob", "bob-secret", cheap).ok());
  world->bob_file = world->root->home_of("bob") + "/secret";
  world->bob_content = "bob's secret\n";
  WriteFile(world->bob_file, world->bob_content);
  DropPrivileges();
  auto users = world->root->OpenUsers();
  FUZZ_CHECK(users.ok());
  world->users = std::move(users).value();
  FUZZ_CHECK(world->users->SetUnknownUserCost(cheap).ok());
  world->login_pool = std::make_unique<asio::thread_pool>(1);
  auto audit = ferry::service::AuditLog::Open("/dev/null");
  FUZZ_CHECK(audit.ok());
  world->audit = std::move(audit).value();
  ResetAlice();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fds_before = CountOpenFds();
  {
    ferry::testing::SessionServices services(world->root->dir(), world->users.get(), world->login_pool.get(),
                                             world->audit.get());
    std::optional<ferry::Result<std::unique_ptr<ferry::service::UserSession>>> login;
    asio::io_context loop;
    const ferry::service::ClientInfo client{"192.0.2.9", "192.0.2.9:1", "sftp"};
    asio::co_spawn(
        loop,
        [&]() -> asio::awaitable<void> {
          login.emplace(co_await services.environment().files->Login(client, "alice", "alice-secret"));
        },
        [](std::exception_ptr error) { FUZZ_CHECK(!error); });
    loop.run();
    FUZZ_CHECK(login && login->ok());
    std::unique_ptr<ferry::service::UserSession> session = std::move(*login).value();

    SftpServer sftp(session.get());
    const char init[] = {0, 0, 0, 5, 1, 0, 0, 0, 3};
    std::string stream(init, sizeof init);
    stream.append(reinterpret_cast<const char*>(data), size);
    sftp.Append(stream);
    // Each round answers until the output is full; the client reads it all. A round that takes nothing in ends it.
    for (int round = 0; round < 100000; ++round) {
      const std::size_t before = sftp.pending_input();
      sftp.Process();
      CheckReplies(sftp.output());
      sftp.output().clear();
      if (sftp.failed() || sftp.pending_input() == before) break;
    }
    // What is left is less than one whole packet, unless the stream broke the framing.
    const std::string_view rest = std::string_view(stream).substr(stream.size() - sftp.pending_input());
    FUZZ_CHECK(sftp.failed() || rest.size() < 4 || 4 + std::size_t{U32(rest, 0)} > rest.size());
    sftp.CloseAll();
  }
  FUZZ_CHECK(ReadFile(world->bob_file) == world->bob_content);
  FUZZ_CHECK(CountOpenFds() == fds_before);
  ResetAlice();
  return 0;
}
