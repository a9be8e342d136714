// ServiceTest: a file service over a temporary data root, for unit tests of src/service/ without sockets.
//
// The data root is laid out by hand (DATA/homes/NAME, DATA/partials, DATA/ferry.db, DATA/audit.log) rather than by
// the server's DataRoot, so these tests depend on the service and storage layers only. Passwords are hashed at
// libsodium's lowest cost and the login throttle never delays: the tests are about the service, not argon2id.
// Everything happens inside the test's own temporary folder.
#pragma once

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/connection_limiter.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "service/audit_log.h"
#include "service/file_service.h"
#include "service/login_throttle.h"
#include "service/user_session.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"
#include "support/audit_lines.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::service {

// The cheapest cost libsodium accepts.
inline const storage::PasswordHashCost kFastHash{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
inline const std::string kPassword = "correct horse";
inline const ClientInfo kClient{"192.0.2.7", "192.0.2.7:40001", "ferry"};

using SessionResult = Result<std::unique_ptr<UserSession>>;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(HomesPath().c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(PartialsRoot().c_str(), 0700), 0);
    auto users = storage::UserStore::Open(data_ + "/ferry.db", /*create=*/true);
    ASSERT_TRUE(users.ok()) << users.status().ToString();
    users_ = std::move(users).value();
    ASSERT_TRUE(users_->SetUnknownUserCost(kFastHash).ok());
    auto audit = AuditLog::Open(AuditPath());
    ASSERT_TRUE(audit.ok()) << audit.status().ToString();
    audit_ = std::move(audit).value();
    files_ = std::make_unique<FileService>(Options());
  }

  // What the fixture's service works with; a test may point `user_sessions` at a limiter of its own.
  FileServiceOptions Options() {
    FileServiceOptions options;
    options.homes_path = HomesPath();
    options.partials_path = PartialsRoot();
    options.users = users_.get();
    options.quotas = &quotas_;
    options.login_pool = &login_pool_;
    options.throttle = &throttle_;
    options.user_sessions = &user_sessions_;
    options.audit = audit_.get();
    return options;
  }

  // Adds a user with a home folder (0700) and no limits.
  void AddUser(const std::string& name) {
    ASSERT_TRUE(users_->Add(name, kPassword, kFastHash).ok());
    ASSERT_EQ(::mkdir(Home(name).c_str(), 0700), 0);
  }

  // Runs FileService::Login to completion on a loop of its own.
  SessionResult Login(const std::string& user, const std::string& password = kPassword,
                      FileService* service = nullptr) {
    FileService& files = service != nullptr ? *service : *files_;
    std::optional<SessionResult> outcome;
    asio::io_context loop;
    asio::co_spawn(
        loop,
        [&]() -> asio::awaitable<void> { outcome.emplace(co_await files.Login(kClient, user, password)); },
        [&](std::exception_ptr error) {
          if (error) outcome.emplace(Status(ErrorCode::kIo, "Login threw"));
        });
    loop.run();
    if (!outcome) return Status(ErrorCode::kIo, "Login did not finish");
    return std::move(*outcome);
  }

  // Runs FileService::LoginWithKey to completion on a loop of its own.
  SessionResult LoginWithKey(const std::string& user, const storage::SshPublicKey& key) {
    std::optional<SessionResult> outcome;
    asio::io_context loop;
    asio::co_spawn(
        loop, [&]() -> asio::awaitable<void> { outcome.emplace(co_await files_->LoginWithKey(kClient, user, key)); },
        [&](std::exception_ptr error) {
          if (error) outcome.emplace(Status(ErrorCode::kIo, "LoginWithKey threw"));
        });
    loop.run();
    if (!outcome) return Status(ErrorCode::kIo, "LoginWithKey did not finish");
    return std::move(*outcome);
  }

  // A session for `user`, or null (and a failed test).
  std::unique_ptr<UserSession> LoginOrFail(const std::string& user) {
    auto session = Login(user);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    return session.ok() ? std::move(session).value() : nullptr;
  }

  // Makes the user database look settled (last written long ago), so the store caches its answers at once instead
  // of waiting out its settling time: a later change must then be seen through the cache.
  void SettleUserDatabase() {
    const timespec long_ago[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 60, 0}};
    for (const std::string suffix : {"", "-wal"}) {
      const std::string path = data_ + "/ferry.db" + suffix;
      if (!ferry::testing::Exists(path)) continue;
      ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), long_ago, 0), 0) << path;
    }
  }

  std::string HomesPath() const { return data_ + "/homes"; }
  std::string PartialsRoot() const { return data_ + "/partials"; }
  std::string AuditPath() const { return data_ + "/audit.log"; }
  std::string Home(const std::string& user) const { return HomesPath() + "/" + user; }
  std::string Partials(const std::string& user) const { return PartialsRoot() + "/" + user; }
  // The server path of a virtual path ("/a/b") in a home.
  std::string OnDisk(const std::string& user, const std::string& path) const { return Home(user) + path; }
  std::vector<std::string> PartialNames(const std::string& user) const { return ferry::testing::Names(Partials(user)); }

  // The audit log, one parsed JSON object a line.
  std::vector<nlohmann::json> AuditLines() const { return ferry::testing::ReadAuditLines(AuditPath()); }
  std::size_t AuditCount() const { return AuditLines().size(); }
  // The lines written from line `first` on.
  std::vector<nlohmann::json> AuditSince(std::size_t first) const {
    auto lines = AuditLines();
    return first < lines.size() ? std::vector<nlohmann::json>(lines.begin() + static_cast<std::ptrdiff_t>(first),
                                                              lines.end())
                                : std::vector<nlohmann::json>{};
  }

  // What the user stores on disk, measured as the server measures it at a first login.
  storage::QuotaUsage DiskUsage(const std::string& user) const {
    UniqueFd home(::open(Home(user).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd partials(::open(Partials(user).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto usage = storage::MeasureUsage(home.get(), partials.valid() ? partials.get() : -1);
    EXPECT_TRUE(usage.ok()) << usage.status().ToString();
    return usage.ok() ? *usage : storage::QuotaUsage{};
  }
  // The ledger's usage agrees with the disk, and nothing is left reserved.
  void ExpectUsageMatchesDisk(const std::string& user) {
    const auto ledger = quotas_.Usage(user);
    const auto disk = DiskUsage(user);
    EXPECT_EQ(ledger.bytes, disk.bytes);
    EXPECT_EQ(ledger.entries, disk.entries);
    EXPECT_EQ(ledger.reserved_bytes, 0u);
    EXPECT_EQ(ledger.reserved_entries, 0u);
  }

  ferry::testing::TempDir temp_;
  std::string data_ = temp_.path();
  std::unique_ptr<storage::UserStore> users_;
  storage::QuotaLedger quotas_;
  // Never slows a login down: the throttle has tests of its own.
  LoginThrottle throttle_{LoginThrottlePolicy{1000, 10000, std::chrono::seconds(900)}};
  ConnectionLimiter user_sessions_{100, 8};
  std::unique_ptr<AuditLog> audit_;
  // Declared after what its threads use, so it is joined before they go.
  asio::thread_pool login_pool_{1};
  std::unique_ptr<FileService> files_;
};

// An audit line's field, or "" when the line lacks it.
inline std::string Field(const nlohmann::json& line, const char* name) {
  return line.is_object() && line.contains(name) && line[name].is_string() ? line[name].get<std::string>() : "";
}
inline std::optional<std::uint64_t> BytesOf(const nlohmann::json& line) {
  if (!line.is_object() || !line.contains("bytes") || !line["bytes"].is_number_unsigned()) return std::nullopt;
  return line["bytes"].get<std::uint64_t>();
}

}  // namespace ferry::service
