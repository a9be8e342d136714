// Transport: one accepted connection, plain TCP or TLS, behind the few awaitable operations a session needs.
// Owned by exactly one session coroutine; all calls happen on that coroutine's executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <variant>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>

namespace ferry::server {

class Transport {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  explicit Transport(asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}
  explicit Transport(TlsStream stream) : stream_(std::move(stream)) {}

  // TLS: the server side of the handshake. Plain: nothing.
  asio::awaitable<asio::error_code> Handshake();
  // Reads what is available, at most `size` bytes. An error (eof included) means the connection is over.
  asio::awaitable<std::tuple<asio::error_code, std::size_t>> ReadSome(char* data, std::size_t size);
  // Writes all of `bytes`.
  asio::awaitable<asio::error_code> WriteAll(const std::string& bytes);
  // True when SendFile works: a plain TCP connection (TLS data must pass through OpenSSL).
  bool can_send_file() const { return std::holds_alternative<asio::ip::tcp::socket>(stream_); }
  // Sends `count` bytes of `fd` from `offset` with sendfile(2): the kernel moves them from the page cache to the
  // socket without a copy through this process. An error if the file ends early. REQUIRES: can_send_file().
  asio::awaitable<asio::error_code> SendFile(int fd, std::uint64_t offset, std::uint64_t count);
  // Ends the connection: shuts the socket down and closes it.
  asio::awaitable<void> Close();

  asio::ip::tcp::socket& socket();
  // "ADDRESS:PORT" of the peer, or "unknown".
  std::string PeerName();

 private:
  std::variant<asio::ip::tcp::socket, TlsStream> stream_;
};

}  // namespace ferry::server
