#include "frontends/ferry/session.h"

#include <openssl/ssl.h>
#include <sodium.h>

#include <algorithm>
#include <vector>

#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ferry/wire_fields.h"
#include "protocol/reply_fields.h"
#include "common/ssh_signature.h"
#include "protocol/session_operations.h"
#include "service/paths.h"
#include "storage/ssh_keys.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;

// Reads go into a small buffer while requests come one at a time (an idle session holds no more), and into a large
// one while the client streams (a read filled the buffer): it shrinks again once a read comes back small.
constexpr std::size_t kSmallRead = 4 * 1024;
constexpr std::size_t kLargeRead = 64 * 1024;
// Replies buffered beyond this are written out before more are produced.
constexpr std::size_t kOutputHighWater = 256 * 1024;


}  // namespace

std::span<const Session::Operation> Session::Operations() {
  // The session's own operations; the others are listed beside their handlers. Adding a wire command is one line in
  // such a list and its handler (docs/architecture.md).
  static const std::vector<Operation> kOperations = [] {
    using enum Operation::StateBits;
    constexpr unsigned kAny = kBeforeLogin | kLoggedIn;
    // The most frequent first: a request finds its entry by a scan.
    std::vector<Operation> all;
    for (const auto part : {TransferOperations(), FileOperations(), ExecOperations()}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    all.insert(all.end(), {{"noop", kAny, &Session::Noop, nullptr, nullptr},
                           {"quit", kAny, &Session::Quit, nullptr, nullptr},
                           {"hello", kBeforeHello | kAny, &Session::Hello, nullptr, nullptr},
                           {"login", kAny, nullptr, &Session::Login, nullptr}});
    return all;
  }();
  return kOperations;
}

const Session::Operation* Session::FindOperation(std::string_view name) {
  for (const Operation& op : Operations()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

Session::Session(Transport transport, const FerryEnvironment& env)
    : transport_(std::move(transport)),
      env_(env),
      handle_(std::make_shared<SessionHandle>()),
      watchdog_(transport_.socket().get_executor(), handle_),
      login_deadline_(std::chrono::steady_clock::now() + env.login_timeout),
      decoder_(protocol::kBeforeLoginLimits) {
  handle_->executor = transport_.socket().get_executor();
  handle_->socket = &transport_.socket();
  if (env.registry != nullptr) env.registry->Add(handle_);
}

Session::~Session() { handle_->socket = nullptr; }

void Session::Arm(std::chrono::steady_clock::duration limit) { watchdog_.Arm(limit); }

void Session::Disarm() { watchdog_.Disarm(); }

asio::awaitable<void> Session::Run() {
  client_.peer = transport_.PeerName();
  {
    asio::error_code ignored;
    client_.address = transport_.socket().remote_endpoint(ignored).address().to_string();
  }
  client_.protocol = "ferry";
  const std::string& peer = client_.peer;
  spdlog::debug("{}: connected", peer);
  Arm(env_.handshake_timeout);
  const auto handshake_error = co_await transport_.Handshake();
  Disarm();
  if (handshake_error) {
    spdlog::info("{}: TLS handshake failed{}: {}", peer, handle_->watchdog_fired ? " (timed out)" : "",
                 handshake_error.message());
    co_await transport_.Close();
    co_return;
  }
  std::unique_ptr<char[]> read_buffer = std::make_unique_for_overwrite<char[]>(kSmallRead);
  std::size_t read_size = kSmallRead;
  while (state_ != State::kClosing && !broken_) {
    protocol::Frame frame;
    const auto next = [&] {
      if (deferred_) {
        frame = std::move(*deferred_);
        deferred_.reset();
        return true;
      }
      return decoder_.Next(frame) == protocol::FrameDecoder::State::kFrame;
    };
    // Requests that arrive back to back form a batch: they share the account's permissions, quota and upload folder.
    // It ends once nothing more is there to read (part of a TLS record may be: then it outlasts a short wait), and
    // what it read is read again after UserSession::kBatchLifetime in any case.
    if (user_) user_->BeginBatch();
    while (state_ != State::kClosing && !broken_ && next()) co_await Handle(frame);
    if (user_ && !transport_.MoreArrived()) user_->EndBatch();
    if (!decoder_.error().ok()) {
      spdlog::info("{}: malformed stream, closing: {}", peer, decoder_.error().ToString());
      ReplyError(nullptr, decoder_.error());
      state_ = State::kClosing;
    }
    if (!co_await Flush() || state_ == State::kClosing) break;
    // Between requests with nothing in progress, a shutdown ends the session, saying so. A put that was refused
    // (and whose put_close the client may never send) is nothing in progress.
    handle_->idle = std::none_of(uploads_.begin(), uploads_.end(),
                                 [](const auto& open) { return open.second.upload.has_value(); });
    if (handle_->draining && handle_->idle) {
      co_await SayShuttingDown();
      break;
    }
    // Waiting for a request: until the login deadline before login, the idle timeout after.
    const auto now = std::chrono::steady_clock::now();
    Arm(state_ == State::kReady ? std::chrono::steady_clock::duration(env_.idle_timeout)
                                : std::max(login_deadline_ - now, std::chrono::steady_clock::duration::zero()));
    auto [error, n] = co_await transport_.ReadSome(read_buffer.get(), read_size);
    Disarm();
    handle_->idle = false;
    // The shutdown ended the wait for a request (SessionRegistry::DrainAll): said above, on the next turn.
    if (error && handle_->draining && error == asio::error::operation_aborted && !handle_->watchdog_fired) continue;
    if (error) {
      if (handle_->watchdog_fired) {
        spdlog::info("{}: closed after {}", peer, state_ == State::kReady ? "the idle timeout" : "the login timeout");
      } else if (!decoder_.at_frame_boundary()) {
        spdlog::info("{}: connection ended inside a frame", peer);
      }
      break;
    }
    decoder_.Feed(std::string_view(read_buffer.get(), n));
    // Before login the buffer stays small: an anonymous client gets no more than a few KiB of the server's memory.
    const std::size_t wanted = state_ != State::kReady ? kSmallRead
                               : n == read_size        ? kLargeRead
                               : n < kSmallRead        ? kSmallRead
                                                       : read_size;
    if (wanted != read_size) {
      read_buffer = std::make_unique_for_overwrite<char[]>(wanted);
      read_size = wanted;
    }
  }
  co_await transport_.Close();
  const std::string user = user_ ? user_->user() : std::string();
  uploads_.clear();
  user_.reset();  // the logout line
  spdlog::info("{}: disconnected{}", peer, user.empty() ? "" : " (user " + user + ")");
}

asio::awaitable<void> Session::SayShuttingDown() {
  spdlog::info("{}: closed: the server is shutting down", client_.peer);
  ReplyError(nullptr, Status(ErrorCode::kShuttingDown, "the server is shutting down"));
  co_await Flush();
}

void Session::Reply(Json header, std::string_view body) { protocol::AppendFrame(output_, std::move(header), body); }

void Session::ReplyError(const Json& id, const Status& status) { Reply(protocol::ErrorReply(id, status)); }

void Session::ReplyHead(Json header, std::uint64_t body_len) {
  protocol::AppendFrameHeader(output_, std::move(header), body_len);
}

asio::awaitable<bool> Session::Flush() {
  if (broken_) co_return false;
  if (output_.empty()) co_return true;
  Arm(env_.idle_timeout);  // a client that stops reading must not hold the session forever
  const auto error = co_await transport_.WriteAll(output_);
  Disarm();
  if (error) {
    if (handle_->watchdog_fired) {
      spdlog::info("{}: closed: the client stopped reading", client_.peer);
    } else {
      spdlog::debug("{}: write failed: {}", client_.peer, error.message());
    }
    broken_ = true;
    co_return false;
  }
  output_.clear();
  if (output_.capacity() > kOutputHighWater * 2) output_.shrink_to_fit();
  co_return true;
}

asio::awaitable<bool> Session::FlushIfFull() {
  if (output_.size() < kOutputHighWater) co_return !broken_;
  co_return co_await Flush();
}

asio::awaitable<void> Session::TakeTurns() {
  co_await asio::post(transport_.socket().get_executor(), asio::use_awaitable);
}

std::string Session::PathOf(std::string_view path) const { return service::JoinPath(cwd_, path); }

Status Session::Refusal(std::string_view op) const {
  switch (state_) {
    case State::kAwaitingHello:
      return Status(ErrorCode::kProtocol, "the first request must be hello");
    case State::kAwaitingLogin:
      return Status(ErrorCode::kNotPermitted, fmt::format("log in before '{}'", op));
    default:
      return Status(ErrorCode::kNotSupported, fmt::format("unknown operation '{}'", op));
  }
}

asio::awaitable<void> Session::Handle(protocol::Frame& frame) {
  // Upload data is the one frame without an id: it answers nothing, its put_close does.
  if (state_ == State::kReady) {
    const auto op_field = frame.header.find("op");
    if (op_field != frame.header.end() && op_field->is_string() && op_field->get_ref<const std::string&>() == "data") {
      if (!WriteUploadData(*this, frame)) state_ = State::kClosing;
      co_return;
    }
    // Input for a program that has already ended: nothing to pass it to.
    if (op_field != frame.header.end() && op_field->is_string() &&
        (op_field->get_ref<const std::string&>() == "exec_input" ||
         op_field->get_ref<const std::string&>() == "exec_kill") &&
        protocol::RequestId(frame.header).is_null()) {
      co_return;
    }
  }
  const Json id = protocol::RequestId(frame.header);
  const Fields fields(frame.header);
  if (id.is_null()) {
    ReplyError(id, Status(ErrorCode::kProtocol, "request lacks a valid id (a non-negative integer)"));
    co_return;
  }
  auto name = fields.String("op");
  if (!name.ok()) {
    ReplyError(id, name.status());
    co_return;
  }
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}: request {} {}", client_.peer, id.dump(), *name);
  using enum Operation::StateBits;
  const unsigned state_bit = state_ == State::kAwaitingHello   ? kBeforeHello
                             : state_ == State::kAwaitingLogin ? kBeforeLogin
                                                               : kLoggedIn;
  const Operation* op = FindOperation(*name);
  // While the server shuts down, what is open may finish; nothing new starts.
  // A refused put is remembered as failed, as any other, so that its data frames and put_close are taken.
  if (handle_->draining && *name != "put_close" && *name != "put_abort" && *name != "noop" && *name != "quit") {
    const Status refused(ErrorCode::kShuttingDown, "the server is shutting down");
    if (op != nullptr && (op->states & state_bit) != 0 && op->on_failure != nullptr) op->on_failure(*this, id, refused);
    ReplyError(id, refused);
    co_return;
  }
  if (op == nullptr || (op->states & state_bit) == 0) {
    ReplyError(id, Refusal(*name));
    if (state_ == State::kAwaitingHello) state_ = State::kClosing;
    co_return;
  }
  // An account that may not write is refused by the file service itself, in each call that changes something, which
  // audits the attempt.
  if (op->stream != nullptr) {
    co_await op->stream(*this, id, fields);
    co_return;
  }
  auto extra = op->reply(*this, id, fields);
  if (!extra.ok()) {
    if (op->on_failure != nullptr) op->on_failure(*this, id, extra.status());
    ReplyError(id, extra.status());
  } else {
    Json reply = protocol::OkReply(id);
    auto& members = reply.get_ref<Json::object_t&>();
    for (auto& [key, value] : extra->get_ref<Json::object_t&>()) members.insert_or_assign(key, std::move(value));
    Reply(std::move(reply));
  }
  co_await FlushIfFull();
}

Result<Json> Session::Hello(Session& session, const Json& /*id*/, const Fields& fields) {
  if (session.state_ != State::kAwaitingHello) return Status(ErrorCode::kProtocol, "hello was already exchanged");
  // A hello that fails ends the connection.
  session.state_ = State::kClosing;
  auto request = protocol::HelloRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto version = request->CommonVersion();
  if (!version.ok()) return version.status();
  session.state_ = State::kAwaitingLogin;
  session.challenge_.assign(32, '\0');
  randombytes_buf(session.challenge_.data(), session.challenge_.size());
  return AsFields(protocol::HelloReply{*version, "ferryd " FERRY_VERSION, session.env_.frames.max_header,
                                       session.env_.frames.max_body, ssh::Base64(session.challenge_)});
}

Result<std::string> Session::TlsBinding() {
  SSL* ssl = transport_.native_ssl();
  if (ssl == nullptr) return std::string();
  std::string value(32, '\0');
  if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(value.data()), value.size(),
                                 protocol::kKeyLoginExporterLabel.data(), protocol::kKeyLoginExporterLabel.size(),
                                 nullptr, 0, 0) != 1) {
    return Status(ErrorCode::kIo, "the TLS session cannot bind a key login");
  }
  return value;
}

asio::awaitable<void> Session::Login(Session& session, const Json& id, const Fields& fields) {
  if (session.state_ == State::kReady) {
    session.ReplyError(id, Status(ErrorCode::kProtocol, "already logged in"));
    co_return;
  }
  auto request = protocol::LoginRequest::Parse(fields.header());
  if (!request.ok()) {
    session.ReplyError(id, request.status());
    co_return;
  }
  const std::string name = request->user;
  Result<std::unique_ptr<service::UserSession>> logged_in = Status(ErrorCode::kAuthFailed, "login incorrect");
  if (request->key.empty()) {
    logged_in =
        co_await session.env_.files->Login(session.client_, std::move(request->user), std::move(request->password));
  } else {
    // The client proves it holds the key by signing this connection's challenge and TLS session.
    auto key = storage::ParseAuthorizedKey(request->key);
    if (!key.ok()) {
      session.ReplyError(id, Status(ErrorCode::kInvalid, "the key cannot be used: " + key.status().message()));
      co_return;
    }
    auto blob = ssh::FromBase64(key->blob_base64);
    auto signature = ssh::FromBase64(request->signature);
    auto binding = session.TlsBinding();
    // Only a key the user has is worth checking a signature for (LoginWithKey refuses any other).
    Status proof = !session.env_.files->AcceptsKey(name, *key) ? Status(ErrorCode::kAuthFailed, "not the user's key")
                   : !binding.ok()                             ? binding.status()
                   : !blob.ok() || !signature.ok()
                       ? Status(ErrorCode::kInvalid, "the signature is not base64")
                       : ssh::Verify(*blob, protocol::KeyLoginData(session.challenge_, *binding, name, *blob),
                                     *signature);
    logged_in = co_await session.env_.files->LoginWithKey(session.client_, std::move(request->user),
                                                          std::move(key).value(), proof);
  }
  if (!logged_in.ok()) {
    if (logged_in.status().code() == ErrorCode::kAuthFailed) {
      ++session.failed_logins_;
      spdlog::warn("{}: failed login as '{}' ({}/{})", session.peer(), name, session.failed_logins_,
                   session.env_.max_login_attempts);
      if (session.failed_logins_ >= session.env_.max_login_attempts) session.state_ = State::kClosing;
    }
    session.ReplyError(id, logged_in.status());
    co_return;
  }
  session.user_ = std::move(logged_in).value();
  if (session.env_.registry != nullptr) session.env_.registry->LoggedIn(session.handle_, session.user_->user());
  session.decoder_.set_limits(session.env_.frames);
  session.cwd_ = "/";
  session.state_ = State::kReady;
  session.Reply(protocol::OkReply(id, protocol::LoginReply{session.user_->user(), session.cwd_}));
}

Result<Json> Session::Quit(Session& session, const Json& /*id*/, const Fields& /*fields*/) {
  session.state_ = State::kClosing;
  return Json::object();
}

Result<Json> Session::Noop(Session& /*session*/, const Json& /*id*/, const Fields& /*fields*/) {
  return Json::object();
}

asio::awaitable<bool> Session::SendFile(int fd, std::uint64_t offset, std::uint64_t count) {
  Arm(env_.idle_timeout);
  const auto error = co_await transport_.SendFile(fd, offset, count);
  Disarm();
  if (error) {
    spdlog::info("{}: {}", peer(),
                 handle_->watchdog_fired ? std::string("closed: the client stopped reading")
                                         : fmt::format("sending a file failed: {}", error.message()));
    broken_ = true;  // the frame is incomplete: the connection cannot go on
    co_return false;
  }
  co_return true;
}

}  // namespace ferry::frontends::native
