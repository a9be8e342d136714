// Session: one Ferry connection, from the protocol hello to the last reply.
//
// What is Ferry's own lives here: the frame decoder, the table of operations (which states allow each, whether it
// writes, its handler), replies, flushing and the watchdog. Every rule about files, users and quotas is the file
// service's (src/service/): a handler parses its request, calls the service, and encodes the answer.
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
#include <optional>
#include <span>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "frontends/ferry/ferry_front_end.h"
#include "frontends/session_registry.h"
#include "frontends/transport.h"
#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "service/user_session.h"

namespace ferry::frontends::native {

class ExecRun;

class Session {
 public:
  Session(Transport transport, const FerryEnvironment& env);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Serves the connection until the client quits or disconnects, or the stream turns malformed.
  asio::awaitable<void> Run();

  using Json = protocol::Json;
  using Fields = protocol::RequestFields;

  // One entry of the operation table: everything the dispatcher needs to know of an operation. Exactly one of
  // `reply` and `stream` is set.
  struct Operation {
    enum StateBits : unsigned { kBeforeHello = 1, kBeforeLogin = 2, kLoggedIn = 4 };
    std::string_view name;
    unsigned states;  // StateBits where it is allowed
    // It changes the home: refused at once, before its fields are read, for an account that may not write. (The
    // file service checks again in every mutating call; this answers such a request before any work.)
    bool writes;
    // Answers with one reply: the fields it returns, or its error.
    Result<Json> (Session::*reply)(const Json& id, const Fields& fields);
    // Answers by itself: several frames, or after a wait.
    asio::awaitable<void> (Session::*stream)(const Json& id, const Fields& fields);
    // Called when the request is refused or fails (a put remembers its failure for the data frames that follow).
    void (Session::*on_failure)(const Json& id, const Status& failure);
  };
  // Every operation the session answers (session.cc), for the dispatcher, tests and docs.
  static std::span<const Operation> Operations();

 private:
  friend class ExecRun;
  enum class State { kAwaitingHello, kAwaitingLogin, kReady, kClosing };
  static const Operation* FindOperation(std::string_view name);

  // An upload by the id of its put request; a put that failed stays too (without `upload`), so the data frames
  // that follow are dropped and its put_close repeats the failure.
  struct OpenUpload {
    std::optional<service::Upload> upload;
    Status failed;
  };

  asio::awaitable<void> Handle(protocol::Frame& frame);
  // The answer to a request whose operation is not allowed in the current state.
  Status Refusal(std::string_view op) const;

  // Handlers (session.cc): the session itself.
  Result<Json> Hello(const Json& id, const Fields& fields);
  asio::awaitable<void> Login(const Json& id, const Fields& fields);
  Result<Json> Quit(const Json& id, const Fields& fields);
  Result<Json> Noop(const Json& id, const Fields& fields);
  // Files (session_files.cc).
  Result<Json> Pwd(const Json& id, const Fields& fields);
  Result<Json> Whoami(const Json& id, const Fields& fields);
  Result<Json> ChangeDirectory(const Json& id, const Fields& fields);
  Result<Json> Stat(const Json& id, const Fields& fields);
  asio::awaitable<void> List(const Json& id, const Fields& fields);
  Result<Json> Quota(const Json& id, const Fields& fields);
  Result<Json> MakeDirectory(const Json& id, const Fields& fields);
  Result<Json> RemoveDirectory(const Json& id, const Fields& fields);
  Result<Json> Remove(const Json& id, const Fields& fields);
  Result<Json> Rename(const Json& id, const Fields& fields);
  Result<Json> SetStat(const Json& id, const Fields& fields);
  Result<Json> Sum(const Json& id, const Fields& fields);
  // Transfers (session_transfers.cc). An upload is a put request, any number of id-less "data" frames that refer to
  // it, and a put_close.
  Result<Json> PutOpen(const Json& id, const Fields& fields);
  void RememberFailedUpload(const Json& id, const Status& failure);
  // False when the frame breaks the protocol badly enough that the connection must close.
  bool PutData(const protocol::Frame& frame);
  Result<Json> PutClose(const Json& id, const Fields& fields);
  Result<Json> PutAbort(const Json& id, const Fields& fields);
  asio::awaitable<void> Get(const Json& id, const Fields& fields);
  // Sends a whole file whose checksum is known with sendfile; false if the connection broke.
  asio::awaitable<bool> SendWholeFile(const Json& id, service::Download& download);
  // Remote execution (exec_run.cc).
  asio::awaitable<void> Exec(const Json& id, const Fields& fields);

  // The virtual path a request names in `key` (default: the current folder), joined to the current folder.
  Result<std::string> PathField(const Fields& fields, std::string_view key) const;
  // The same for a required field.
  Result<std::string> RequiredPathField(const Fields& fields, std::string_view key) const;
  void Reply(Json header, std::string_view body = {});
  void ReplyError(const Json& id, const Status& status);
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
  const FerryEnvironment& env_;
  // Shared with the watchdog's handler and the registry, which may outlive the session; `socket` is cleared then.
  std::shared_ptr<SessionHandle> handle_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();  // max: disarmed
  bool watchdog_pending_ = false;  // a wait is outstanding on watchdog_
  std::chrono::steady_clock::time_point login_deadline_;
  service::ClientInfo client_;
  State state_ = State::kAwaitingHello;
  protocol::FrameDecoder decoder_;
  std::string output_;
  bool broken_ = false;  // a write failed: stop serving

  unsigned failed_logins_ = 0;
  std::unique_ptr<service::UserSession> user_;  // set by a successful login; outlives uploads_
  std::string cwd_ = "/";
  std::map<std::uint64_t, OpenUpload> uploads_;
  // A request that arrived while a program ran: handled before anything else the decoder holds.
  std::optional<protocol::Frame> deferred_;
};

}  // namespace ferry::frontends::native
