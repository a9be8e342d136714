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

#include "frontends/ferry/ferry_front_end.h"
#include "frontends/session_registry.h"
#include "frontends/transport.h"
#include "frontends/watchdog.h"
#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "service/user_session.h"

namespace ferry::frontends::native {

class ExecRun;

class Session {
 public:
  using Json = protocol::Json;
  using Fields = protocol::RequestFields;

  // One entry of the operation table: everything the dispatcher needs to know of an operation. Exactly one of
  // `reply` and `stream` is set. Handlers are functions of the file that handles the operation, next to its entry.
  struct Operation {
    enum StateBits : unsigned { kBeforeHello = 1, kBeforeLogin = 2, kLoggedIn = 4 };
    std::string_view name;
    unsigned states;  // StateBits where it is allowed
    // Answers with one reply: the fields it returns, or its error.
    Result<Json> (*reply)(Session& session, const Json& id, const Fields& fields);
    // Answers by itself: several frames, or after a wait.
    asio::awaitable<void> (*stream)(Session& session, const Json& id, const Fields& fields);
    // Called when the request is refused or fails (a put remembers its failure for the data frames that follow).
    void (*on_failure)(Session& session, const Json& id, const Status& failure);
  };

  // An upload by the id of its put request; a put that failed stays too (without `upload`), so the data frames
  // that follow are dropped and its put_close repeats the failure.
  struct OpenUpload {
    std::optional<service::Upload> upload;
    Status failed;
  };

  Session(Transport transport, const FerryEnvironment& env);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Serves the connection until the client quits or disconnects, or the stream turns malformed.
  asio::awaitable<void> Run();

  // Every operation the session answers, for the dispatcher, tests and docs.
  static std::span<const Operation> Operations();

  // For the operation handlers (this folder). Called on the session's loop, while a request is handled.
  // The logged-in user. REQUIRES: a handler of an operation allowed only after login.
  service::UserSession& user() { return *user_; }
  const std::string& cwd() const { return cwd_; }
  void set_cwd(std::string cwd) { cwd_ = std::move(cwd); }
  const FerryEnvironment& env() const { return env_; }
  const std::string& peer() const { return client_.peer; }
  std::map<std::uint64_t, OpenUpload>& uploads() { return uploads_; }
  // A path the client named, joined to the current folder ("" is the current folder).
  std::string PathOf(std::string_view path) const;
  void Reply(Json header, std::string_view body = {});
  void ReplyError(const Json& id, const Status& status);
  // Only the header of a frame whose `body_len` bytes follow by SendFile.
  void ReplyHead(Json header, std::uint64_t body_len);
  // Writes out buffered replies; false once the connection is unusable.
  asio::awaitable<bool> Flush();
  // Tells the client the server is shutting down (an ESHUTDOWN reply with no id), before the session closes.
  asio::awaitable<void> SayShuttingDown();
  asio::awaitable<bool> FlushIfFull();
  // Hands the event loop to the other sessions on it for a turn. A download to a client that reads fast never finds
  // its socket full, so without this it would hold the loop until it ends and the others would wait.
  asio::awaitable<void> TakeTurns();
  // True when SendFile works: a plain connection.
  bool can_send_file() const { return transport_.can_send_file(); }
  // Sends `count` bytes of `fd` from `offset` as the body of a frame whose header was flushed; false (and the
  // connection unusable) if that failed or the client stopped reading for the idle timeout.
  asio::awaitable<bool> SendFile(int fd, std::uint64_t offset, std::uint64_t count);

 private:
  friend class ExecRun;
  enum class State { kAwaitingHello, kAwaitingLogin, kReady, kClosing };
  static const Operation* FindOperation(std::string_view name);

  asio::awaitable<void> Handle(protocol::Frame& frame);
  // The answer to a request whose operation is not allowed in the current state.
  Status Refusal(std::string_view op) const;

  // The session's own operations (session.cc).
  static Result<Json> Hello(Session& session, const Json& id, const Fields& fields);
  // The TLS exporter value a key login signs (protocol::KeyLoginData); "" on a plain connection.
  Result<std::string> TlsBinding();
  static asio::awaitable<void> Login(Session& session, const Json& id, const Fields& fields);
  static Result<Json> Quit(Session& session, const Json& id, const Fields& fields);
  static Result<Json> Noop(Session& session, const Json& id, const Fields& fields);

  // Closes the connection unless the operation that follows completes within `limit` (a slow or stalled client
  // cannot hold a session). Disarm() after it completes.
  void Arm(std::chrono::steady_clock::duration limit);
  void Disarm();

  Transport transport_;
  const FerryEnvironment& env_;
  // Shared with the watchdog's handler and the registry, which may outlive the session; `socket` is cleared then.
  std::shared_ptr<SessionHandle> handle_;
  Watchdog watchdog_;
  std::chrono::steady_clock::time_point login_deadline_;
  service::ClientInfo client_;
  State state_ = State::kAwaitingHello;
  protocol::FrameDecoder decoder_;
  std::string output_;
  bool broken_ = false;  // a write failed: stop serving

  unsigned failed_logins_ = 0;
  std::string challenge_;  // raw bytes sent in the hello reply, signed by a key login
  std::unique_ptr<service::UserSession> user_;  // set by a successful login; outlives uploads_
  std::string cwd_ = "/";
  std::map<std::uint64_t, OpenUpload> uploads_;
  // A request that arrived while a program ran: handled before anything else the decoder holds.
  std::optional<protocol::Frame> deferred_;
};

// The parts of the operation table, each beside its handlers.
std::span<const Session::Operation> FileOperations();      // session_files.cc
std::span<const Session::Operation> TransferOperations();  // session_transfers.cc
std::span<const Session::Operation> ExecOperations();      // exec_run.cc
// Writes an upload's data frame; false when the frame breaks the protocol badly enough that the connection must
// close (session_transfers.cc).
bool WriteUploadData(Session& session, const protocol::Frame& frame);

}  // namespace ferry::frontends::native
