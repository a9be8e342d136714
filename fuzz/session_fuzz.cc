// Fuzzes a whole server session: a real Session over a connected socket pair (tests/support/session_harness.h), in a temporary data root with users,
// files, a FIFO and symlinks, fed a client's frames from hello and login on.
//
// Input: one frame per line, "HEADER" or "HEADER<TAB>BODY". A HEADER that parses as a JSON object gets body_len set
// to the body's length (so mutations of the JSON keep the framing intact); any other HEADER is sent as it is, with
// its body. An input starting with "RAW\n" is instead sent as a raw byte stream. The seeds are real exchanges.
// Invariants checked:
//   - the session ends (no hang) once the client has sent everything and closed its side;
//   - everything the server sends is well-formed frames; every reply with "ok" false has a known error "code";
//   - nothing outside the user's home and upload area changes: another user's home is untouched;
//   - no descriptor outlives the session.
// Password hashing uses libsodium's minimum cost and login throttling is off, so logins cost microseconds. Each input
// starts from the same home (rebuilt after each run), the same empty quota ledger and no login history. Remote
// commands are unavailable (no launcher): exec is EPERM, or ENOSYS for carol, who has the permission. Under root
// the target hands the data root to nobody and drops to nobody first.
#include <grp.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "fuzz_check.h"
#include "fuzz_fs.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/data_root.h"
#include "service/audit_log.h"
#include "storage/user_store.h"
#include "support/session_harness.h"

namespace {

namespace fs = std::filesystem;
using ferry::protocol::Json;

struct World {
  std::string dir;
  std::unique_ptr<ferry::server::DataRoot> root;
  std::unique_ptr<ferry::storage::UserStore> users;
  std::unique_ptr<asio::thread_pool> login_pool;
  std::unique_ptr<ferry::service::AuditLog> audit;
  std::string bob_secret_path;
};
World* world = nullptr;

void WriteFile(const std::string& path, std::string_view content) {
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(content.data(), 1, content.size(), f) == content.size());
  std::fclose(f);
}

// alice's home and upload area as every input finds them.
void ResetAlice() {
  const std::string home = world->root->home_of("alice");
  const std::string partials = world->root->partials_of("alice");
  ferry::fuzz::RemoveTree(home);
  ferry::fuzz::RemoveTree(partials);
  FUZZ_CHECK(::mkdir(home.c_str(), 0700) == 0);
  WriteFile(home + "/a.txt", "hello, ferry\n");
  FUZZ_CHECK(::mkdir((home + "/dir").c_str(), 0755) == 0);
  WriteFile(home + "/dir/b.bin", std::string(70000, 'b'));  // more than one download chunk
  FUZZ_CHECK(::mkfifo((home + "/fifo").c_str(), 0600) == 0);
  FUZZ_CHECK(::symlink("../bob/secret", (home + "/to_bob").c_str()) == 0);
  FUZZ_CHECK(::symlink(world->bob_secret_path.c_str(), (home + "/abs_bob").c_str()) == 0);
  FUZZ_CHECK(::symlink("/", (home + "/root").c_str()) == 0);
}

struct Sentinel {
  std::string content;
  std::int64_t mtime = 0;
  std::uint32_t mode = 0;
  bool operator==(const Sentinel&) const = default;
};
Sentinel ReadSentinel() {
  Sentinel s;
  struct stat st {};
  FUZZ_CHECK(::lstat(world->bob_secret_path.c_str(), &st) == 0);
  s.mtime = st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  s.mode = st.st_mode;
  FILE* f = std::fopen(world->bob_secret_path.c_str(), "rb");
  FUZZ_CHECK(f != nullptr);
  char buffer[256];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) s.content.append(buffer, n);
  std::fclose(f);
  return s;
}
Sentinel bob_before;

// Under root, hands the data root to nobody and becomes nobody: a jail bug must not let the fuzzer change real files.
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
  FUZZ_CHECK(::prctl(PR_SET_DUMPABLE, 1) == 0);  // keeps /proc/self/fd readable (the jail reads it)
}

int CountOpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Turns the input into the byte stream the client sends.
std::string StreamFromInput(std::string_view input) {
  if (input.starts_with("RAW\n")) return std::string(input.substr(4));
  std::string stream;
  while (!input.empty()) {
    const std::size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    if (line.empty()) continue;
    std::string_view body;
    if (const std::size_t tab = line.find('\t'); tab != std::string_view::npos) {
      body = line.substr(tab + 1);
      line = line.substr(0, tab);
    }
    Json header = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (header.is_object()) {
      ferry::protocol::AppendFrame(stream, std::move(header), body);
    } else {
      const auto n = static_cast<std::uint32_t>(line.size());
      const char prefix[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                              static_cast<char>(n)};
      stream.append(prefix, 4);
      stream.append(line);
      stream.append(body);
    }
  }
  return stream;
}

// SESSION_FUZZ_VERBOSE=1 prints every reply header, to see what an input does.
const bool verbose = std::getenv("SESSION_FUZZ_VERBOSE") != nullptr;

void CheckReplies(std::string_view bytes) {
  ferry::protocol::FrameLimits limits;
  limits.max_header = 1 << 20;
  limits.max_body = 64 << 20;
  limits.max_depth = 64;
  ferry::protocol::FrameDecoder decoder(limits);
  decoder.Feed(bytes);
  ferry::protocol::Frame frame;
  while (decoder.Next(frame) == ferry::protocol::FrameDecoder::State::kFrame) {
    const Json& h = frame.header;
    if (verbose) std::fprintf(stderr, "reply: %s (+%zu bytes)\n", h.dump().c_str(), frame.body.size());
    const auto ok = h.find("ok");
    if (ok == h.end()) continue;  // stream frames (data, exec output) carry no "ok"
    FUZZ_CHECK(ok->is_boolean());
    FUZZ_CHECK(h.contains("id"));
    if (!ok->get<bool>()) {
      const auto code = h.find("code");
      FUZZ_CHECK(code != h.end() && code->is_string());
      FUZZ_CHECK(ferry::ErrorCodeFromName(code->get<std::string>()).has_value());
      FUZZ_CHECK(h.contains("message"));
    }
  }
  FUZZ_CHECK(decoder.error().ok());
  // The server may be cut off mid-reply only by the client; here the client reads everything, so the stream ends
  // between frames.
  FUZZ_CHECK(decoder.at_frame_boundary());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::off);
  FUZZ_CHECK(sodium_init() >= 0);
  world = new World;
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ferry-session-fuzz-XXXXXX";
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
  FUZZ_CHECK(world->root->AddUser("bob", "bob-secret", cheap, {.read_only = true, .can_exec = false}).ok());
  FUZZ_CHECK(world->root->AddUser("carol", "carol-secret", cheap, {.read_only = false, .can_exec = true}).ok());
  world->bob_secret_path = world->root->home_of("bob") + "/secret";
  WriteFile(world->bob_secret_path, "bob's secret\n");
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
  bob_before = ReadSentinel();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string stream = StreamFromInput(std::string_view(reinterpret_cast<const char*>(data), size));
  const int fds_before = CountOpenFds();
  std::string received;
  {
    ferry::testing::SessionServices services(world->root->dir(), world->users.get(), world->login_pool.get(),
                                             world->audit.get());
    services.environment().frames.max_body = 64 * 1024;  // small bodies: more frames for the same input
    auto exchange = ferry::testing::RunSession(services.environment(), stream, std::chrono::seconds(20));
    if (!exchange.ended) std::fprintf(stderr, "the session did not end within 20 s of the client's close\n");
    FUZZ_CHECK(exchange.ended);
    received = std::move(exchange.received);
  }
  CheckReplies(received);
  FUZZ_CHECK(ReadSentinel() == bob_before);
  FUZZ_CHECK(CountOpenFds() == fds_before);
  ResetAlice();
  return 0;
}
