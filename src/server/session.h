// Session: one client connection, from the protocol hello to the last reply.
//
// A session runs as one coroutine on one event-loop thread and owns its transport, so nothing in it needs a lock.
// It drains every complete request the decoder holds, appends the replies to one output buffer and writes that
// buffer in one go: pipelined requests cost one write, not one each. Memory is bounded by the frame limits, the
// read buffer and the output high-water mark.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "server/data_root.h"
#include "server/transport.h"
#include "storage/home_dir.h"
#include "storage/user_store.h"

namespace ferry::server {

// What every session shares: read-only after start, except the user store (which is thread-safe).
// Everything here must outlive all sessions.
struct SessionEnvironment {
  const DataRoot* root = nullptr;
  storage::UserStore* users = nullptr;
  asio::thread_pool* login_pool = nullptr;  // bounded pool for argon2id verification
  protocol::FrameLimits frames;
  unsigned max_login_attempts = 3;
};

class Session {
 public:
  Session(Transport transport, const SessionEnvironment& env);
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
  // The operations that answer with one reply and need no waiting. Returns the reply's extra fields.
  Result<Json> HandleSimple(std::string_view op, const protocol::RequestFields& fields);

  // The virtual path a request names in `key` (default: the current folder), joined to the current folder.
  Result<std::string> PathField(const protocol::RequestFields& fields, std::string_view key) const;
  void Reply(Json header, std::string_view body = {});
  void ReplyError(const Json& id, const Status& status);
  // Writes out buffered replies; false once the connection is unusable.
  asio::awaitable<bool> Flush();
  asio::awaitable<bool> FlushIfFull();

  Transport transport_;
  const SessionEnvironment& env_;
  std::string peer_;
  State state_ = State::kAwaitingHello;
  protocol::FrameDecoder decoder_;
  std::string output_;
  bool broken_ = false;  // a write failed: stop serving

  unsigned failed_logins_ = 0;
  std::string user_;
  std::optional<storage::HomeDir> home_;
  std::string cwd_ = "/";
};

}  // namespace ferry::server
