#include "server/transport.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <openssl/err.h>

namespace ferry::server {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

int ClampToInt(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, INT_MAX)); }

// What a failed SSL_* call means, as an error code: eof for a closed connection, else OpenSSL's reason or errno.
asio::error_code SslFailure(int ssl_error, int saved_errno) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const unsigned long code = ::ERR_get_error();
  ::ERR_clear_error();
  if (code != 0) return asio::error_code(static_cast<int>(code), asio::error::get_ssl_category());
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) return asio::error_code(saved_errno, asio::system_category());
  return asio::error::eof;  // the peer closed without a TLS close_notify
}

bool WantsIo(int ssl_error) { return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE; }

}  // namespace

void Transport::SslFree::operator()(SSL* ssl) const { ::SSL_free(ssl); }

Transport::Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

Transport::Transport(asio::ip::tcp::socket socket, SSL_CTX* context)
    : socket_(std::move(socket)), tls_(true), ssl_(::SSL_new(context)) {
  if (!ssl_ || ::SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
    ssl_.reset();  // Handshake() reports it
    return;
  }
  ::SSL_set_accept_state(ssl_.get());
  // Read whole socket buffers at a time (several records per read system call); let a write return after each
  // record so a large buffer goes out as the socket takes it; free the buffers while the connection is idle.
  ::SSL_set_read_ahead(ssl_.get(), 1);
  ::SSL_set_mode(ssl_.get(),
                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

Transport::~Transport() = default;

asio::awaitable<asio::error_code> Transport::WaitFor(int ssl_error) {
  auto [error] = co_await socket_.async_wait(
      ssl_error == SSL_ERROR_WANT_WRITE ? asio::ip::tcp::socket::wait_write : asio::ip::tcp::socket::wait_read,
      kNoThrow);
  co_return error;
}

asio::awaitable<asio::error_code> Transport::Handshake() {
  if (!tls_) co_return asio::error_code{};
  if (!ssl_) co_return asio::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
  asio::error_code error;
  socket_.non_blocking(true, error);
  if (error) co_return error;
  while (true) {
    ::ERR_clear_error();
    const int result = ::SSL_do_handshake(ssl_.get());
    if (result == 1) co_return asio::error_code{};
    const int saved_errno = errno;
    const int ssl_error = ::SSL_get_error(ssl_.get(), result);
    if (!WantsIo(ssl_error)) co_return SslFailure(ssl_error, saved_errno);
    if (auto wait_error = co_await WaitFor(ssl_error)) co_return wait_error;
  }
}

asio::awaitable<std::tuple<asio::error_code, std::size_t>> Transport::ReadSome(char* data, std::size_t size) {
  if (!tls_) co_return co_await socket_.async_read_some(asio::buffer(data, size), kNoThrow);
  std::size_t n = 0;
  while (true) {
    ::ERR_clear_error();
    const int result = ::SSL_read(ssl_.get(), data + n, ClampToInt(size - n));
    if (result > 0) {
      n += static_cast<std::size_t>(result);
      // One SSL_read yields one record; take every record already received as well, so pipelined requests are
      // handled, and answered, together. Stop when nothing more is buffered rather than ask the socket again.
      if (n == size || (::SSL_pending(ssl_.get()) == 0 && ::SSL_has_pending(ssl_.get()) == 0)) break;
      continue;
    }
    const int saved_errno = errno;
    const int ssl_error = ::SSL_get_error(ssl_.get(), result);
    if (n > 0) break;  // deliver what arrived; a lasting error comes back on the next read
    if (!WantsIo(ssl_error)) co_return std::tuple(SslFailure(ssl_error, saved_errno), std::size_t{0});
    if (auto wait_error = co_await WaitFor(ssl_error)) co_return std::tuple(wait_error, std::size_t{0});
  }
  ::ERR_clear_error();
  co_return std::tuple(asio::error_code{}, n);
}

asio::awaitable<asio::error_code> Transport::WriteAll(const std::string& bytes) {
  asio::error_code error;
  if (!socket_.non_blocking()) socket_.non_blocking(true, error);
  if (error) co_return error;
  if (tls_) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ::ERR_clear_error();
      const int result = ::SSL_write(ssl_.get(), bytes.data() + done, ClampToInt(bytes.size() - done));
      if (result > 0) {
        done += static_cast<std::size_t>(result);
        continue;
      }
      const int saved_errno = errno;
      const int ssl_error = ::SSL_get_error(ssl_.get(), result);
      if (!WantsIo(ssl_error)) co_return SslFailure(ssl_error, saved_errno);
      if (auto wait_error = co_await WaitFor(ssl_error)) co_return wait_error;
    }
    co_return asio::error_code{};
  }
  // Plain TCP: one send(2) straight away, which nearly always takes everything (a reply is small, the socket buffer
  // large). Only the rest, if any, waits on the event loop; so a request costs no handler hand-off for its reply.
  const std::size_t sent = socket_.write_some(asio::buffer(bytes), error);
  if (error == asio::error::would_block || error == asio::error::try_again) {
    error.clear();
  } else if (error) {
    co_return error;
  }
  if (sent == bytes.size()) co_return asio::error_code{};
  auto [rest_error, n] = co_await asio::async_write(socket_, asio::buffer(bytes.data() + sent, bytes.size() - sent),
                                                    kNoThrow);
  co_return rest_error;
}

asio::awaitable<asio::error_code> Transport::SendFile(int fd, std::uint64_t offset, std::uint64_t count) {
  asio::error_code error;
  socket_.non_blocking(true, error);
  if (error) co_return error;
  while (count > 0) {
    auto position = static_cast<off_t>(offset);
    const ssize_t n = ::sendfile(socket_.native_handle(), fd, &position,
                                 static_cast<std::size_t>(std::min<std::uint64_t>(count, 1u << 30)));
    if (n > 0) {
      offset += static_cast<std::uint64_t>(n);
      count -= static_cast<std::uint64_t>(n);
    } else if (n == 0) {
      co_return asio::error::eof;  // the file shrank under us: the frame cannot be completed
    } else if (errno == EAGAIN) {
      auto [wait_error] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, kNoThrow);
      if (wait_error) co_return wait_error;
    } else if (errno != EINTR) {
      co_return asio::error_code(errno, asio::system_category());
    }
  }
  co_return asio::error_code{};
}

asio::awaitable<void> Transport::Close() {
  // No TLS close_notify exchange: a vanished client must not hold the session. Every reply that matters has
  // already been written and acknowledged by the protocol itself (quit has its own reply).
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  co_return;
}

std::string Transport::PeerName() {
  asio::error_code error;
  const auto endpoint = socket_.remote_endpoint(error);
  if (error) return "unknown";
  if (endpoint.address().is_v6()) return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

}  // namespace ferry::server
