#include "storage/user_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <iterator>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/unique_fd.h"

namespace ferry::storage {
namespace {

constexpr std::size_t kMaxNameLength = 32;
constexpr int kBusyTimeoutMs = 5000;

// Step i brings the schema from user_version i to i + 1. Append new steps; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    "CREATE TABLE users(name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created INTEGER NOT NULL)",
    "ALTER TABLE users ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN can_exec INTEGER NOT NULL DEFAULT 0",
    // NULL: no limit.
    "ALTER TABLE users ADD COLUMN quota_bytes INTEGER;"
    "ALTER TABLE users ADD COLUMN quota_files INTEGER",
    // Public keys; the rowid orders them as added.
    "CREATE TABLE user_keys(user_name TEXT NOT NULL, fingerprint TEXT NOT NULL, type TEXT NOT NULL, "
    "blob TEXT NOT NULL, comment TEXT NOT NULL, bits INTEGER NOT NULL, added INTEGER NOT NULL, "
    "UNIQUE(user_name, fingerprint))",
    // Sessions that logged in before this time (unix nanoseconds) are to end (ferryd user passwd --logout).
    "ALTER TABLE users ADD COLUMN sessions_ended_at INTEGER NOT NULL DEFAULT 0",
};
constexpr std::uint64_t kMaxLimit = std::uint64_t{1} << 62;
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// REQUIRES: the caller holds the lock that serializes use of `db`, so the message is the one of its last call.
Status SqliteError(sqlite3* db, std::string_view what) {
  return Status(ErrorCode::kIo, fmt::format("user database: {}: {}", what, sqlite3_errmsg(db)));
}

// For constant SQL only; anything carrying data goes through Prepare and bound parameters.
Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqliteError(db, what);
  return Status::Ok();
}

Result<Statement> Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return SqliteError(db, "preparing a statement");
  }
  return Statement(raw);
}

// The destructor argument is SQLITE_STATIC (0): the bound text must outlive the statement, which every caller here
// guarantees by finalizing the statement before the text goes.
bool BindText(sqlite3_stmt* statement, int index, std::string_view text) {
  return sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), nullptr) == SQLITE_OK;
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return text != nullptr ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column)))
                         : std::string();
}

bool InitSodium() {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] { ready = sodium_init() >= 0; });
  return ready;
}

Result<std::string> HashPassword(std::string_view password, const PasswordHashCost& cost) {
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), cost.ops_limit, cost.mem_limit) != 0) {
    return Status(ErrorCode::kIo, "hashing the password failed (out of memory, or a cost outside libsodium's limits)");
  }
  return std::string(hash);
}

Status CheckPassword(std::string_view password) {
  if (password.empty()) return Status(ErrorCode::kInvalid, "the password must not be empty");
  return Status::Ok();
}

std::optional<std::uint64_t> ColumnLimit(sqlite3_stmt* statement, int column) {
  if (sqlite3_column_type(statement, column) == SQLITE_NULL) return std::nullopt;
  return static_cast<std::uint64_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(statement, column)));
}

// The columns of a UserRecord, in the order RecordFromRow reads them.
constexpr std::string_view kRecordColumns =
    "name, created, read_only, can_exec, quota_bytes, quota_files, sessions_ended_at";

UserRecord RecordFromRow(sqlite3_stmt* statement) {
  return UserRecord{ColumnText(statement, 0),
                    sqlite3_column_int64(statement, 1),
                    {sqlite3_column_int(statement, 2) != 0, sqlite3_column_int(statement, 3) != 0},
                    {ColumnLimit(statement, 4), ColumnLimit(statement, 5)},
                    sqlite3_column_int64(statement, 6)};
}

// Runs `body` in an IMMEDIATE transaction (the write lock taken first), committing if it succeeds.
// REQUIRES: the caller holds the lock that serializes use of `db`.
template <typename Body>
Status InTransaction(sqlite3* db, Body&& body) {
  if (Status s = Exec(db, "BEGIN IMMEDIATE", "starting a transaction"); !s.ok()) return s;
  Status status = body();
  if (status.ok()) status = Exec(db, "COMMIT", "committing a transaction");
  if (!status.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

Status NoSuchUser(std::string_view name) {
  return Status(ErrorCode::kNotFound, fmt::format("no such user '{}'", name));
}

Status UserExists(std::string_view name) {
  return Status(ErrorCode::kExists, fmt::format("user '{}' already exists", name));
}

}  // namespace

PasswordHashCost PasswordHashCost::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordHashCost PasswordHashCost::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

Result<std::unique_ptr<UserStore>> UserStore::Open(const std::string& db_path, bool create) {
  if (!InitSodium()) return Status(ErrorCode::kIo, "libsodium failed to initialise");

  if (create) {
    // SQLite would create the file 0644 less the umask; the hashes must not be world-readable, so the file is made
    // here first. SQLite gives its -wal and -shm files the mode of the database file.
    UniqueFd fd(::open(db_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::FromErrno(errno, db_path);
  } else {
    struct stat st {};
    if (::stat(db_path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status(ErrorCode::kNotFound, fmt::format("user database {} does not exist", db_path));
      return Status::FromErrno(errno, db_path);
    }
  }

  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(db_path.c_str(), &raw, flags, nullptr);
  DatabasePtr db(raw);
  if (rc != SQLITE_OK) {
    return Status(ErrorCode::kIo, fmt::format("opening user database {}: {}", db_path,
                                              db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  // The admin CLI edits users while the server runs: WAL lets readers and one writer proceed together, and the
  // busy timeout makes either side wait for the other's write instead of failing at once.
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  if (Status s = Exec(db.get(), "PRAGMA journal_mode=WAL", "enabling WAL"); !s.ok()) return s;

  std::unique_ptr<UserStore> store(new UserStore(db.release(), db_path));
  if (Status s = store->Migrate(); !s.ok()) return s;
  // Computed before the store is used so that Verify never has to: an unknown user then costs one verification,
  // like a known one.
  if (Status s = store->SetUnknownUserCost(PasswordHashCost::Interactive()); !s.ok()) return s;
  return store;
}

UserStore::UserStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

namespace {

// Users whose last verified password is remembered at once (the cache starts afresh beyond).
constexpr std::size_t kMaxVerifiedPasswords = 100'000;

}  // namespace

bool UserStore::CacheUsable() {
  const DatabaseStamp now = DatabaseStamp::Of(path_);
  if (!now.db.exists) {
    DropCache();
    return false;
  }
  if (!stamp_ || !(*stamp_ == now)) {
    DropCache();
    stamp_ = now;
  }
  return now.Settled();
}

void UserStore::DropCache() {
  permissions_cache_.clear();
  quota_cache_.clear();
}

UserStore::~UserStore() {
  sqlite3_close_v2(db_);
}

Status UserStore::Migrate() {
  std::lock_guard lock(mutex_);
  auto read_version = [this]() -> Result<int> {
    auto statement = Prepare(db_, "PRAGMA user_version");
    if (!statement.ok()) return statement.status();
    if (sqlite3_step(statement->get()) != SQLITE_ROW) return SqliteError(db_, "reading the schema version");
    return sqlite3_column_int(statement->get(), 0);
  };
  const auto too_new = [](int version) {
    return Status(
        ErrorCode::kInvalid,
        fmt::format("user database schema version {} is newer than this build knows ({})", version, kSchemaVersion));
  };
  auto version = read_version();
  if (!version.ok()) return version.status();
  if (*version == kSchemaVersion) return Status::Ok();
  if (*version > kSchemaVersion) return too_new(*version);

  const auto apply_pending_steps = [&]() -> Status {
    auto current = read_version();  // another process may have migrated since the first read
    if (!current.ok()) return current.status();
    if (*current > kSchemaVersion) return too_new(*current);
    if (*current == kSchemaVersion) return Status::Ok();
    for (int step = *current; step < kSchemaVersion; ++step) {
      if (Status s = Exec(db_, kMigrations[step], fmt::format("migrating the schema to version {}", step + 1));
          !s.ok()) {
        return s;
      }
    }
    // PRAGMA takes no bound parameters; the value is our own constant.
    const std::string set_version = fmt::format("PRAGMA user_version = {}", kSchemaVersion);
    return Exec(db_, set_version.c_str(), "recording the schema version");
  };
  // IMMEDIATE takes the write lock before the version is read again, so two processes opening an old database at
  // the same moment cannot both run a step.
  if (Status s = Exec(db_, "BEGIN IMMEDIATE", "starting the schema migration"); !s.ok()) return s;
  Status status = apply_pending_steps();
  if (status.ok()) status = Exec(db_, "COMMIT", "committing the schema migration");
  if (!status.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

Status UserStore::ValidateName(std::string_view name) {
  const auto is_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  const auto is_rest = [&](char c) { return is_first(c) || c == '.' || c == '-'; };
  bool valid = !name.empty() && name.size() <= kMaxNameLength && is_first(name.front());
  for (std::size_t i = 1; valid && i < name.size(); ++i) valid = is_rest(name[i]);
  if (valid) return Status::Ok();
  return Status(ErrorCode::kInvalid,
                fmt::format("invalid user name '{}': use 1-{} characters of a-z, 0-9, '_', '.' and '-', "
                            "starting with a letter, digit or '_'",
                            name, kMaxNameLength));
}

Status UserStore::Add(std::string_view name, std::string_view password, const PasswordHashCost& cost) {
  if (Status s = ValidateName(name); !s.ok()) return s;
  if (Status s = CheckPassword(password); !s.ok()) return s;
  // A cheap early answer; the primary key still decides if another process adds the name meanwhile.
  if (Status s = CheckAbsent(name); !s.ok()) return s;
  auto hash = HashPassword(password, cost);
  if (!hash.ok()) return hash.status();

  std::lock_guard lock(mutex_);
  DropCache();
  auto statement = Prepare(db_, "INSERT INTO users(name, password_hash, created) VALUES(?1, ?2, ?3)");
  if (!statement.ok()) return statement.status();
  sqlite3_stmt* insert = statement->get();
  if (!BindText(insert, 1, name) || !BindText(insert, 2, *hash) ||
      sqlite3_bind_int64(insert, 3, static_cast<sqlite3_int64>(std::time(nullptr))) != SQLITE_OK) {
    return SqliteError(db_, "binding a new user");
  }
  if (sqlite3_step(insert) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) return UserExists(name);
    return SqliteError(db_, "adding a user");
  }
  return Status::Ok();
}

Status UserStore::Remove(std::string_view name) {
  std::lock_guard lock(mutex_);
  DropCache();
  verified_.erase(std::string(name));
  return InTransaction(db_, [&]() -> Status {
    for (const char* sql : {"DELETE FROM user_keys WHERE user_name = ?1", "DELETE FROM users WHERE name = ?1"}) {
      auto statement = Prepare(db_, sql);
      if (!statement.ok()) return statement.status();
      if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
      if (sqlite3_step(statement->get()) != SQLITE_DONE) return SqliteError(db_, "removing a user");
    }
    if (sqlite3_changes(db_) == 0) return NoSuchUser(name);
    return Status::Ok();
  });
}

Result<std::vector<bool>> UserStore::AddKeys(std::string_view name, const std::vector<SshPublicKey>& keys) {
  std::vector<bool> added;
  std::lock_guard lock(mutex_);
  Status status = InTransaction(db_, [&]() -> Status {
    if (Status s = UserExistsLocked(name); !s.ok()) return s;
    auto statement = Prepare(db_,
                             "INSERT OR IGNORE INTO user_keys(user_name, fingerprint, type, blob, comment, bits, added) "
                             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!statement.ok()) return statement.status();
    sqlite3_stmt* insert = statement->get();
    for (const auto& key : keys) {
      sqlite3_reset(insert);
      if (!BindText(insert, 1, name) || !BindText(insert, 2, key.fingerprint) || !BindText(insert, 3, key.type) ||
          !BindText(insert, 4, key.blob_base64) || !BindText(insert, 5, key.comment) ||
          sqlite3_bind_int(insert, 6, static_cast<int>(key.bits)) != SQLITE_OK ||
          sqlite3_bind_int64(insert, 7, static_cast<sqlite3_int64>(std::time(nullptr))) != SQLITE_OK) {
        return SqliteError(db_, "binding a key");
      }
      if (sqlite3_step(insert) != SQLITE_DONE) return SqliteError(db_, "adding a key");
      added.push_back(sqlite3_changes(db_) > 0);
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return added;
}

Result<std::vector<SshPublicKey>> UserStore::Keys(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (Status s = UserExistsLocked(name); !s.ok()) return s;
  auto statement =
      Prepare(db_, "SELECT type, blob, comment, fingerprint, bits FROM user_keys WHERE user_name = ?1 ORDER BY rowid");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  std::vector<SshPublicKey> keys;
  int rc;
  while ((rc = sqlite3_step(statement->get())) == SQLITE_ROW) {
    keys.push_back(SshPublicKey{ColumnText(statement->get(), 0), ColumnText(statement->get(), 1),
                                ColumnText(statement->get(), 2), ColumnText(statement->get(), 3),
                                static_cast<unsigned>(sqlite3_column_int(statement->get(), 4))});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "listing keys");
  return keys;
}

Status UserStore::RemoveKey(std::string_view name, std::string_view fingerprint) {
  std::lock_guard lock(mutex_);
  if (Status s = UserExistsLocked(name); !s.ok()) return s;
  auto statement = Prepare(db_, "DELETE FROM user_keys WHERE user_name = ?1 AND fingerprint = ?2");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name) || !BindText(statement->get(), 2, fingerprint)) {
    return SqliteError(db_, "binding a key");
  }
  if (sqlite3_step(statement->get()) != SQLITE_DONE) return SqliteError(db_, "removing a key");
  if (sqlite3_changes(db_) == 0) {
    return Status(ErrorCode::kNotFound, fmt::format("user '{}' has no key {}", name, fingerprint));
  }
  return Status::Ok();
}

Status UserStore::UserExistsLocked(std::string_view name) {
  auto statement = Prepare(db_, "SELECT 1 FROM users WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return NoSuchUser(name);
  if (rc != SQLITE_ROW) return SqliteError(db_, "looking up a user");
  return Status::Ok();
}

Status UserStore::SetPassword(std::string_view name, std::string_view password, const PasswordHashCost& cost) {
  if (Status s = CheckPassword(password); !s.ok()) return s;
  if (auto found = Find(name); !found.ok()) return found.status();  // spares a slow hash; the UPDATE still decides
  auto hash = HashPassword(password, cost);
  if (!hash.ok()) return hash.status();

  std::lock_guard lock(mutex_);
  verified_.erase(std::string(name));
  auto statement = Prepare(db_, "UPDATE users SET password_hash = ?2 WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name) || !BindText(statement->get(), 2, *hash)) {
    return SqliteError(db_, "binding a password");
  }
  if (sqlite3_step(statement->get()) != SQLITE_DONE) return SqliteError(db_, "changing a password");
  if (sqlite3_changes(db_) == 0) return NoSuchUser(name);
  return Status::Ok();
}

Status UserStore::EndSessions(std::string_view name) {
  const std::int64_t now = UnixNanosecondsNow();
  std::lock_guard lock(mutex_);
  auto statement = Prepare(db_, "UPDATE users SET sessions_ended_at = ?2 WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  sqlite3_bind_int64(statement->get(), 2, now);
  if (sqlite3_step(statement->get()) != SQLITE_DONE) return SqliteError(db_, "ending sessions");
  if (sqlite3_changes(db_) == 0) return NoSuchUser(name);
  return Status::Ok();
}

Status UserStore::CheckAbsent(std::string_view name) {
  auto found = Find(name);
  if (found.ok()) return UserExists(name);
  if (found.status().code() == ErrorCode::kNotFound) return Status::Ok();
  return found.status();
}

Result<std::vector<UserRecord>> UserStore::List() {
  std::vector<UserRecord> users;
  std::lock_guard lock(mutex_);
  auto statement = Prepare(db_, fmt::format("SELECT {} FROM users ORDER BY name", kRecordColumns));
  if (!statement.ok()) return statement.status();
  int rc;
  while ((rc = sqlite3_step(statement->get())) == SQLITE_ROW) users.push_back(RecordFromRow(statement->get()));
  if (rc != SQLITE_DONE) return SqliteError(db_, "listing users");
  return users;
}

Result<UserRecord> UserStore::Find(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto statement = Prepare(db_, fmt::format("SELECT {} FROM users WHERE name = ?1", kRecordColumns));
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return NoSuchUser(name);
  if (rc != SQLITE_ROW) return SqliteError(db_, "looking up a user");
  return RecordFromRow(statement->get());
}

Result<UserQuota> UserStore::Quota(std::string_view name) {
  std::lock_guard lock(mutex_);
  const bool cache = CacheUsable();
  if (cache) {
    if (auto it = quota_cache_.find(std::string(name)); it != quota_cache_.end()) return it->second;
  }
  auto statement = Prepare(db_, "SELECT quota_bytes, quota_files FROM users WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return NoSuchUser(name);
  if (rc != SQLITE_ROW) return SqliteError(db_, "reading a quota");
  const UserQuota quota{ColumnLimit(statement->get(), 0), ColumnLimit(statement->get(), 1)};
  if (cache) quota_cache_.emplace(std::string(name), quota);
  return quota;
}

Status UserStore::SetQuota(std::string_view name, std::optional<std::optional<std::uint64_t>> max_bytes,
                           std::optional<std::optional<std::uint64_t>> max_files) {
  for (const auto* limit : {&max_bytes, &max_files}) {
    if (*limit && **limit && ***limit > kMaxLimit) {
      return Status(ErrorCode::kInvalid, fmt::format("a quota may be at most {}", kMaxLimit));
    }
  }
  std::lock_guard lock(mutex_);
  DropCache();
  // ?4 and ?5 say whether ?2 and ?3 replace the limit (a NULL ?2 with ?4 = 1 removes it).
  auto statement = Prepare(db_,
                           "UPDATE users SET quota_bytes = CASE WHEN ?4 THEN ?2 ELSE quota_bytes END, "
                           "quota_files = CASE WHEN ?5 THEN ?3 ELSE quota_files END WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  sqlite3_stmt* update = statement->get();
  if (!BindText(update, 1, name)) return SqliteError(db_, "binding a user name");
  if (max_bytes && *max_bytes) sqlite3_bind_int64(update, 2, static_cast<sqlite3_int64>(**max_bytes));
  if (max_files && *max_files) sqlite3_bind_int64(update, 3, static_cast<sqlite3_int64>(**max_files));
  sqlite3_bind_int(update, 4, max_bytes ? 1 : 0);
  sqlite3_bind_int(update, 5, max_files ? 1 : 0);
  if (sqlite3_step(update) != SQLITE_DONE) return SqliteError(db_, "changing a quota");
  if (sqlite3_changes(db_) == 0) return NoSuchUser(name);
  return Status::Ok();
}

Result<UserPermissions> UserStore::Permissions(std::string_view name) {
  std::lock_guard lock(mutex_);
  const bool cache = CacheUsable();
  if (cache) {
    if (auto it = permissions_cache_.find(std::string(name)); it != permissions_cache_.end()) return it->second;
  }
  auto statement = Prepare(db_, "SELECT read_only, can_exec FROM users WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return NoSuchUser(name);
  if (rc != SQLITE_ROW) return SqliteError(db_, "reading permissions");
  const UserPermissions permissions{sqlite3_column_int(statement->get(), 0) != 0,
                                    sqlite3_column_int(statement->get(), 1) != 0};
  if (cache) permissions_cache_.emplace(std::string(name), permissions);
  return permissions;
}

Status UserStore::SetPermissions(std::string_view name, std::optional<bool> read_only, std::optional<bool> can_exec) {
  std::lock_guard lock(mutex_);
  DropCache();
  auto statement = Prepare(db_,
                           "UPDATE users SET read_only = COALESCE(?2, read_only), can_exec = COALESCE(?3, can_exec) "
                           "WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  if (read_only) sqlite3_bind_int(statement->get(), 2, *read_only ? 1 : 0);
  if (can_exec) sqlite3_bind_int(statement->get(), 3, *can_exec ? 1 : 0);
  if (sqlite3_step(statement->get()) != SQLITE_DONE) return SqliteError(db_, "changing permissions");
  if (sqlite3_changes(db_) == 0) return NoSuchUser(name);
  return Status::Ok();
}

Result<std::string> UserStore::HashOf(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto statement = Prepare(db_, "SELECT password_hash FROM users WHERE name = ?1");
  if (!statement.ok()) return statement.status();
  if (!BindText(statement->get(), 1, name)) return SqliteError(db_, "binding a user name");
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_DONE) return NoSuchUser(name);
  if (rc != SQLITE_ROW) return SqliteError(db_, "looking up a user");
  return ColumnText(statement->get(), 0);
}

Status UserStore::SetUnknownUserCost(const PasswordHashCost& cost) {
  unsigned char random_password[32];
  randombytes_buf(random_password, sizeof random_password);
  auto dummy_hash =
      HashPassword(std::string_view(reinterpret_cast<const char*>(random_password), sizeof random_password), cost);
  sodium_memzero(random_password, sizeof random_password);
  if (!dummy_hash.ok()) return dummy_hash.status();
  dummy_hash_ = std::move(dummy_hash).value();
  return Status::Ok();
}

void UserStore::SetPasswordCache(std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  password_cache_ttl_ = std::max(ttl, std::chrono::seconds(0));
  randombytes_buf(password_cache_key_.data(), password_cache_key_.size());
  verified_.clear();
}

UserStore::Digest UserStore::PasswordDigest(std::string_view name, std::string_view password) const {
  Digest digest{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, password_cache_key_.data(), password_cache_key_.size(), digest.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(name.data()), name.size());
  const unsigned char separator = 0;
  crypto_generichash_update(&state, &separator, 1);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(password.data()), password.size());
  crypto_generichash_final(&state, digest.data(), digest.size());
  return digest;
}

Status UserStore::Verify(std::string_view name, std::string_view password) {
  auto hash = HashOf(name);
  if (!hash.ok() && hash.status().code() != ErrorCode::kNotFound) return hash.status();
  const bool known = hash.ok();
  const std::string& stored = known ? *hash : dummy_hash_;
  const std::string user(name);
  bool cache = false;
  bool registered = false;
  Digest digest{};
  if (known) {
    std::unique_lock lock(mutex_);
    cache = password_cache_ttl_.count() > 0;
    if (cache) {
      digest = PasswordDigest(name, password);
      while (true) {
        const auto hit = verified_.find(user);
        if (hit != verified_.end() && hit->second.stored_hash == stored &&
            std::chrono::steady_clock::now() < hit->second.expires &&
            sodium_memcmp(hit->second.digest.data(), digest.data(), digest.size()) == 0) {
          return Status::Ok();
        }
        const auto busy = verifying_.find(user);
        if (busy == verifying_.end()) {
          verifying_.emplace(user, digest);
          registered = true;
          break;
        }
        // The same password already being verified: wait for that answer instead of paying for it again. Another
        // password is verified on its own.
        if (sodium_memcmp(busy->second.data(), digest.data(), digest.size()) != 0) break;
        verifying_done_.wait(lock);
      }
    }
  }
  hash_verifications_.fetch_add(1);
  const bool match = crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
  if (registered) {
    std::lock_guard lock(mutex_);
    verifying_.erase(user);
    if (match) {
      if (verified_.size() >= kMaxVerifiedPasswords) verified_.clear();
      verified_[user] = VerifiedPassword{stored, digest, std::chrono::steady_clock::now() + password_cache_ttl_};
    }
    verifying_done_.notify_all();
  }
  if (!known || !match) return Status(ErrorCode::kAuthFailed, "login incorrect");
  return Status::Ok();
}

}  // namespace ferry::storage
