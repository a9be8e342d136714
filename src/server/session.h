// Session: one client connection, from the protocol hello to the last reply.
//
// A session runs as one coroutine on one event-loop thread and owns its transport, so nothing in it needs a lock.
// It drains every complete request the decoder holds, appends the replies to one output buffer and writes that
// buffer in one go: pipelined requests cost one write, not one each. Memory is bounded by the frame limits, the
// read buffer and the output high-water mark.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "server/audit_log.h"
#include "server/command_launcher.h"
#include "server/connection_limiter.h"
#include "server/data_root.h"
#include "server/login_throttle.h"
#include "server/transport.h"
#include "storage/home_dir.h"
#include "storage/quota_ledger.h"
#include "storage/user_store.h"
#include "transfer/checksum.h"

namespace ferry::server {

// What the server knows of a session, shared with it; all fields are touched only on the session's own loop,
// except `executor`, which is fixed at creation.
struct SessionHandle {
  asio::any_io_executor executor;
  asio::ip::tcp::socket* socket = nullptr;  // cleared when the session ends
  bool watchdog_fired = false;
  bool idle = false;      // waiting for a request with no upload open
  bool draining = false;  // the server is shutting down: leave at the next idle moment
  pid_t program = -1;     // a remote command running (not yet reaped): killed when the server shuts down
};

// The live sessions, so a shutdown can tell them to finish. Thread-safe.
class SessionRegistry {
 public:
  void Add(std::shared_ptr<SessionHandle> handle);
  // Tells every live session to finish what it is doing and close; idle ones close at once.
  void DrainAll();
  std::size_t live();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<SessionHandle>> handles_;
};

// What every session shares: read-only after start, except the user store (which is thread-safe).
// Everything here must outlive all sessions.
struct SessionEnvironment {
  const DataRoot* root = nullptr;
  storage::UserStore* users = nullptr;
  storage::QuotaLedger* quotas = nullptr;
  asio::thread_pool* login_pool = nullptr;  // bounded pool for argon2id verification
  protocol::FrameLimits frames;
  unsigned max_login_attempts = 3;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds login_timeout{30};
  std::chrono::seconds idle_timeout{600};
  AuditLog* audit = nullptr;  // never null while serving
  SessionRegistry* registry = nullptr;
  LoginThrottle* throttle = nullptr;
  ConnectionLimiter* user_sessions = nullptr;  // sessions per user
  // Remote execution: null `launcher` means unavailable, for the reason in `exec_unavailable`.
  const CommandLauncher* launcher = nullptr;
  Status exec_unavailable{ErrorCode::kNotSupported, "remote commands are disabled on this server"};
  bool exec_allow_shell = false;
  std::chrono::seconds exec_time_limit{60};
  std::uint64_t exec_output_limit = 64ull << 20;
  ConnectionLimiter* exec_slots = nullptr;  // programs running at once
};

class Session {
 public:
  Session(Transport transport, const SessionEnvironment& env);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Serves the connection until the client quits or disconnects, or the stream turns malformed.
  asio::awaitable<void> Run();

 private:
  enum class State { kAwaitingHello, kAwaitingLogin, kReady, kClosing };
  using Json = protocol::Json;

  asio::awaitable<void> Handle(protocol::Frame& frame);
  asio::awaitable<void> Hello(const Json& id, const protocol::RequestFields& fields);
  asio::awaitable<void> Login(const Json& id, const protocol::RequestFields& fields);
  asio::awaitable<void> List(const Json& id, const protocol::RequestFields& fields);
  // Transfers (session_transfer.cc). An upload is a put request, any number of id-less "data" frames that refer to
  // it, and a put_close; the bytes go to a partial file outside the home and appear under their name only once
  // complete and verified.
  struct Upload {
    Status error;                  // set once anything failed: later data is dropped and put_close reports it
    UniqueFd file;                 // the partial file, locked (flock) against a second upload of the same target
    std::string partial_name;      // in partials_
    storage::DirFd target_parent;  // where it will be renamed to (may borrow the home's descriptor)
    std::string target_name;
    std::string display_path;  // as the client named it
    transfer::Checksum checksum{transfer::kDefaultChecksum};
    std::uint64_t written = 0;    // bytes in the partial file (including a resumed prefix)
    std::uint64_t size = 0;       // declared total
    std::uint64_t discarded = 0;  // bytes of an earlier partial that a resume could not use (longer than `size`)
    std::uint32_t mode = 0644;
    std::int64_t mtime = -1;
    std::uint32_t mtime_nsec = 0;
    storage::QuotaLedger::Reservation reservation;  // room for the bytes still to come and the new name
  };
  void PutOpen(const Json& id, const protocol::RequestFields& fields);
  // False when the frame breaks the protocol badly enough that the connection must close.
  bool PutData(const protocol::Frame& frame);
  void PutClose(const Json& id, const protocol::RequestFields& fields);
  // Verifies and publishes a finished upload; the reply's fields, or why it failed.
  Result<Json> FinishUpload(Upload& upload, const std::string& expected_checksum);
  void PutAbort(const Json& id, const protocol::RequestFields& fields);
  asio::awaitable<void> Get(const Json& id, const protocol::RequestFields& fields);
  // Remote execution (session_exec.cc): runs a program, streams its output back, passes the client's stdin on.
  asio::awaitable<void> Exec(const Json& id, const protocol::RequestFields& fields);
  // The program to run for an exec request, or why not.
  Result<std::vector<std::string>> ExecArguments(const protocol::RequestFields& fields);
  Result<Json> Sum(const protocol::RequestFields& fields);
  Result<Json> SetStat(const protocol::RequestFields& fields);
  Result<Upload> StartUpload(const protocol::RequestFields& fields);
  // Deletes an upload's partial file and gives its bytes back to the quota.
  void DiscardPartial(Upload& upload);
  // Quotas: the user's limits as they are now (read on each use, so a change applies to open sessions), and room
  // reserved under them.
  Result<storage::QuotaLedger::Reservation> Reserve(std::uint64_t bytes, std::uint64_t entries);
  void ApplyChange(const storage::SpaceChange& change) { env_.quotas->Apply(user_, change); }
  Result<Json> Quota();
  Result<Json> MakeDirectory(const protocol::RequestFields& fields);

  // The operations that answer with one reply and need no waiting. Returns the reply's extra fields.
  Result<Json> HandleSimple(std::string_view op, const protocol::RequestFields& fields);

  // The virtual path a request names in `key` (default: the current folder), joined to the current folder.
  Result<std::string> PathField(const protocol::RequestFields& fields, std::string_view key) const;
  void Reply(Json header, std::string_view body = {});
  void ReplyError(const Json& id, const Status& status);
  // One line in the audit log for this session's user and address.
  void Audit(std::string_view event, std::string_view path, const Status& result,
             std::optional<std::uint64_t> bytes = std::nullopt, std::string_view to = {},
             std::string_view command = {});
  // Writes out buffered replies; false once the connection is unusable.
  asio::awaitable<bool> Flush();
  asio::awaitable<bool> FlushIfFull();
  // Hands the event loop to the other sessions on it for a turn. A download to a client that reads fast never finds
  // its socket full, so without this it would hold the loop until it ends and the others would wait.
  asio::awaitable<void> TakeTurns();
  // Closes the connection unless the operation that follows completes within `limit` (a slow or stalled client
  // cannot hold a session). Disarm() after it completes.
  void Arm(std::chrono::steady_clock::duration limit);
  void Disarm();
  void StartWatchdog(std::chrono::steady_clock::time_point at);

  Transport transport_;
  const SessionEnvironment& env_;
  // Shared with the watchdog's handler and the registry, which may outlive the session; `socket` is cleared then.
  std::shared_ptr<SessionHandle> handle_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();  // max: disarmed
  bool watchdog_pending_ = false;  // a wait is outstanding on watchdog_
  std::chrono::steady_clock::time_point login_deadline_;
  std::string peer_;                 // "address:port"
  std::string address_;              // the client's IP address alone, for throttling
  std::shared_ptr<void> user_slot_;  // this session's place among its user's sessions
  State state_ = State::kAwaitingHello;
  protocol::FrameDecoder decoder_;
  std::string output_;
  bool broken_ = false;  // a write failed: stop serving

  unsigned failed_logins_ = 0;
  std::string user_;
  std::optional<storage::HomeDir> home_;
  std::string cwd_ = "/";
  UniqueFd partials_;                        // this user's folder of unfinished uploads
  std::map<std::uint64_t, Upload> uploads_;  // open uploads by the id of their put request
  // A request that arrived while a program ran: handled before anything else the decoder holds.
  std::optional<protocol::Frame> deferred_;
};

}  // namespace ferry::server
