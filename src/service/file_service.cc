#include "service/file_service.h"

#include <sys/resource.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ferry::service {
namespace {

// The nice value of login workers.
constexpr int kLoginNice = 19;

// Login work (argon2id) runs at the lowest CPU priority, once per pool thread: a storm of logins then takes only the
// CPU that transfers and commands leave, and never slows the sessions already at work.
void YieldToTransfers() {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kLoginNice);
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<UserSession>>> FileService::Login(ClientInfo client, std::string user,
                                                                         std::string password) {
  const Status incorrect(ErrorCode::kAuthFailed, "login incorrect");
  // Repeated failures from this address or for this name: wait, or refuse without looking at the password. The
  // answer is the same "login incorrect" either way.
  const auto throttle = options_.throttle->Check(client.address, user);
  if (throttle.delay.count() > 0) {
    asio::steady_timer wait(co_await asio::this_coro::executor, throttle.delay);
    co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  Status verdict = incorrect;
  if (!throttle.blocked) {
    // argon2id takes tens of milliseconds and 64 MiB: run it on the bounded login pool, not on the caller's loop.
    storage::UserStore* users = options_.users;
    verdict = co_await asio::co_spawn(
        *options_.login_pool,
        [users, &user, &password]() -> asio::awaitable<Status> {
          YieldToTransfers();
          co_return users->Verify(user, password);
        },
        asio::use_awaitable);
  } else {
    spdlog::warn("{}: login as '{}' refused: too many failures", client.peer, user);
  }
  co_return co_await FinishLogin(std::move(client), std::move(user), verdict, "password", {});
}

bool FileService::AcceptsKey(std::string_view user, const storage::SshPublicKey& key) const {
  auto keys = options_.users->Keys(user);
  if (!keys.ok()) return false;
  for (const auto& known : *keys) {
    if (known.type == key.type && known.blob_base64 == key.blob_base64) return true;
  }
  return false;
}

asio::awaitable<Result<std::unique_ptr<UserSession>>> FileService::LoginWithKey(ClientInfo client, std::string user,
                                                                                storage::SshPublicKey key,
                                                                                Status proof) {
  const auto throttle = options_.throttle->Check(client.address, user);
  if (throttle.delay.count() > 0) {
    asio::steady_timer wait(co_await asio::this_coro::executor, throttle.delay);
    co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  Status verdict(ErrorCode::kAuthFailed, "login incorrect");
  if (throttle.blocked) {
    spdlog::warn("{}: login as '{}' refused: too many failures", client.peer, user);
  } else if (proof.ok() && AcceptsKey(user, key)) {
    verdict = Status::Ok();
  }
  co_return co_await FinishLogin(std::move(client), std::move(user), verdict, "publickey", key.fingerprint);
}

asio::awaitable<Result<std::unique_ptr<UserSession>>> FileService::FinishLogin(ClientInfo client, std::string user,
                                                                               Status verdict, std::string_view method,
                                                                               std::string_view key) {
  const Status incorrect(ErrorCode::kAuthFailed, "login incorrect");
  // Every refusal from here on is audited.
  const auto refuse = [&](Status status) -> Result<std::unique_ptr<UserSession>> {
    if (options_.audit != nullptr) {
      options_.audit->Record({"login", user, client.peer, {}, {}, nullptr, nullptr, std::nullopt, &status,
                              client.protocol, method, key, {}});
    }
    return status;
  };
  if (!verdict.ok()) {
    options_.throttle->RecordFailure(client.address, user);
    co_return refuse(incorrect);
  }
  options_.throttle->RecordSuccess(client.address, user);
  auto slot = options_.user_sessions->Admit(user);
  if (!slot) co_return refuse(Status(ErrorCode::kBusy, "too many sessions for this user; close one and try again"));
  auto home = storage::HomeDir::Open(options_.homes_path + "/" + user);
  if (!home.ok()) {
    spdlog::error("{}: home of '{}' cannot be opened: {}", client.peer, user, home.status().ToString());
    co_return refuse(Status(ErrorCode::kIo, "your home folder is unavailable; ask the administrator"));
  }
  auto partials = PartialStore::Open(options_.partials_path, user, options_.max_partials_per_user);
  if (!partials.ok()) {
    spdlog::error("{}: partial-upload folder of '{}' cannot be opened: {}", client.peer, user,
                  partials.status().ToString());
    co_return refuse(Status(ErrorCode::kIo, "your upload area is unavailable; ask the administrator"));
  }
  // The first session of a user since the server started measures what the user stores (on the pool: a large home
  // takes a while), so usage is right after a restart or a crash.
  if (!options_.quotas->Known(user)) {
    storage::QuotaLedger* quotas = options_.quotas;
    const int home_fd = home->fd();
    const int partials_fd = partials->fd();
    const Status loaded = co_await asio::co_spawn(
        *options_.login_pool,
        [quotas, &user, home_fd, partials_fd]() -> asio::awaitable<Status> {
          co_return quotas->Load(user, [&] { return storage::MeasureUsage(home_fd, partials_fd); });
        },
        asio::use_awaitable);
    if (!loaded.ok()) {
      spdlog::error("{}: usage of '{}' cannot be measured: {}", client.peer, user, loaded.ToString());
      co_return refuse(Status(ErrorCode::kIo, "your home folder cannot be read; ask the administrator"));
    }
  }
  spdlog::info("{}: logged in as '{}'{}", client.peer, user,
               key.empty() ? std::string() : fmt::format(" with key {}", key));
  std::unique_ptr<UserSession> session(new UserSession(options_, std::move(client), std::move(user),
                                                       std::move(home).value(), std::move(partials).value(),
                                                       std::move(slot)));
  if (options_.audit != nullptr) {
    const Status ok;
    options_.audit->Record({"login", session->user(), session->client().peer, {}, {}, nullptr, nullptr, std::nullopt,
                            &ok, session->client().protocol, method, key, {}});
  }
  co_return session;
}

}  // namespace ferry::service
