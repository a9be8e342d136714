// FileService: the protocol-neutral file service every front end (Ferry, and later FTP and SFTP) logs users in through.
//
// One per server. Login holds the whole login policy: the throttle and its delay, argon2id on the bounded login pool
// at low priority, the per-user session slot, opening the home and the partial uploads, measuring usage at a user's
// first login since the server started, and the audit line. What it hands back, a UserSession, offers every file
// operation; each rule (permission, quota reservation, audit line) lives there once, whatever protocol called it.
// Knows no wire format and no socket. Thread-safe: Login may run on any event loop at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include "common/connection_limiter.h"
#include "common/status.h"
#include "service/audit_log.h"
#include "service/login_throttle.h"
#include "service/partial_store.h"
#include "service/user_session.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"

namespace ferry::service {

// What the service works with. Everything pointed to must outlive the service and every session it hands out.
struct FileServiceOptions {
  std::string homes_path;     // each user's home is homes_path/NAME
  std::string partials_path;  // each user's unfinished uploads are in partials_path/NAME
  storage::UserStore* users = nullptr;
  storage::QuotaLedger* quotas = nullptr;
  asio::thread_pool* login_pool = nullptr;  // bounded pool for argon2id and first-login measurements
  LoginThrottle* throttle = nullptr;
  ConnectionLimiter* user_sessions = nullptr;  // sessions per user
  AuditLog* audit = nullptr;                   // null: nothing is audited
  std::size_t max_partials_per_user = PartialStore::kDefaultMaxKept;  // unfinished uploads kept for resume
};

class FileService {
 public:
  explicit FileService(FileServiceOptions options) : options_(std::move(options)) {}
  FileService(const FileService&) = delete;
  FileService& operator=(const FileService&) = delete;

  // Logs `user` in. EAUTH "login incorrect" for an unknown user, a wrong password and a throttled source alike;
  // EBUSY when the user has all the sessions allowed; EIO when the home cannot be opened or measured. Audited either
  // way. Runs on the caller's executor except for the password check and the first measurement (on the login pool).
  asio::awaitable<Result<std::unique_ptr<UserSession>>> Login(ClientInfo client, std::string user,
                                                              std::string password);

  // Logs `user` in with a public key whose possession the front end has checked (an SSH signature, a signed TLS
  // session value): `proof` is that check's outcome, and the key must be one of the user's keys now. The same
  // answers (a failed proof is a wrong key), throttle, session slot and audit as Login; the audit line names the
  // method and the key's fingerprint.
  asio::awaitable<Result<std::unique_ptr<UserSession>>> LoginWithKey(ClientInfo client, std::string user,
                                                                     storage::SshPublicKey key,
                                                                     Status proof = Status::Ok());
  // Whether `key` is one of `user`'s keys now, without logging in or auditing: what an SSH client asks before it
  // signs. False for an unknown user.
  bool AcceptsKey(std::string_view user, const storage::SshPublicKey& key) const;

  const FileServiceOptions& options() const { return options_; }

 private:
  // The rest of a login once the credentials were checked (`verdict`): throttle bookkeeping, the session slot, the
  // home, the first measurement and the audit line.
  asio::awaitable<Result<std::unique_ptr<UserSession>>> FinishLogin(ClientInfo client, std::string user,
                                                                    Status verdict, std::string_view method,
                                                                    std::string_view key);

  FileServiceOptions options_;
};

}  // namespace ferry::service
