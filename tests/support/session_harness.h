// SessionHarness: a real Ferry session in this process, over a connected socket pair, on the services ferryd builds,
// over a data root. No port, no child process: what the session fuzzer and the in-process session tests share.
// Remote commands are unavailable (no launcher). Password hashing costs whatever the users were created with.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <asio/thread_pool.hpp>

#include "common/connection_limiter.h"
#include "frontends/ferry/ferry_front_end.h"
#include "service/audit_log.h"
#include "service/file_service.h"
#include "service/login_throttle.h"
#include "service/program_service.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"

namespace ferry::testing {

// The services of one server: built fresh for each use (a new quota ledger, no login history), over a user store and
// a login pool that may be shared. REQUIRES: `users`, `login_pool` and `audit` (may be null) outlive it.
class SessionServices {
 public:
  SessionServices(const std::string& data_root, storage::UserStore* users, asio::thread_pool* login_pool,
                  service::AuditLog* audit);
  SessionServices(const SessionServices&) = delete;
  SessionServices& operator=(const SessionServices&) = delete;

  // What a session is built with; change it (frames, timeouts) before running a session.
  frontends::native::FerryEnvironment& environment() { return environment_; }
  storage::QuotaLedger& quotas() { return quotas_; }

 private:
  storage::QuotaLedger quotas_;
  service::LoginThrottle throttle_;
  ConnectionLimiter user_sessions_;
  ConnectionLimiter program_slots_;
  std::unique_ptr<service::FileService> files_;
  std::unique_ptr<service::ProgramService> programs_;
  frontends::native::FerryEnvironment environment_;
};

struct SessionExchange {
  std::string received;  // every byte the session sent
  bool ended = false;    // the session ended within the limit
};

// Runs one session on a private event loop: sends `input` as the client, closes the client's sending side (unless
// `close_input` is false: then only the session can end the exchange), and collects everything the session sends
// (read while the input is still being written) until the session ends, or `limit` has passed.
SessionExchange RunSession(const frontends::native::FerryEnvironment& environment, std::string_view input,
                           std::chrono::seconds limit, bool close_input = true);

}  // namespace ferry::testing
