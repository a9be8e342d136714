// WithTimeout: an awaitable operation raced against a timer. FTP waits on a second connection (the data connection)
// while the first stays quiet, so each wait gets a limit of its own instead of one watchdog per session.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include <asio/experimental/as_tuple.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ferry::frontends::ftp {

// The result of `operation`, or nullopt if `limit` passed first (the operation is then cancelled).
template <typename T>
asio::awaitable<std::optional<T>> WithTimeout(asio::awaitable<T> operation, std::chrono::steady_clock::duration limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto result = co_await (std::move(operation) || timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  if (result.index() == 0) co_return std::optional<T>(std::get<0>(std::move(result)));
  co_return std::nullopt;
}

// The same for an operation with no result: whether it finished in time.
inline asio::awaitable<bool> WithTimeout(asio::awaitable<void> operation, std::chrono::steady_clock::duration limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto result = co_await (std::move(operation) || timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  co_return result.index() == 0;
}

}  // namespace ferry::frontends::ftp
