#include "storage/user_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <vector>
#include <thread>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

// The cheapest cost libsodium accepts: these tests are about the store, not about argon2id's strength.
const PasswordHashCost kFast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

using ferry::testing::TempDir;

std::unique_ptr<UserStore> OpenOrFail(const std::string& path, bool create) {
  auto store = UserStore::Open(path, create);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Reads the stored hash straight from the file, as an attacker with a copy of it would.
std::string StoredHash(const std::string& db_path, const std::string& name) {
  sqlite3* db = nullptr;
  std::string hash;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT password_hash FROM users WHERE name = ?1", -1, &statement, nullptr) ==
            SQLITE_OK &&
        sqlite3_bind_text(statement, 1, name.c_str(), -1, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      hash = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return hash;
}

// Runs one statement on the file and returns the first column of its first row ("" if none).
std::string QueryFile(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW &&
        sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return value;
}

TEST(UserStore, AddedUserVerifiesWithTheirPassword) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "correct horse", kFast).ok());
  EXPECT_TRUE(store->Verify("alice", "correct horse").ok());
  auto record = store->Find("alice");
  ASSERT_TRUE(record.ok()) << record.status().message();
  EXPECT_EQ(record->name, "alice");
  EXPECT_GT(record->created, 0);
  EXPECT_EQ(store->Find("bob").status().code(), ErrorCode::kNotFound);
}

TEST(UserStore, VerifiesWithTheInteractiveCost) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "correct horse", PasswordHashCost::Interactive()).ok());
  EXPECT_TRUE(store->Verify("alice", "correct horse").ok());
  EXPECT_EQ(store->Verify("alice", "wrong horse").code(), ErrorCode::kAuthFailed);
}

TEST(UserStore, UnknownUserAndWrongPasswordGetTheSameError) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "correct horse", kFast).ok());

  const Status wrong_password = store->Verify("alice", "battery staple");
  const Status unknown_user = store->Verify("mallory", "correct horse");
  const Status invalid_name = store->Verify("../etc", "correct horse");
  EXPECT_EQ(wrong_password.code(), ErrorCode::kAuthFailed);
  for (const Status& status : {unknown_user, invalid_name}) {
    EXPECT_EQ(status.code(), wrong_password.code());
    EXPECT_EQ(status.message(), wrong_password.message());
  }
  EXPECT_EQ(store->Verify("alice", "").code(), ErrorCode::kAuthFailed);
}

TEST(UserStore, AddingAnExistingUserFailsWithExists) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "first", kFast).ok());
  const Status again = store->Add("alice", "second", kFast);
  EXPECT_EQ(again.code(), ErrorCode::kExists);
  EXPECT_NE(again.message().find("'alice'"), std::string::npos) << "names the user: " << again.message();
  EXPECT_TRUE(store->Verify("alice", "first").ok()) << "the failed add must not change the password";
}

TEST(UserStore, RejectsAnEmptyPassword) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Add("alice", "", kFast).code(), ErrorCode::kInvalid);
  EXPECT_EQ(store->Find("alice").status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  EXPECT_EQ(store->SetPassword("alice", "", kFast).code(), ErrorCode::kInvalid);
  EXPECT_TRUE(store->Verify("alice", "secret").ok());
}

TEST(UserStore, RemovedUserNoLongerVerifies) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  const Status wrong_password = store->Verify("alice", "not the secret");
  ASSERT_TRUE(store->Remove("alice").ok());
  const Status verdict = store->Verify("alice", "secret");
  EXPECT_EQ(verdict.code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(verdict.message(), wrong_password.message()) << "the same answer as a wrong password";
  EXPECT_EQ(store->Find("alice").status().code(), ErrorCode::kNotFound);
}

TEST(UserStore, RemovingOrChangingAnUnknownUserFailsWithNotFound) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  const Status removed = store->Remove("ghost");
  EXPECT_EQ(removed.code(), ErrorCode::kNotFound);
  EXPECT_NE(removed.message().find("'ghost'"), std::string::npos) << "names the user: " << removed.message();
  const Status changed = store->SetPassword("ghost", "secret", kFast);
  EXPECT_EQ(changed.code(), ErrorCode::kNotFound);
  EXPECT_NE(changed.message().find("'ghost'"), std::string::npos) << "names the user: " << changed.message();
}

TEST(UserStore, SetPasswordReplacesTheOldPassword) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "old secret", kFast).ok());
  ASSERT_TRUE(store->SetPassword("alice", "new secret", kFast).ok());
  EXPECT_TRUE(store->Verify("alice", "new secret").ok());
  EXPECT_EQ(store->Verify("alice", "old secret").code(), ErrorCode::kAuthFailed);
}

TEST(UserStore, ListsUsersSortedByName) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->List()->empty());
  for (const char* name : {"carol", "alice", "_svc", "bob", "0day"}) ASSERT_TRUE(store->Add(name, "pw", kFast).ok());
  const auto users = store->List();
  ASSERT_TRUE(users.ok()) << users.status().message();
  std::vector<std::string> names;
  for (const auto& record : *users) names.push_back(record.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0day", "_svc", "alice", "bob", "carol"}));
}

TEST(UserStore, ADatabaseFailureIsReportedAndNotTakenForAMissingUser) {
  TempDir dir;
  const std::string path = dir / "users.db";
  auto store = OpenOrFail(path, true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  // Another process breaks the database under the open store: every query of the users table now fails.
  QueryFile(path, "ALTER TABLE users RENAME TO users_elsewhere");
  for (const char* name : {"alice", "bob"}) {
    const auto found = store->Find(name);
    EXPECT_EQ(found.status().code(), ErrorCode::kIo) << name << ": " << found.status().ToString();
  }
  const auto users = store->List();
  EXPECT_EQ(users.status().code(), ErrorCode::kIo) << "a failing database must not read as no users";
  EXPECT_EQ(store->Add("bob", "pw", kFast).code(), ErrorCode::kIo);
  EXPECT_EQ(store->SetPassword("alice", "other", kFast).code(), ErrorCode::kIo);

  QueryFile(path, "ALTER TABLE users_elsewhere RENAME TO users");
  const auto after = store->List();
  ASSERT_TRUE(after.ok()) << after.status().message();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().name, "alice");
  EXPECT_TRUE(store->Verify("alice", "secret").ok()) << "the failed change must not have touched the password";
}

TEST(UserStore, AcceptsOnlyWellFormedNames) {
  const std::string longest(32, 'z');
  for (const std::string_view good : {std::string_view("a"), std::string_view("alice"), std::string_view("bob.smith"),
                                      std::string_view("x-ray"), std::string_view("_svc"), std::string_view("0day"),
                                      std::string_view("a..b"), std::string_view("a-"), std::string_view(longest)}) {
    EXPECT_TRUE(UserStore::ValidateName(good).ok()) << good;
  }
  const std::string too_long(33, 'a');
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."), std::string(".hidden"),
                                 std::string("a/b"), std::string("A"), std::string("Alice"), std::string("-x"),
                                 std::string("a b"), std::string("caf\xc3\xa9"), std::string("a\0b", 3), too_long}) {
    const Status status = UserStore::ValidateName(bad);
    EXPECT_EQ(status.code(), ErrorCode::kInvalid) << bad;
    EXPECT_NE(status.message().find("1-32 characters"), std::string::npos) << status.message();
  }
}

TEST(UserStore, AddRejectsABadNameWithoutStoringIt) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Add("../root", "secret", kFast).code(), ErrorCode::kInvalid);
  EXPECT_TRUE(store->List()->empty());
}

TEST(UserStore, UsersPersistWhenTheDatabaseIsReopened) {
  TempDir dir;
  const std::string path = dir / "users.db";
  {
    auto store = OpenOrFail(path, true);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
    ASSERT_TRUE(store->Add("bob", "hunter2", kFast).ok());
  }
  auto store = OpenOrFail(path, false);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Verify("alice", "secret").ok());
  EXPECT_TRUE(store->Verify("bob", "hunter2").ok());
  EXPECT_EQ(store->List()->size(), 2u);
}

// One database opened twice, as the server and the admin command (another process) open it.
class TwoStores : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = OpenOrFail(path_, true);
    admin_ = OpenOrFail(path_, false);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(admin_, nullptr);
  }

  TempDir dir_;
  const std::string path_ = dir_ / "users.db";
  std::unique_ptr<UserStore> server_;
  std::unique_ptr<UserStore> admin_;
};

TEST_F(TwoStores, TwoOpenStoresSeeEachOthersChanges) {
  ASSERT_TRUE(admin_->Add("alice", "secret", kFast).ok());
  EXPECT_TRUE(server_->Verify("alice", "secret").ok());
  ASSERT_TRUE(admin_->Remove("alice").ok());
  EXPECT_EQ(server_->Verify("alice", "secret").code(), ErrorCode::kAuthFailed);
}

// Makes the database files look untouched for `age` seconds, so the store caches what it reads next.
void BackdateDatabase(const std::string& path, int age) {
  const struct timespec old[2] = {{::time(nullptr) - age, 0}, {::time(nullptr) - age, 0}};
  for (const std::string& file : {path, path + "-wal"}) ::utimensat(AT_FDCWD, file.c_str(), old, 0);
}

TEST_F(TwoStores, CachedPermissionsAndQuotasFollowOtherConnectionsAtOnce) {
  ASSERT_TRUE(admin_->Add("alice", "secret", kFast).ok());
  for (int round = 1; round <= 20; ++round) {
    BackdateDatabase(path_, 100 - round);
    // Twice each: the second answer comes from the cache.
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(server_->Permissions("alice").ok());
      ASSERT_TRUE(server_->Quota("alice").ok());
    }
    const bool read_only = round % 2 == 1;
    if (round % 3 == 0) {
      // A connection that is not a UserStore at all, as another program would be.
      QueryFile(path_, read_only ? "UPDATE users SET read_only = 1, quota_files = 7 WHERE name = 'alice'"
                                : "UPDATE users SET read_only = 0, quota_files = 7 WHERE name = 'alice'");
      BackdateDatabase(path_, 50);  // as if the change were long past: it must be seen all the same
      auto quota = server_->Quota("alice");
      ASSERT_TRUE(quota.ok());
      EXPECT_EQ(quota->max_files, std::optional<std::uint64_t>(7)) << "round " << round;
    } else {
      ASSERT_TRUE(admin_->SetPermissions("alice", read_only, std::nullopt).ok());
      ASSERT_TRUE(admin_->SetQuota("alice", std::optional<std::uint64_t>(1000 + round), std::nullopt).ok());
      BackdateDatabase(path_, 50);
      auto quota = server_->Quota("alice");
      ASSERT_TRUE(quota.ok());
      EXPECT_EQ(quota->max_bytes, std::optional<std::uint64_t>(1000 + round)) << "round " << round;
    }
    auto permissions = server_->Permissions("alice");
    ASSERT_TRUE(permissions.ok());
    EXPECT_EQ(permissions->read_only, read_only) << "round " << round;
  }
  ASSERT_TRUE(admin_->Remove("alice").ok());
  EXPECT_EQ(server_->Permissions("alice").status().code(), ErrorCode::kNotFound);
}

TEST(UserStore, WithoutThePasswordCacheEveryLoginVerifiesTheHash) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  const auto before = store->hash_verifications();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store->Verify("alice", "secret").ok());
  EXPECT_EQ(store->hash_verifications(), before + 3);
}

TEST(UserStore, PasswordCacheSkipsTheHashOnlyForTheRightPassword) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  store->SetPasswordCache(std::chrono::seconds(600));
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  ASSERT_TRUE(store->Add("bob", "hunter2", kFast).ok());
  const auto start = store->hash_verifications();
  EXPECT_TRUE(store->Verify("alice", "secret").ok());
  EXPECT_EQ(store->hash_verifications(), start + 1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store->Verify("alice", "secret").ok());
  EXPECT_EQ(store->hash_verifications(), start + 1) << "a remembered password is not hashed again";
  // Wrong passwords, another user's password and unknown users always cost a full verification and fail.
  EXPECT_EQ(store->Verify("alice", "secreT").code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(store->Verify("alice", "hunter2").code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(store->Verify("bob", "secret").code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(store->Verify("carol", "secret").code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(store->hash_verifications(), start + 5);
  EXPECT_TRUE(store->Verify("alice", "secret").ok());
  EXPECT_EQ(store->hash_verifications(), start + 5);
}

TEST_F(TwoStores, PasswordCacheForgetsAChangedPasswordAndARemovedUser) {
  server_->SetPasswordCache(std::chrono::seconds(600));
  ASSERT_TRUE(admin_->Add("alice", "old-secret", kFast).ok());
  ASSERT_TRUE(server_->Verify("alice", "old-secret").ok());
  ASSERT_TRUE(server_->Verify("alice", "old-secret").ok());
  // Changed by another connection (the admin command): the remembered password matched the old hash only.
  ASSERT_TRUE(admin_->SetPassword("alice", "new-secret", kFast).ok());
  EXPECT_EQ(server_->Verify("alice", "old-secret").code(), ErrorCode::kAuthFailed);
  EXPECT_TRUE(server_->Verify("alice", "new-secret").ok());
  ASSERT_TRUE(admin_->Remove("alice").ok());
  EXPECT_EQ(server_->Verify("alice", "new-secret").code(), ErrorCode::kAuthFailed);
  // A user of the same name added again starts with a hash of its own.
  ASSERT_TRUE(admin_->Add("alice", "new-secret", kFast).ok());
  const auto before = server_->hash_verifications();
  EXPECT_TRUE(server_->Verify("alice", "new-secret").ok());
  EXPECT_EQ(server_->hash_verifications(), before + 1);
}

TEST(UserStore, LoginsArrivingTogetherShareOneVerification) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  store->SetPasswordCache(std::chrono::seconds(600));
  // A real cost, so that the logins overlap.
  ASSERT_TRUE(store->Add("alice", "secret", PasswordHashCost::Interactive()).ok());
  const auto before = store->hash_verifications();
  std::vector<std::thread> logins;
  std::atomic<int> accepted{0};
  for (int i = 0; i < 8; ++i) {
    logins.emplace_back([&] { accepted += store->Verify("alice", "secret").ok() ? 1 : 0; });
  }
  for (auto& login : logins) login.join();
  EXPECT_EQ(accepted.load(), 8);
  EXPECT_EQ(store->hash_verifications(), before + 1);
}

TEST(UserStore, OpeningAMissingDatabaseWithoutCreateFailsWithNotFound) {
  TempDir dir;
  const std::string path = dir / "missing.db";
  auto store = UserStore::Open(path, false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(UserStore, StoresOnlyArgon2idHashes) {
  TempDir dir;
  const std::string path = dir / "users.db";
  auto store = OpenOrFail(path, true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "correct horse", kFast).ok());
  const std::string hash = StoredHash(path, "alice");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("correct horse"), std::string::npos);
}

TEST(UserStore, CreatesTheDatabaseFileReadableOnlyByItsOwner) {
  TempDir dir;
  const std::string path = dir / "users.db";
  const mode_t old_umask = ::umask(022);
  auto store = OpenOrFail(path, true);
  ::umask(old_umask);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "secret", kFast).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // SQLite gives its side files the database's mode; they hold the same hashes.
  const std::string wal = path + "-wal";
  if (::stat(wal.c_str(), &st) == 0) {
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
}

TEST(UserStore, UsesWalAndRecordsTheSchemaVersion) {
  TempDir dir;
  const std::string path = dir / "users.db";
  ASSERT_NE(OpenOrFail(path, true), nullptr);
  EXPECT_EQ(QueryFile(path, "PRAGMA journal_mode"), "wal");
  // 2: permissions, 3: quotas, 4: keys, 5: sessions_ended_at
  EXPECT_EQ(QueryFile(path, "PRAGMA user_version"), "5");
}

TEST(UserStore, NewUsersHaveNoQuota) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  auto quota = store->Quota("alice");
  ASSERT_TRUE(quota.ok()) << quota.status().ToString();
  EXPECT_FALSE(quota->max_bytes.has_value());
  EXPECT_FALSE(quota->max_files.has_value());
}

TEST(UserStore, SetQuotaChangesOnlyWhatIsGiven) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  ASSERT_TRUE(store->SetQuota("alice", std::optional<std::uint64_t>(5000), std::nullopt).ok());
  auto quota = store->Quota("alice");
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ(quota->max_bytes, std::optional<std::uint64_t>(5000));
  EXPECT_FALSE(quota->max_files.has_value());

  ASSERT_TRUE(store->SetQuota("alice", std::nullopt, std::optional<std::uint64_t>(7)).ok());
  quota = store->Quota("alice");
  EXPECT_EQ(quota->max_bytes, std::optional<std::uint64_t>(5000));
  EXPECT_EQ(quota->max_files, std::optional<std::uint64_t>(7));

  // An inner nullopt removes the limit.
  ASSERT_TRUE(store->SetQuota("alice", std::optional<std::uint64_t>(), std::nullopt).ok());
  quota = store->Quota("alice");
  EXPECT_FALSE(quota->max_bytes.has_value());
  EXPECT_EQ(quota->max_files, std::optional<std::uint64_t>(7));

  auto record = store->Find("alice");
  ASSERT_TRUE(record.ok()) << record.status().message();
  EXPECT_EQ(record->quota.max_files, std::optional<std::uint64_t>(7));
  const auto users = store->List();
  ASSERT_TRUE(users.ok()) << users.status().message();
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ(users->front().quota.max_files, std::optional<std::uint64_t>(7));
}

TEST(UserStore, SetQuotaRefusesUnknownUsersAndAbsurdLimits) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  EXPECT_EQ(store->SetQuota("nobody", std::optional<std::uint64_t>(1), std::nullopt).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->Quota("nobody").status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  EXPECT_EQ(store->SetQuota("alice", std::optional<std::uint64_t>(~std::uint64_t{0}), std::nullopt).code(),
            ErrorCode::kInvalid);
}

TEST(UserStore, MigratesAVersion2DatabaseKeepingItsUsers) {
  TempDir dir;
  const std::string path = dir / "users.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE users(name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created INTEGER "
                           "NOT NULL, read_only INTEGER NOT NULL DEFAULT 0, can_exec INTEGER NOT NULL DEFAULT 0);"
                           "INSERT INTO users VALUES('old', 'x', 1, 1, 0);"
                           "PRAGMA user_version = 2;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = OpenOrFail(path, false);
  ASSERT_NE(store, nullptr);
  auto record = store->Find("old");
  ASSERT_TRUE(record.ok()) << record.status().message();
  EXPECT_TRUE(record->permissions.read_only);
  EXPECT_FALSE(record->quota.max_bytes.has_value());
  EXPECT_EQ(record->sessions_ended_at, 0);
  EXPECT_EQ(QueryFile(path, "PRAGMA user_version"), "5");
  auto keys = store->Keys("old");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_TRUE(keys->empty());
}

TEST(UserStore, RefusesADatabaseFromANewerVersion) {
  TempDir dir;
  const std::string path = dir / "users.db";
  ASSERT_NE(OpenOrFail(path, true), nullptr);
  QueryFile(path, "PRAGMA user_version = 99");
  auto store = UserStore::Open(path, false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kInvalid);
  EXPECT_NE(store.status().message().find("99"), std::string::npos) << store.status().message();
}

// A fresh Ed25519 public key (made as a host key would be, in `dir`).
SshPublicKey NewKey(const TempDir& dir, const std::string& name, const std::string& comment) {
  auto key = CreateHostKey(dir / name, comment);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return key.ok() ? *key : SshPublicKey{};
}

TEST(UserStore, KeepsEachUsersKeysInTheOrderAdded) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  ASSERT_TRUE(store->Add("bob", "pw", kFast).ok());
  const SshPublicKey first = NewKey(dir, "k1", "laptop");
  const SshPublicKey second = NewKey(dir, "k2", "phone with spaces");

  auto added = store->AddKeys("alice", {first, second});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, (std::vector<bool>{true, true}));
  // The same key again is left alone; another user may hold it too.
  added = store->AddKeys("alice", {second});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, (std::vector<bool>{false}));
  ASSERT_TRUE(store->AddKeys("bob", {second}).ok());

  auto keys = store->Keys("alice");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].fingerprint, first.fingerprint);
  EXPECT_EQ((*keys)[0].blob_base64, first.blob_base64);
  EXPECT_EQ((*keys)[0].type, "ssh-ed25519");
  EXPECT_EQ((*keys)[0].bits, 256u);
  EXPECT_EQ((*keys)[1].comment, "phone with spaces");

  ASSERT_TRUE(store->RemoveKey("alice", second.fingerprint).ok());
  EXPECT_EQ(store->RemoveKey("alice", second.fingerprint).code(), ErrorCode::kNotFound);
  keys = store->Keys("alice");
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].fingerprint, first.fingerprint);
  EXPECT_EQ(store->Keys("bob")->size(), 1u);  // bob's copy stays
}

TEST(UserStore, KeysOfUnknownUsersAreRefusedAndGoWithTheirUser) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  const SshPublicKey key = NewKey(dir, "k", "laptop");
  EXPECT_EQ(store->AddKeys("nobody", {key}).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->Keys("nobody").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->RemoveKey("nobody", key.fingerprint).code(), ErrorCode::kNotFound);

  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  ASSERT_TRUE(store->AddKeys("alice", {key}).ok());
  ASSERT_TRUE(store->Remove("alice").ok());
  EXPECT_EQ(QueryFile(dir / "users.db", "SELECT COUNT(*) FROM user_keys"), "0");
  // A new user of the same name starts with no keys.
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  auto keys = store->Keys("alice");
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->empty());
}

}  // namespace
}  // namespace ferry::storage

namespace ferry::storage {
namespace {

TEST(UserStore, EndSessionsRecordsWhenForAKnownUserOnly) {
  TempDir dir;
  auto store = OpenOrFail(dir / "users.db", true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Add("alice", "pw", kFast).ok());
  EXPECT_EQ(store->Find("alice")->sessions_ended_at, 0);
  struct timespec before {};
  ::clock_gettime(CLOCK_REALTIME, &before);
  ASSERT_TRUE(store->EndSessions("alice").ok());
  const auto ended = store->Find("alice")->sessions_ended_at;
  EXPECT_GE(ended, std::int64_t{before.tv_sec} * 1'000'000'000 + before.tv_nsec);
  EXPECT_EQ(store->EndSessions("nobody").code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ferry::storage
