#include "support/session_harness.h"

#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "frontends/ferry/session.h"

namespace ferry::testing {

SessionServices::SessionServices(const std::string& data_root, storage::UserStore* users,
                                 asio::thread_pool* login_pool, service::AuditLog* audit)
    : throttle_({.slow_after = 1000000, .block_after = 1000000}), user_sessions_(100, 50), program_slots_(4, 4) {
  service::FileServiceOptions options;
  options.homes_path = data_root + "/homes";
  options.partials_path = data_root + "/partials";
  options.users = users;
  options.quotas = &quotas_;
  options.login_pool = login_pool;
  options.throttle = &throttle_;
  options.user_sessions = &user_sessions_;
  options.audit = audit;
  files_ = std::make_unique<service::FileService>(std::move(options));
  programs_ = std::make_unique<service::ProgramService>(
      nullptr, Status(ErrorCode::kNotSupported, "remote commands are disabled on this server"), &program_slots_,
      service::ProgramPolicy{});
  environment_.files = files_.get();
  environment_.programs = programs_.get();
}

SessionExchange RunSession(const frontends::native::FerryEnvironment& environment, std::string_view input,
                           std::chrono::seconds limit, bool close_input) {
  SessionExchange exchange;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return exchange;
  asio::io_context loop(1);
  asio::ip::tcp::socket server_side(loop);
  asio::ip::tcp::socket client(loop);
  server_side.assign(asio::ip::tcp::v4(), pair[0]);
  client.assign(asio::ip::tcp::v4(), pair[1]);
  const auto token = asio::experimental::as_tuple(asio::use_awaitable);

  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        frontends::native::Session session(frontends::Transport(std::move(server_side)), environment);
        co_await session.Run();
        exchange.ended = true;
      },
      asio::detached);
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(client, asio::buffer(input.data(), input.size()), token);
        asio::error_code ignored;
        if (close_input) client.shutdown(asio::socket_base::shutdown_send, ignored);
      },
      asio::detached);
  // Read concurrently with the writes: replies must never wait for the client to finish sending.
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        std::string buffer(64 * 1024, '\0');
        while (true) {
          auto [error, n] = co_await client.async_read_some(asio::buffer(buffer), token);
          exchange.received.append(buffer.data(), n);
          if (error) break;
        }
      },
      asio::detached);
  loop.run_for(limit);
  if (exchange.ended) {
    loop.run();  // the client's last read
  } else {
    // Stop waiting: closing both ends ends every pending operation, and the loop's destruction frees the rest.
    asio::error_code ignored;
    client.close(ignored);
    loop.stop();
  }
  return exchange;
}

}  // namespace ferry::testing
