// UserStore: the users of one data root, in SQLite, with passwords kept only as argon2id hashes (libsodium).
//
// Thread-safe: one SQLite connection in serialized mode behind a mutex; hashing runs outside the lock. Verify() is
// deliberately slow (argon2id): call it from a bounded worker pool, never from an event-loop thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "storage/database_stamp.h"
#include "storage/ssh_keys.h"

struct sqlite3;

namespace ferry::storage {

// What a user may do beyond reading their own files.
struct UserPermissions {
  bool read_only = false;  // list and download only: no upload, mkdir, rm, rmdir, mv, setstat
  bool can_exec = false;   // may run programs on the server (remote execution)
};

// How much a user may store; no value means no limit.
struct UserQuota {
  std::optional<std::uint64_t> max_bytes;  // bytes of files in the home and of unfinished uploads
  std::optional<std::uint64_t> max_files;  // entries (files, folders, links) in the home
};

struct UserRecord {
  std::string name;
  std::int64_t created = 0;  // unix seconds
  UserPermissions permissions;
  UserQuota quota;
  // Sessions of the user that logged in before this (unix nanoseconds; 0: none) are to end: EndSessions.
  std::int64_t sessions_ended_at = 0;
};

// Cost of each new argon2id hash. Verification uses the cost stored in each hash.
struct PasswordHashCost {
  unsigned long long ops_limit;
  std::size_t mem_limit;
  // libsodium's "interactive" preset: 2 passes over 64 MiB.
  static PasswordHashCost Interactive();
  // libsodium's "moderate" preset: 3 passes over 256 MiB.
  static PasswordHashCost Moderate();
};

class UserStore {
 public:
  // Opens (creating if `create`) the database at `db_path` and brings its schema up to date.
  static Result<std::unique_ptr<UserStore>> Open(const std::string& db_path, bool create);
  ~UserStore();
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;

  // A user name is 1-32 characters of [a-z0-9_.-], starting with a letter, digit or '_'.
  static Status ValidateName(std::string_view name);

  // EEXIST if the user exists, EINVAL for a bad name or an empty password.
  Status Add(std::string_view name, std::string_view password, const PasswordHashCost& cost);
  // ENOENT if there is no such user.
  Status Remove(std::string_view name);
  Status SetPassword(std::string_view name, std::string_view password, const PasswordHashCost& cost);
  // Asks servers to end the user's sessions open now (those that logged in before this call); NOTFOUND for an
  // unknown user.
  Status EndSessions(std::string_view name);
  // Every user, sorted by name; EIO if the database fails.
  Result<std::vector<UserRecord>> List();
  // The current permissions of a user: asked on every write request, so a change applies to open sessions. Answers
  // come from a cache that is dropped whenever the database files change (see DatabaseChanged).
  Result<UserPermissions> Permissions(std::string_view name);
  // Changes what is given; ENOENT for an unknown user.
  Status SetPermissions(std::string_view name, std::optional<bool> read_only, std::optional<bool> can_exec);
  // ENOENT if there is no such user; EIO if the database fails.
  Result<UserRecord> Find(std::string_view name);
  // Ok if there is no such user, EEXIST if there is, EIO if the database fails.
  Status CheckAbsent(std::string_view name);
  // The current quota of a user: asked when an upload or mkdir starts, so a change applies to open sessions.
  // Cached like Permissions.
  Result<UserQuota> Quota(std::string_view name);
  // Changes what is given: an outer nullopt leaves that limit as it is, an inner nullopt removes it. Limits above
  // 2^62 are EINVAL. ENOENT for an unknown user.
  Status SetQuota(std::string_view name, std::optional<std::optional<std::uint64_t>> max_bytes,
                  std::optional<std::optional<std::uint64_t>> max_files);

  // Public keys a user may log in with (SSH, and `ferry -i`). Removing a user removes their keys.
  // Adds `keys` to a user's keys; a key the user already has (same fingerprint) is left as it is. Returns, per key,
  // whether it was added. ENOENT for an unknown user.
  Result<std::vector<bool>> AddKeys(std::string_view name, const std::vector<SshPublicKey>& keys);
  // A user's keys, oldest first; ENOENT for an unknown user. Read from the database on every call, so a key removed
  // by `ferryd user key del` no longer logs anyone in.
  Result<std::vector<SshPublicKey>> Keys(std::string_view name);
  // Removes the key with `fingerprint` ("SHA256:..."); ENOENT if the user has no such key.
  Status RemoveKey(std::string_view name, std::string_view fingerprint);

  // Makes the hash that unknown users are verified against with `cost`, so that an unknown user takes as long as a
  // known one when the configured cost is not the default. Call before any concurrent Verify (at server start).
  Status SetUnknownUserCost(const PasswordHashCost& cost);

  // EAUTH for an unknown user and for a wrong password alike; both cost one argon2id verification, so the
  // answer and its timing do not tell whether the user exists. With the verified-password cache on, a password
  // that verified within `ttl` against the same stored hash is accepted without argon2id again, and logins of one
  // user with one password that arrive together share a single verification. Wrong passwords are never cached.
  Status Verify(std::string_view name, std::string_view password);
  // Turns the verified-password cache on (ttl > 0) or off (0, the default). It keeps, per user, a keyed BLAKE2b
  // digest of the last password that verified (under a random key made now, never stored) and the stored hash it
  // verified against, in memory only.
  void SetPasswordCache(std::chrono::seconds ttl);
  // argon2id verifications run so far (cache hits excluded).
  std::uint64_t hash_verifications() const { return hash_verifications_.load(); }

 private:
  UserStore(sqlite3* db, std::string path);
  // Whether cached answers may be used (and new ones kept): drops the cache when the database files changed since
  // it was filled (any connection's commit, from any process, writes them), and says no while their last change
  // is so recent that a further one could leave the same coarse timestamp. REQUIRES: mutex_ held.
  bool CacheUsable();
  void DropCache();
  Status Migrate();
  // ENOENT if there is no such user; EIO if the database fails.
  Result<std::string> HashOf(std::string_view name);
  // Ok if the user exists, ENOENT if not. REQUIRES: mutex_ held.
  Status UserExistsLocked(std::string_view name);

  std::mutex mutex_;
  sqlite3* db_;
  std::string dummy_hash_;  // verified against when the user is unknown
  std::string path_;
  std::optional<DatabaseStamp> stamp_;  // of the files when the cache was last checked
  std::unordered_map<std::string, UserPermissions> permissions_cache_;
  std::unordered_map<std::string, UserQuota> quota_cache_;

  using Digest = std::array<unsigned char, 32>;
  struct VerifiedPassword {
    std::string stored_hash;  // the hash it verified against: a changed password no longer matches
    Digest digest;
    std::chrono::steady_clock::time_point expires;
  };
  Digest PasswordDigest(std::string_view name, std::string_view password) const;
  std::chrono::seconds password_cache_ttl_{0};
  std::array<unsigned char, 32> password_cache_key_{};
  std::unordered_map<std::string, VerifiedPassword> verified_;  // guarded by mutex_
  std::unordered_map<std::string, Digest> verifying_;           // user -> password being verified now
  std::condition_variable verifying_done_;
  std::atomic<std::uint64_t> hash_verifications_{0};
};

}  // namespace ferry::storage
