#include "server/transport.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <cerrno>

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace ferry::server {
namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<asio::error_code> Transport::Handshake() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    auto [error] = co_await tls->async_handshake(asio::ssl::stream_base::server, kNoThrow);
    co_return error;
  }
  co_return asio::error_code{};
}

asio::awaitable<std::tuple<asio::error_code, std::size_t>> Transport::ReadSome(char* data, std::size_t size) {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    auto [error, n] = co_await tls->async_read_some(asio::buffer(data, size), kNoThrow);
    if (error) co_return std::tuple(error, n);
    // One read yields one TLS record (16 KiB at most), but the socket read behind it took in whatever had arrived.
    // Decrypt the records already here too, without waiting: pipelined requests are then handled, and answered,
    // together. SSL_read on the stream's own SSL object reads only the bytes buffered in it (a memory BIO); when a
    // record is incomplete it stops, and the next read waits for the rest as usual.
    SSL* ssl = tls->native_handle();
    while (n < size) {
      ::ERR_clear_error();
      const int more = ::SSL_read(ssl, data + n, static_cast<int>(std::min<std::size_t>(size - n, 1 << 30)));
      if (more <= 0) break;  // nothing complete buffered, or an error the next read will report
      n += static_cast<std::size_t>(more);
    }
    ::ERR_clear_error();
    co_return std::tuple(asio::error_code{}, n);
  }
  co_return co_await std::get<asio::ip::tcp::socket>(stream_).async_read_some(asio::buffer(data, size), kNoThrow);
}

asio::awaitable<asio::error_code> Transport::WriteAll(const std::string& bytes) {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    auto [error, n] = co_await asio::async_write(*tls, asio::buffer(bytes), kNoThrow);
    co_return error;
  }
  // Plain TCP: one send(2) straight away, which nearly always takes everything (a reply is small, the socket buffer
  // large). Only the rest, if any, waits on the event loop; so a request costs no handler hand-off for its reply.
  auto& socket = std::get<asio::ip::tcp::socket>(stream_);
  asio::error_code error;
  if (!socket.non_blocking()) socket.non_blocking(true, error);
  if (error) co_return error;
  const std::size_t sent = socket.write_some(asio::buffer(bytes), error);
  if (error == asio::error::would_block || error == asio::error::try_again) {
    error.clear();
  } else if (error) {
    co_return error;
  }
  if (sent == bytes.size()) co_return asio::error_code{};
  auto [rest_error, n] = co_await asio::async_write(socket, asio::buffer(bytes.data() + sent, bytes.size() - sent),
                                                    kNoThrow);
  co_return rest_error;
}

asio::awaitable<asio::error_code> Transport::SendFile(int fd, std::uint64_t offset, std::uint64_t count) {
  auto& socket = std::get<asio::ip::tcp::socket>(stream_);
  asio::error_code error;
  socket.non_blocking(true, error);
  if (error) co_return error;
  while (count > 0) {
    auto position = static_cast<off_t>(offset);
    const ssize_t n = ::sendfile(socket.native_handle(), fd, &position,
                                 static_cast<std::size_t>(std::min<std::uint64_t>(count, 1u << 30)));
    if (n > 0) {
      offset += static_cast<std::uint64_t>(n);
      count -= static_cast<std::uint64_t>(n);
    } else if (n == 0) {
      co_return asio::error::eof;  // the file shrank under us: the frame cannot be completed
    } else if (errno == EAGAIN) {
      auto [wait_error] = co_await socket.async_wait(asio::ip::tcp::socket::wait_write, kNoThrow);
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
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
  co_return;
}

asio::ip::tcp::socket& Transport::socket() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
  return std::get<asio::ip::tcp::socket>(stream_);
}

std::string Transport::PeerName() {
  asio::error_code error;
  const auto endpoint = socket().remote_endpoint(error);
  if (error) return "unknown";
  if (endpoint.address().is_v6()) return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

}  // namespace ferry::server
