#include "server/session.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include <asio/post.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/file_ops.h"

namespace ferry::server {
namespace {

using protocol::Json;

// Reads go into a small buffer while requests come one at a time (an idle session holds no more), and into a large
// one while the client streams (a read filled the buffer): it shrinks again once a read comes back small.
constexpr std::size_t kSmallRead = 4 * 1024;
constexpr std::size_t kLargeRead = 64 * 1024;
// The nice value of login workers.
constexpr int kLoginNice = 19;
// Replies buffered beyond this are written out before more are produced.
constexpr std::size_t kOutputHighWater = 256 * 1024;

Json EntryJson(const storage::FileInfo& info) {
  // Field by field (see OkReply): a listing builds one of these per entry.
  Json entry(Json::value_t::object);
  auto& fields = entry.get_ref<Json::object_t&>();
  fields.emplace("name", info.name);
  fields.emplace("type", storage::FileTypeName(info.type));
  fields.emplace("size", info.size);
  fields.emplace("mode", info.mode);
  fields.emplace("mtime", info.mtime);
  fields.emplace("mtime_nsec", info.mtime_nsec);
  fields.emplace("nlink", info.nlink);
  return entry;
}

// Login work (argon2id) runs at the lowest CPU priority, once per pool thread: a storm of logins then takes only the
// CPU that transfers and commands leave, and never slows the sessions already at work.
void YieldToTransfers() {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kLoginNice);
}

}  // namespace

Session::Session(Transport transport, const SessionEnvironment& env)
    : transport_(std::move(transport)),
      env_(env),
      handle_(std::make_shared<SessionHandle>()),
      watchdog_(transport_.socket().get_executor()),
      login_deadline_(std::chrono::steady_clock::now() + env.login_timeout),
      decoder_(env.frames) {
  handle_->executor = transport_.socket().get_executor();
  handle_->socket = &transport_.socket();
  if (env.registry != nullptr) env.registry->Add(handle_);
}

Session::~Session() { handle_->socket = nullptr; }

void SessionRegistry::Add(std::shared_ptr<SessionHandle> handle) {
  std::lock_guard lock(mutex_);
  // Forget ended sessions now and then, so the list stays as long as the live ones.
  if (handles_.size() >= 64 && handles_.size() == handles_.capacity()) {
    std::erase_if(handles_, [](const auto& weak) { return weak.expired(); });
  }
  handles_.push_back(std::move(handle));
}

void SessionRegistry::DrainAll() {
  std::lock_guard lock(mutex_);
  for (const auto& weak : handles_) {
    auto handle = weak.lock();
    if (!handle) continue;
    asio::post(handle->executor, [handle] {
      handle->draining = true;
      // A remote command is not a transfer to let finish: it ends now. Until the session reaps it, its pid and
      // process group are its own (this runs on the session's loop, which does the reaping).
      if (handle->program > 0) {
        ::kill(-handle->program, SIGKILL);
        ::kill(handle->program, SIGKILL);
      }
      if (handle->socket != nullptr && handle->idle) {
        asio::error_code ignored;
        handle->socket->close(ignored);  // ends the wait for a request
      }
    });
  }
}

std::size_t SessionRegistry::live() {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(handles_.begin(), handles_.end(), [](const auto& weak) { return !weak.expired(); }));
}

// The watchdog is lazy: Arm and Disarm only move `deadline_`, and the timer, once started, wakes at its expiry,
// finds the current deadline and either closes the connection, sleeps again until it, or stops (disarmed). So a
// request costs no timer system calls; only a deadline earlier than the pending expiry restarts the timer.
void Session::Arm(std::chrono::steady_clock::duration limit) {
  deadline_ = std::chrono::steady_clock::now() + limit;
  if (watchdog_pending_ && watchdog_.expiry() <= deadline_) return;
  StartWatchdog(deadline_);
}

void Session::Disarm() { deadline_ = std::chrono::steady_clock::time_point::max(); }

void Session::StartWatchdog(std::chrono::steady_clock::time_point at) {
  watchdog_pending_ = true;
  watchdog_.expires_at(at);  // a wait still pending ends with operation_aborted and does nothing
  watchdog_.async_wait([this, state = handle_](const asio::error_code& error) {
    if (error || state->socket == nullptr) return;  // superseded, or the session (and `this`) is gone
    watchdog_pending_ = false;
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;  // disarmed: the next Arm restarts it
    if (std::chrono::steady_clock::now() < deadline_) {
      StartWatchdog(deadline_);
      return;
    }
    state->watchdog_fired = true;
    asio::error_code ignored;
    state->socket->close(ignored);  // the pending read or write ends with an error
  });
}

asio::awaitable<void> Session::Run() {
  peer_ = transport_.PeerName();
  {
    asio::error_code ignored;
    address_ = transport_.socket().remote_endpoint(ignored).address().to_string();
  }
  spdlog::debug("{}: connected", peer_);
  Arm(env_.handshake_timeout);
  const auto handshake_error = co_await transport_.Handshake();
  Disarm();
  if (handshake_error) {
    spdlog::info("{}: TLS handshake failed{}: {}", peer_, handle_->watchdog_fired ? " (timed out)" : "",
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
    while (state_ != State::kClosing && !broken_ && next()) co_await Handle(frame);
    if (!decoder_.error().ok()) {
      spdlog::info("{}: malformed stream, closing: {}", peer_, decoder_.error().ToString());
      ReplyError(nullptr, decoder_.error());
      state_ = State::kClosing;
    }
    if (!co_await Flush() || state_ == State::kClosing) break;
    // Between requests with nothing in progress, a shutdown may end the session.
    handle_->idle = uploads_.empty();
    if (handle_->draining && handle_->idle) break;
    // Waiting for a request: until the login deadline before login, the idle timeout after.
    const auto now = std::chrono::steady_clock::now();
    Arm(state_ == State::kReady ? std::chrono::steady_clock::duration(env_.idle_timeout)
                                : std::max(login_deadline_ - now, std::chrono::steady_clock::duration::zero()));
    auto [error, n] = co_await transport_.ReadSome(read_buffer.get(), read_size);
    Disarm();
    handle_->idle = false;
    if (error) {
      if (handle_->watchdog_fired) {
        spdlog::info("{}: closed after {}", peer_, state_ == State::kReady ? "the idle timeout" : "the login timeout");
      } else if (!decoder_.at_frame_boundary()) {
        spdlog::info("{}: connection ended inside a frame", peer_);
      }
      break;
    }
    decoder_.Feed(std::string_view(read_buffer.get(), n));
    const std::size_t wanted = n == read_size ? kLargeRead : n < kSmallRead ? kSmallRead : read_size;
    if (wanted != read_size) {
      read_buffer = std::make_unique_for_overwrite<char[]>(wanted);
      read_size = wanted;
    }
  }
  co_await transport_.Close();
  if (!user_.empty()) Audit("logout", "", Status::Ok());
  spdlog::info("{}: disconnected{}", peer_, user_.empty() ? "" : " (user " + user_ + ")");
}

void Session::Audit(std::string_view event, std::string_view path, const Status& result,
                    std::optional<std::uint64_t> bytes, std::string_view to, std::string_view command) {
  if (env_.audit == nullptr) return;
  env_.audit->Record({event, user_, peer_, path, to, command, bytes, &result});
}

void Session::Reply(Json header, std::string_view body) { protocol::AppendFrame(output_, std::move(header), body); }

void Session::ReplyError(const Json& id, const Status& status) { Reply(protocol::ErrorReply(id, status)); }

asio::awaitable<bool> Session::Flush() {
  if (broken_) co_return false;
  if (output_.empty()) co_return true;
  Arm(env_.idle_timeout);  // a client that stops reading must not hold the session forever
  const auto error = co_await transport_.WriteAll(output_);
  Disarm();
  if (error) {
    if (handle_->watchdog_fired) {
      spdlog::info("{}: closed: the client stopped reading", peer_);
    } else {
      spdlog::debug("{}: write failed: {}", peer_, error.message());
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

Result<std::string> Session::PathField(const protocol::RequestFields& fields, std::string_view key) const {
  auto path = fields.OptionalPath(key, "");
  if (!path.ok()) return path.status();
  return storage::HomeDir::Join(cwd_, *path);
}

asio::awaitable<void> Session::Handle(protocol::Frame& frame) {
  // Upload data is the one frame without an id: it answers nothing, its put_close does.
  if (state_ == State::kReady) {
    const auto op_field = frame.header.find("op");
    if (op_field != frame.header.end() && op_field->is_string() && op_field->get_ref<const std::string&>() == "data") {
      if (!PutData(frame)) state_ = State::kClosing;
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
  const protocol::RequestFields fields(frame.header);
  if (id.is_null()) {
    ReplyError(id, Status(ErrorCode::kProtocol, "request lacks a valid id (a non-negative integer)"));
    co_return;
  }
  auto op = fields.String("op");
  if (!op.ok()) {
    ReplyError(id, op.status());
    co_return;
  }
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}: request {} {}", peer_, id.dump(), *op);
  if (state_ == State::kAwaitingHello) {
    if (*op != "hello") {
      ReplyError(id, Status(ErrorCode::kProtocol, "the first request must be hello"));
      state_ = State::kClosing;
      co_return;
    }
    co_await Hello(id, fields);
    co_return;
  }
  if (*op == "quit") {
    Reply(protocol::OkReply(id));
    state_ = State::kClosing;
    co_return;
  }
  if (*op == "noop") {
    Reply(protocol::OkReply(id));
    co_return;
  }
  if (state_ == State::kAwaitingLogin) {
    if (*op == "login") {
      co_await Login(id, fields);
    } else {
      ReplyError(id, Status(ErrorCode::kNotPermitted, fmt::format("log in before '{}'", *op)));
    }
    co_return;
  }
  if (*op == "ls") {
    co_await List(id, fields);
    co_return;
  }
  if (*op == "get") {
    co_await Get(id, fields);
    co_return;
  }
  if (*op == "exec") {
    co_await Exec(id, fields);
    co_return;
  }
  static constexpr std::string_view kWrites[] = {"put", "mkdir", "rmdir", "rm", "mv", "setstat"};
  if (std::find(std::begin(kWrites), std::end(kWrites), *op) != std::end(kWrites)) {
    // Read on every write, so a permission change reaches sessions already open.
    auto permissions = env_.users->Permissions(user_);
    if (!permissions.ok() || permissions->read_only) {
      const Status refused = permissions.ok() ? Status(ErrorCode::kNotPermitted, "this account is read-only")
                                              : Status(ErrorCode::kNotPermitted, "this account no longer exists");
      if (*op == "put") {
        // The data frames that follow must be dropped, and put_close must repeat the refusal.
        Upload failed;
        failed.error = refused;
        uploads_.emplace(id.get<std::uint64_t>(), std::move(failed));
      }
      ReplyError(id, refused);
      co_return;
    }
  }
  if (*op == "put") {
    PutOpen(id, fields);
  } else if (*op == "put_close") {
    PutClose(id, fields);
  } else if (*op == "put_abort") {
    PutAbort(id, fields);
  } else {
    auto extra = *op == "sum" ? Sum(fields) : HandleSimple(*op, fields);
    if (!extra.ok()) {
      ReplyError(id, extra.status());
    } else {
      Json reply = protocol::OkReply(id);
      auto& members = reply.get_ref<Json::object_t&>();
      for (auto& [key, value] : extra->get_ref<Json::object_t&>()) members.insert_or_assign(key, std::move(value));
      Reply(std::move(reply));
    }
  }
  co_await FlushIfFull();
}


asio::awaitable<void> Session::Hello(const Json& id, const protocol::RequestFields& fields) {
  const Json& header = fields.header();
  const auto versions = header.find("versions");
  int chosen = 0;
  if (versions != header.end() && versions->is_array()) {
    for (const auto& v : *versions) {
      if (v.is_number_integer() && v.get<std::int64_t>() >= protocol::kMinProtocolVersion &&
          v.get<std::int64_t>() <= protocol::kProtocolVersion) {
        chosen = std::max(chosen, v.get<int>());
      }
    }
  } else {
    ReplyError(id, Status(ErrorCode::kProtocol, "hello needs 'versions', an array of protocol versions"));
    state_ = State::kClosing;
    co_return;
  }
  if (chosen == 0) {
    ReplyError(id, Status(ErrorCode::kProtocol, fmt::format("no common protocol version (server speaks {} to {})",
                                                            protocol::kMinProtocolVersion,
                                                            protocol::kProtocolVersion)));
    state_ = State::kClosing;
    co_return;
  }
  Json reply = protocol::OkReply(id);
  reply["version"] = chosen;
  reply["server"] = "ferryd " FERRY_VERSION;
  reply["limits"] = Json{{"max_header", env_.frames.max_header}, {"max_body", env_.frames.max_body}};
  Reply(std::move(reply));
  state_ = State::kAwaitingLogin;
  co_return;
}

asio::awaitable<void> Session::Login(const Json& id, const protocol::RequestFields& fields) {
  auto user = fields.String("user");
  auto password = fields.String("password");
  if (!user.ok() || !password.ok()) {
    ReplyError(id, !user.ok() ? user.status() : password.status());
    co_return;
  }
  if (user->size() > protocol::kMaxUserNameLength || password->size() > protocol::kMaxPasswordLength) {
    ReplyError(id, Status(ErrorCode::kTooBig, "user name or password too long"));
    co_return;
  }
  // Repeated failures from this address or for this name: wait, or refuse without looking at the password. The
  // answer is the same "login incorrect" either way.
  const auto throttle = env_.throttle->Check(address_, *user);
  if (throttle.delay.count() > 0) {
    asio::steady_timer wait(transport_.socket().get_executor(), throttle.delay);
    co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  Status verdict(ErrorCode::kAuthFailed, "login incorrect");
  if (!throttle.blocked) {
    // argon2id takes tens of milliseconds and 64 MiB: run it on the bounded login pool, not on this event loop.
    storage::UserStore* users = env_.users;
    verdict = co_await asio::co_spawn(
        *env_.login_pool,
        [users, &user, &password]() -> asio::awaitable<Status> {
          YieldToTransfers();
          co_return users->Verify(*user, *password);
        },
        asio::use_awaitable);
  } else {
    spdlog::warn("{}: login as '{}' refused: too many failures", peer_, *user);
  }
  if (!verdict.ok()) {
    env_.throttle->RecordFailure(address_, *user);
    ++failed_logins_;
    spdlog::warn("{}: failed login as '{}' ({}/{})", peer_, *user, failed_logins_, env_.max_login_attempts);
    const Status refused(ErrorCode::kAuthFailed, "login incorrect");
    if (env_.audit != nullptr) env_.audit->Record({"login", *user, peer_, {}, {}, {}, std::nullopt, &refused});
    ReplyError(id, refused);
    if (failed_logins_ >= env_.max_login_attempts) state_ = State::kClosing;
    co_return;
  }
  env_.throttle->RecordSuccess(address_, *user);
  auto slot = env_.user_sessions->Admit(*user);
  if (!slot) {
    ReplyError(id, Status(ErrorCode::kBusy, "too many sessions for this user; close one and try again"));
    co_return;
  }
  auto home = storage::HomeDir::Open(env_.root->home_of(*user));
  if (!home.ok()) {
    spdlog::error("{}: home of '{}' cannot be opened: {}", peer_, *user, home.status().ToString());
    ReplyError(id, Status(ErrorCode::kIo, "your home folder is unavailable; ask the administrator"));
    co_return;
  }
  auto partials = env_.root->OpenPartials(*user);
  if (!partials.ok()) {
    spdlog::error("{}: partial-upload folder of '{}' cannot be opened: {}", peer_, *user, partials.status().ToString());
    ReplyError(id, Status(ErrorCode::kIo, "your upload area is unavailable; ask the administrator"));
    co_return;
  }
  // The first session of a user since the server started measures what the user stores (on the pool: a large home
  // takes a while), so usage is right after a restart or a crash.
  if (!env_.quotas->Known(*user)) {
    storage::QuotaLedger* quotas = env_.quotas;
    const int home_fd = home->fd();
    const int partials_fd = partials->get();
    const Status loaded = co_await asio::co_spawn(
        *env_.login_pool,
        [quotas, &user, home_fd, partials_fd]() -> asio::awaitable<Status> {
          co_return quotas->Load(*user, [&] { return storage::MeasureUsage(home_fd, partials_fd); });
        },
        asio::use_awaitable);
    if (!loaded.ok()) {
      spdlog::error("{}: usage of '{}' cannot be measured: {}", peer_, *user, loaded.ToString());
      ReplyError(id, Status(ErrorCode::kIo, "your home folder cannot be read; ask the administrator"));
      co_return;
    }
  }
  partials_ = std::move(partials).value();
  home_.emplace(std::move(home).value());
  user_slot_ = std::move(slot);
  user_ = *user;
  cwd_ = "/";
  state_ = State::kReady;
  spdlog::info("{}: logged in as '{}'", peer_, user_);
  Audit("login", "", Status::Ok());
  Json reply = protocol::OkReply(id);
  reply["user"] = user_;
  reply["cwd"] = cwd_;
  Reply(std::move(reply));
}

asio::awaitable<void> Session::List(const Json& id, const protocol::RequestFields& fields) {
  auto path = PathField(fields, "path");
  if (!path.ok()) {
    ReplyError(id, path.status());
    co_return;
  }
  // A file lists as itself, like ls(1).
  if (auto info = storage::StatPath(*home_, *path); info.ok() && info->type != storage::FileType::kDirectory) {
    Json reply = protocol::OkReply(id);
    reply["more"] = false;
    reply["file"] = true;
    Reply(std::move(reply), protocol::DumpJson(Json::array({EntryJson(*info)})));
    co_return;
  }
  auto lister = storage::DirectoryLister::Open(*home_, *path);
  if (!lister.ok()) {
    ReplyError(id, lister.status());
    co_return;
  }
  // One frame per batch, "more": true on all but the last, each written before the next batch is read.
  while (true) {
    auto batch = lister->Next(protocol::kListBatchSize);
    if (!batch.ok()) {
      ReplyError(id, batch.status());
      co_return;
    }
    const bool last = batch->size() < protocol::kListBatchSize;
    Json entries = Json::array();
    for (const auto& info : *batch) entries.push_back(EntryJson(info));
    Json reply = protocol::OkReply(id);
    reply["more"] = !last;
    Reply(std::move(reply), protocol::DumpJson(entries));
    if (last || !co_await FlushIfFull()) co_return;
  }
}

Result<Json> Session::HandleSimple(std::string_view op, const protocol::RequestFields& fields) {
  const storage::HomeDir& home = *home_;
  if (op == "pwd") return Json{{"path", cwd_}};
  if (op == "whoami") return Json{{"user", user_}};
  if (op == "login") return Status(ErrorCode::kProtocol, "already logged in");
  if (op == "hello") return Status(ErrorCode::kProtocol, "hello was already exchanged");
  if (op == "cd") {
    auto path = PathField(fields, "path");
    if (!path.ok()) return path.status();
    auto resolved = storage::ResolveDirectory(home, *path);
    if (!resolved.ok()) return resolved.status();
    cwd_ = std::move(resolved).value();
    return Json{{"path", cwd_}};
  }
  if (op == "stat") {
    auto path = PathField(fields, "path");
    if (!path.ok()) return path.status();
    auto info = storage::StatPath(home, *path);
    if (!info.ok()) return info.status();
    Json reply(Json::value_t::object);
    reply.get_ref<Json::object_t&>().emplace("entry", EntryJson(*info));
    return reply;
  }
  if (op == "quota") return Quota();
  if (op == "mkdir") return MakeDirectory(fields);
  if (op == "rmdir") {
    auto path = fields.Path("path");
    if (!path.ok()) return path.status();
    const std::string target = storage::HomeDir::Join(cwd_, *path);
    storage::SpaceChange change;
    Status status = storage::RemoveDirectory(home, target, &change);
    ApplyChange(change);
    Audit("delete", target, status);
    if (!status.ok()) return status;
    return Json::object();
  }
  if (op == "rm") {
    auto path = fields.Path("path");
    auto recursive = fields.OptionalBool("recursive", false);
    if (!path.ok()) return path.status();
    if (!recursive.ok()) return recursive.status();
    const std::string target = storage::HomeDir::Join(cwd_, *path);
    storage::SpaceChange change;
    Status status = storage::RemovePath(home, target, *recursive, {}, &change);
    ApplyChange(change);
    Audit("delete", target, status);
    if (!status.ok()) return status;
    return Json::object();
  }
  if (op == "mv") {
    auto from = fields.Path("from");
    auto to = fields.Path("to");
    auto overwrite = fields.OptionalBool("overwrite", false);
    if (!from.ok()) return from.status();
    if (!to.ok()) return to.status();
    if (!overwrite.ok()) return overwrite.status();
    const std::string source = storage::HomeDir::Join(cwd_, *from);
    const std::string target = storage::HomeDir::Join(cwd_, *to);
    // A rename inside the home adds nothing; a replaced target gives its space back.
    storage::SpaceChange change;
    Status status = storage::Rename(home, source, target, *overwrite, &change);
    ApplyChange(change);
    Audit("rename", source, status, std::nullopt, target);
    if (!status.ok()) return status;
    return Json::object();
  }
  if (op == "setstat") return SetStat(fields);
  return Status(ErrorCode::kNotSupported, fmt::format("unknown operation '{}'", op));
}

Result<storage::QuotaLedger::Reservation> Session::Reserve(std::uint64_t bytes, std::uint64_t entries) {
  auto quota = env_.users->Quota(user_);
  if (!quota.ok()) {
    if (quota.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kNotPermitted, "this account no longer exists");
    }
    return quota.status();
  }
  return env_.quotas->Reserve(user_, *quota, bytes, entries);
}

Result<Json> Session::Quota() {
  auto quota = env_.users->Quota(user_);
  if (!quota.ok()) return quota.status();
  const storage::QuotaUsage usage = env_.quotas->Usage(user_);
  const auto limit = [](const std::optional<std::uint64_t>& value) { return value ? Json(*value) : Json(nullptr); };
  return Json{{"bytes", usage.bytes},
              {"bytes_reserved", usage.reserved_bytes},
              {"max_bytes", limit(quota->max_bytes)},
              {"files", usage.entries},
              {"files_reserved", usage.reserved_entries},
              {"max_files", limit(quota->max_files)}};
}

Result<Json> Session::MakeDirectory(const protocol::RequestFields& fields) {
  auto path = fields.Path("path");
  auto parents = fields.OptionalBool("parents", false);
  if (!path.ok()) return path.status();
  if (!parents.ok()) return parents.status();
  const std::string target = storage::HomeDir::Join(cwd_, *path);
  // mkdir -p creates at most one folder per component: reserve that many, or what is left if that is fewer (the
  // creation stops with EQUOTA if it needs more), and give back what was not needed.
  auto quota = env_.users->Quota(user_);
  if (!quota.ok()) return quota.status();
  const std::uint64_t wanted = *parents ? storage::ComponentCount(target) : 1;
  auto reservation = env_.quotas->Reserve(user_, *quota, 0,
                                          std::max<std::uint64_t>(1, std::min(wanted, env_.quotas->EntriesLeft(user_, *quota))));
  Status status = reservation.status();
  if (status.ok()) {
    storage::SpaceChange change;
    status = storage::MakeDirectory(*home_, target, *parents, &change, reservation->entries());
    reservation->Use(0, static_cast<std::uint64_t>(std::max<std::int64_t>(0, change.entries)));
  } else if (auto existing = storage::StatPath(*home_, target); existing.ok()) {
    // A name that exists needs no room: answer as if there were room.
    if (!*parents || existing->type != storage::FileType::kDirectory) {
      status = Status(ErrorCode::kExists, fmt::format("File exists: {}", target));
    } else {
      status = Status::Ok();
    }
  }
  Audit("mkdir", target, status);
  if (!status.ok()) return status;
  return Json::object();
}

}  // namespace ferry::server
