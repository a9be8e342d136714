#include "server/server.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <tuple>
#include <unordered_map>

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/host_port.h"
#include "common/tls_fingerprint.h"
#include "frontends/ferry/ferry_front_end.h"
#include "frontends/ftp/ftp_front_end.h"
#include "frontends/ftp/tls_binding.h"
#include "frontends/sftp/ssh_front_end.h"
#include "service/partial_store.h"
#include "storage/database_stamp.h"
#include "storage/mount_info.h"

namespace ferry::server {
namespace {

// Login workers: as configured, or as many hashes as fit in an eighth of the RAM, between 2 and 32.
unsigned LoginWorkers(const ServerConfig& config) {
  if (config.login_workers != 0) return config.login_workers;
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  const std::uint64_t ram = pages > 0 && page_size > 0 ? std::uint64_t(pages) * std::uint64_t(page_size) : 0;
  const std::uint64_t per_login = std::max<std::uint64_t>(HashCostFor(config).mem_limit, 1);
  return static_cast<unsigned>(std::clamp<std::uint64_t>(ram / 8 / per_login, 2, 32));
}

}  // namespace

Server::Server(DataRoot root, ServerConfig config) : root_(std::move(root)), config_(std::move(config)) {}

Server::~Server() {
  Stop();
  // Logins in flight refer to their sessions' frames: finish them before the loops (and the frames) go.
  if (login_pool_) {
    login_pool_->stop();
    login_pool_->join();
  }
  listeners_.clear();
  signals_.reset();
  loops_.clear();
}

Status Server::SetUpTls() {
  tls_.emplace(asio::ssl::context::tls_server);
  if (Status s = ConfigureTls(*tls_); !s.ok()) return s;
  if (!config_.ftp_listen.empty() || !config_.ftp_implicit_listen.empty()) {
    // FTP's own context: its tickets carry the control connection's token (frontends/ftp/tls_binding.h).
    ftp_tls_.emplace(asio::ssl::context::tls_server);
    if (Status s = ConfigureTls(*ftp_tls_); !s.ok()) return s;
    frontends::ftp::EnableSessionBinding(ftp_tls_->native_handle());
  }
  auto fingerprint = CertificateFileFingerprint(root_.Resolve(config_.certificate));
  if (fingerprint.ok()) spdlog::info("TLS 1.3, certificate fingerprint {}", *fingerprint);
  return Status::Ok();
}

Status Server::ConfigureTls(asio::ssl::context& context) {
  SSL_CTX* ctx = context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // With read-ahead (see Transport), one read system call takes in up to this much: several records.
  SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
  const std::string cert = root_.Resolve(config_.certificate);
  const std::string key = root_.Resolve(config_.private_key);
  asio::error_code error;
  context.use_certificate_chain_file(cert, error);
  if (error) return Status(ErrorCode::kInvalid, fmt::format("TLS certificate {}: {}", cert, error.message()));
  context.use_private_key_file(key, asio::ssl::context::pem, error);
  if (error) return Status(ErrorCode::kInvalid, fmt::format("TLS private key {}: {}", key, error.message()));
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status(ErrorCode::kInvalid, fmt::format("TLS private key {} does not match certificate {}", key, cert));
  }
  return Status::Ok();
}

namespace {

// Each connection holds a descriptor, and a transfer one or two more, while the soft open-file limit is often 1,024.
// Raise it to the hard limit, as nginx (worker_rlimit_nofile) and Go's runtime do, so that max_connections is not cut
// short by a default. Commands run by exec get their own limit (exec.max_open_files).
void RaiseOpenFileLimit(unsigned max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  // Beside the connections: event loops, the database, the audit log, and the files being transferred.
  constexpr rlim_t kHeadroom = 64;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < static_cast<rlim_t>(max_connections) + kHeadroom) {
    spdlog::warn("the open-file limit is {} (ulimit -n); with limits.max_connections = {}, connections past what it "
                 "allows wait in the queue until descriptors are free",
                 limit.rlim_cur, max_connections);
  } else {
    spdlog::debug("open-file limit {}", limit.rlim_cur);
  }
}

}  // namespace

Status Server::Start() {
  RaiseOpenFileLimit(config_.max_connections);
  auto users = root_.OpenUsers();
  if (!users.ok()) return users.status();
  users_ = std::move(users).value();
  users_->SetPasswordCache(std::chrono::seconds(config_.password_cache_seconds));
  if (config_.password_hash != "interactive") {
    if (Status s = users_->SetUnknownUserCost(HashCostFor(config_)); !s.ok()) return s;
  }
  if (config_.tls) {
    if (Status s = SetUpTls(); !s.ok()) return s;
  } else {
    spdlog::warn("TLS is off: passwords and data cross the network in the clear");
  }
  bool host_key_created = false;
  auto host_key = root_.EnsureHostKey(&host_key_created);
  if (!host_key.ok()) return host_key.status();
  spdlog::info("{} SSH host key {}", host_key_created ? "created the" : "the", host_key->FingerprintLine());
  const unsigned threads = config_.threads != 0 ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) loops_.push_back(std::make_unique<asio::io_context>(1));
  const unsigned login_workers = LoginWorkers(config_);
  login_pool_ = std::make_unique<asio::thread_pool>(login_workers);
  spdlog::info("{} event-loop threads, {} login workers (argon2id, {} MiB each)", threads, login_workers,
               HashCostFor(config_).mem_limit >> 20);

  auto audit = service::AuditLog::Open(root_.dir() + "/audit.log");
  if (!audit.ok()) return audit.status();
  audit_ = std::move(audit).value();
  throttle_ = std::make_unique<service::LoginThrottle>(service::LoginThrottlePolicy{
      config_.slow_after_failures, config_.block_after_failures, std::chrono::seconds(config_.block_seconds)});
  user_sessions_ = std::make_unique<ConnectionLimiter>(~0u, config_.max_sessions_per_user);
  limiter_ = std::make_unique<ConnectionLimiter>(config_.max_connections, config_.max_connections_per_address);
  SetUpExec();
  SetUpServices();
  if (Status s = Listen(config_.listen, front_ends_.front().get()); !s.ok()) return s;
  if (Status s = ListenFtp(); !s.ok()) return s;
  if (sftp_ != nullptr) {
    if (Status s = Listen(config_.sftp_listen, sftp_); !s.ok()) return s;
    const auto bound = listeners_.back()->acceptor.local_endpoint();
    spdlog::info("SFTP on {} (SSH{})", FormatHostPort({bound.address().to_string(), bound.port()}),
                 config_.sftp_password_auth ? "" : ", public keys only");
  }
  if (config_.ping_enabled) {
    ping_.emplace(*loops_[0], config_.ping_replies_per_second);
    const auto tcp = local_endpoint();
    if (Status s = ping_->Open(asio::ip::udp::endpoint(tcp.address(), tcp.port())); !s.ok()) {
      spdlog::warn("{}; ferry ping will get no answer", s.message());
      ping_.reset();
    }
  }
  RemoveStalePartials();
  std::signal(SIGPIPE, SIG_IGN);
  signals_.emplace(*loops_[0], SIGINT, SIGTERM);
  signals_->add(SIGHUP);
  const auto bound = local_endpoint();
  spdlog::info("listening on {} ({}, {} event-loop threads)",
               FormatHostPort({bound.address().to_string(), bound.port()}), config_.tls ? "tls" : "plain", threads);
  return Status::Ok();
}

Status Server::Listen(const std::string& listen, frontends::FrontEnd* front_end) {
  auto address = ParseHostPort(listen);
  if (!address.ok()) return address.status();
  asio::error_code error;
  const auto ip = asio::ip::make_address(address->host, error);
  if (error) return Status(ErrorCode::kInvalid, fmt::format("listen address '{}' is not an IP address", address->host));
  const asio::ip::tcp::endpoint endpoint(ip, address->port);
  auto listener = std::make_unique<Listener>(Listener{asio::ip::tcp::acceptor(*loops_[0]), front_end});
  asio::ip::tcp::acceptor& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status(ErrorCode::kIo, fmt::format("cannot listen on {}: {}", FormatHostPort(*address), error.message()));
  }
  listeners_.push_back(std::move(listener));
  return Status::Ok();
}

asio::ip::tcp::endpoint Server::local_endpoint() const { return listeners_.front()->acceptor.local_endpoint(); }

asio::awaitable<void> Server::Accept(Listener& listener) {
  asio::ip::tcp::acceptor& acceptor = listener.acceptor;
  std::uint64_t failures = 0;  // in a row
  while (acceptor.is_open()) {
    asio::io_context& loop = *loops_[next_loop_++ % loops_.size()];
    auto [error, accepted] = co_await acceptor.async_accept(loop, asio::experimental::as_tuple(asio::use_awaitable));
    if (error) {
      if (error == asio::error::operation_aborted || !acceptor.is_open()) break;
      // Out of descriptors or memory: the connection stays queued in the kernel. Wait a moment instead of spinning
      // on the failing accept, and say so once, not ten times a second.
      if (failures++ == 0) {
        spdlog::warn("accept failed: {}; new connections wait in the queue, retrying every 100 ms", error.message());
      }
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      continue;
    }
    if (failures > 0) {
      spdlog::warn("accepting connections again after {} failed attempt(s)", failures);
      failures = 0;
    }
    asio::ip::tcp::socket socket(std::move(accepted));
    asio::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    auto slot = limiter_->Admit(peer.address().to_string());
    if (!slot) {
      spdlog::warn("refused a connection from {}: too many connections", peer.address().to_string());
      listener.front_end->RefuseBusy(socket);
      socket.close(ignored);
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    asio::co_spawn(loop, listener.front_end->Serve(std::move(socket), std::move(slot)), asio::detached);
  }
}

asio::awaitable<void> Server::SweepPartials() {
  asio::steady_timer timer(*loops_[0]);
  while (true) {
    timer.expires_after(std::chrono::hours(1));
    auto [error] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (error) co_return;
    RemoveStalePartials();
  }
}

// The administration commands change the database from another process. Twice a second the database's files are
// looked at (two stat calls); when they changed, the users are listed again, and the sessions of a user who is gone
// (or was removed and added again since they connected), or who connected before `ferryd user passwd --logout`, end.
// Sessions that logged in since the last look are checked against the last list too (a login verified just before
// its user was removed). A list taken while the files were still changing, or that failed, is taken again.
asio::awaitable<void> Server::WatchUsers() {
  const std::string database = root_.database_path();
  auto seen = storage::DatabaseStamp::Of(database);
  std::uint64_t logins_seen = registry_.logins();
  std::unordered_map<std::string, std::int64_t> valid_since;  // a session that connected before this is to end
  bool listed = false;
  asio::steady_timer timer(*loops_[0]);
  while (true) {
    timer.expires_after(std::chrono::milliseconds(500));
    auto [error] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (error) co_return;
    const auto now = storage::DatabaseStamp::Of(database);
    const std::uint64_t logins = registry_.logins();
    if (now != seen) {
      auto users = users_->List();
      if (!users.ok()) {
        spdlog::warn("listing users to end the sessions of removed ones: {}", users.status().message());
        continue;  // looked at again at the next tick
      }
      valid_since.clear();
      for (const auto& user : *users) {
        valid_since.emplace(user.name, std::max(user.created * 1'000'000'000, user.sessions_ended_at));
      }
      listed = true;
      if (now.Settled()) seen = now;  // else listed again at the next tick: a later commit may keep the stamp
    } else if (logins == logins_seen || !listed) {
      continue;
    }
    logins_seen = logins;
    const std::size_t ended = registry_.EndWhere([&](const std::string& user, std::int64_t login_time) {
      const auto it = valid_since.find(user);
      const bool end = it == valid_since.end() || login_time < it->second;
      if (end) {
        spdlog::info("ending a session of {}: {}", user,
                     it == valid_since.end() ? "the user was removed" : "its sessions were ended (passwd --logout)");
      }
      return end;
    });
    if (ended > 0) spdlog::info("ended {} session(s) of removed or logged-out users", ended);
  }
}

void Server::SetUpExec() {
  exec_slots_ = std::make_unique<ConnectionLimiter>(config_.exec_max_running, config_.exec_max_programs_per_user);
  service::ProgramPolicy programs;
  programs.allow_shell = config_.exec_allow_shell;
  programs.time_limit = std::chrono::seconds(config_.exec_time_limit_seconds);
  programs.output_limit = config_.exec_output_limit_bytes;
  programs.max_per_user = config_.exec_max_programs_per_user;
  Status unavailable(ErrorCode::kNotSupported, "remote commands are disabled on this server");
  if (config_.exec_enabled) {
    service::LaunchPolicy policy;
    policy.sandbox = config_.exec_sandbox;
    policy.bwrap = config_.exec_bwrap;
    policy.memory_limit = config_.exec_memory_limit_bytes;
    policy.max_processes = config_.exec_max_processes;
    policy.max_open_files = config_.exec_max_open_files;
    policy.cpu_seconds = config_.exec_time_limit_seconds + 1;
    policy.tmp_size = config_.exec_tmp_size_bytes;
    auto launcher = service::CommandLauncher::Create(policy, root_.dir());
    if (launcher.ok()) {
      launcher_.emplace(std::move(launcher).value());
      if (!config_.exec_sandbox) {
        spdlog::warn("remote commands run WITHOUT a sandbox (exec.sandbox = false)");
      } else {
        WarnIfHomesPathShows();
      }
    } else {
      spdlog::warn("remote commands are unavailable: {}", launcher.status().message());
      unavailable = Status(ErrorCode::kNotSupported,
                           "remote commands are unavailable on this server: " + launcher.status().message());
    }
  }
  programs_ = std::make_unique<service::ProgramService>(launcher_ ? &*launcher_ : nullptr, std::move(unavailable),
                                                        exec_slots_.get(), programs);
}

void Server::WarnIfHomesPathShows() const {
  // A program sees its home's bind mount in /proc/self/mountinfo as the home's path within its file system.
  auto shown = storage::PathWithinFileSystem(root_.homes_path());
  if (!shown.ok()) {
    spdlog::warn("cannot tell what programs see of the data root in /proc/self/mountinfo: {}",
                 shown.status().message());
  } else if (*shown != "/homes") {
    spdlog::warn("programs run with exec can read where their home is ({}/NAME) in /proc/self/mountinfo; with the "
                 "data root at the top of a file system of its own they see only /homes/NAME",
                 *shown);
  }
}

void Server::SetUpServices() {
  service::FileServiceOptions files;
  files.homes_path = root_.homes_path();
  files.partials_path = root_.partials_path();
  files.users = users_.get();
  files.quotas = &quotas_;
  files.login_pool = login_pool_.get();
  files.throttle = throttle_.get();
  files.user_sessions = user_sessions_.get();
  files.audit = audit_.get();
  files.max_partials_per_user = config_.max_partials_per_user;
  files_ = std::make_unique<service::FileService>(std::move(files));

  frontends::native::FerryEnvironment ferry;
  ferry.files = files_.get();
  ferry.programs = programs_.get();
  ferry.registry = &registry_;
  ferry.tls = tls_ ? tls_->native_handle() : nullptr;
  ferry.frames = config_.frames;
  ferry.max_login_attempts = config_.max_login_attempts;
  ferry.handshake_timeout = std::chrono::seconds(config_.handshake_timeout_seconds);
  ferry.login_timeout = std::chrono::seconds(config_.login_timeout_seconds);
  ferry.idle_timeout = std::chrono::seconds(config_.idle_timeout_seconds);
  front_ends_.push_back(std::make_unique<frontends::native::FerryFrontEnd>(std::move(ferry)));

  frontends::ftp::FtpEnvironment ftp;
  ftp.files = files_.get();
  ftp.registry = &registry_;
  ftp.tls = ftp_tls_ ? ftp_tls_->native_handle() : nullptr;
  ftp.require_tls = config_.ftp_require_tls;
  ftp.tls_session_reuse = config_.ftp_tls_session_reuse == "off"        ? frontends::ftp::SessionReuse::kOff
                          : config_.ftp_tls_session_reuse == "optional" ? frontends::ftp::SessionReuse::kOptional
                                                                        : frontends::ftp::SessionReuse::kRequired;
  ftp.passive_min = config_.ftp_passive_min;
  ftp.passive_max = config_.ftp_passive_max;
  ftp.passive_address = config_.ftp_passive_address;
  ftp.active_mode = config_.ftp_active_mode;
  ftp.max_login_attempts = config_.max_login_attempts;
  ftp.handshake_timeout = std::chrono::seconds(config_.handshake_timeout_seconds);
  ftp.login_timeout = std::chrono::seconds(config_.login_timeout_seconds);
  ftp.idle_timeout = std::chrono::seconds(config_.idle_timeout_seconds);
  if (!config_.ftp_listen.empty()) {
    front_ends_.push_back(std::make_unique<frontends::ftp::FtpFrontEnd>(ftp));
    ftp_ = front_ends_.back().get();
  }
  if (!config_.ftp_implicit_listen.empty()) {
    ftp.implicit_tls = true;
    front_ends_.push_back(std::make_unique<frontends::ftp::FtpFrontEnd>(ftp));
    ftps_implicit_ = front_ends_.back().get();
  }

  if (!config_.sftp_listen.empty()) {
    frontends::sftp::SshEnvironment ssh;
    ssh.files = files_.get();
    ssh.programs = programs_.get();
    ssh.host_key_path = root_.host_key_path();
    ssh.password_auth = config_.sftp_password_auth;
    ssh.max_login_attempts = config_.max_login_attempts;
    ssh.login_timeout = std::chrono::seconds(config_.login_timeout_seconds);
    ssh.idle_timeout = std::chrono::seconds(config_.idle_timeout_seconds);
    ssh.registry = &registry_;
    front_ends_.push_back(std::make_unique<frontends::sftp::SshFrontEnd>(std::move(ssh)));
    sftp_ = front_ends_.back().get();
  }
}

Status Server::ListenFtp() {
  if ((ftp_ || ftps_implicit_) && !tls_ && config_.ftp_require_tls) {
    return Status(ErrorCode::kInvalid,
                  "FTP needs TLS while ftp.require_tls = true: start without --plain, or set ftp.require_tls = false");
  }
  if (ftps_implicit_ && !tls_) {
    return Status(ErrorCode::kInvalid, "implicit FTPS needs TLS: start without --plain");
  }
  for (auto [front_end, listen, what] :
       {std::tuple{ftp_, &config_.ftp_listen, "FTP"},
        std::tuple{ftps_implicit_, &config_.ftp_implicit_listen, "implicit FTPS"}}) {
    if (front_end == nullptr) continue;
    if (Status s = Listen(*listen, front_end); !s.ok()) return s;
    const auto bound = listeners_.back()->acceptor.local_endpoint();
    spdlog::info("{} on {}{}", what, FormatHostPort({bound.address().to_string(), bound.port()}),
                 front_end == ftp_ && tls_
                     ? (config_.ftp_require_tls ? " (AUTH TLS required)" : " (AUTH TLS offered; plain allowed)")
                     : (front_end == ftp_ ? " (plain)" : ""));
  }
  return Status::Ok();
}

void Server::RemoveStalePartials() {
  const int removed = service::PartialStore::RemoveStale(
      root_.partials_path(), config_.partial_max_age_seconds, [this](const std::string& user, std::uint64_t bytes) {
        quotas_.Apply(user, storage::SpaceChange{-static_cast<std::int64_t>(bytes), 0});
      });
  if (removed > 0) spdlog::info("removed {} abandoned partial upload(s)", removed);
}

void Server::Run() {
  WaitForSignal();
  for (auto& listener : listeners_) asio::co_spawn(*loops_[0], Accept(*listener), asio::detached);
  asio::co_spawn(*loops_[0], SweepPartials(), asio::detached);
  asio::co_spawn(*loops_[0], WatchUsers(), asio::detached);
  if (ping_) asio::co_spawn(*loops_[0], ping_->Serve(), asio::detached);

  std::vector<std::thread> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& loop : loops_) guards.push_back(asio::make_work_guard(*loop));
  for (std::size_t i = 1; i < loops_.size(); ++i) workers.emplace_back([&loop = *loops_[i]] { loop.run(); });
  loops_[0]->run();
  for (auto& worker : workers) worker.join();
  spdlog::info("stopped");
}

void Server::WaitForSignal() {
  signals_->async_wait([this](const asio::error_code& error, int signal_number) {
    if (error) return;
    if (signal_number == SIGHUP) {
      // logrotate moved the audit log away: start a new one.
      if (Status s = audit_->Reopen(); !s.ok()) spdlog::error("reopening the audit log: {}", s.message());
      spdlog::info("received SIGHUP, reopened the audit log");
      WaitForSignal();
      return;
    }
    spdlog::info("received signal {}, shutting down", signal_number);
    asio::co_spawn(*loops_[0], ShutDownGracefully(), asio::detached);
  });
}

asio::awaitable<void> Server::ShutDownGracefully() {
  asio::error_code ignored;
  for (auto& listener : listeners_) listener->acceptor.close(ignored);
  if (ping_) ping_->Close();
  registry_.DrainAll();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.shutdown_grace_seconds);
  asio::steady_timer tick(*loops_[0]);
  std::size_t live = registry_.live();
  while (live > 0 && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    live = registry_.live();
  }
  if (live > 0) spdlog::warn("grace period over: closing {} session(s) still running", live);
  Stop();
}

void Server::Stop() {
  for (auto& loop : loops_) loop->stop();
}

}  // namespace ferry::server
