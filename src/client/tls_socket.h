// TlsSocket: the TCP socket under the client's TLS stream, blocking except for reads asked not to wait.
//
// asio's ssl::stream keeps input of its own that neither SSL_pending nor poll(2) on the socket can see: up to 17 KB
// read from the socket in one go (its stream_core input buffer) and the records waiting in its BIO pair. A caller
// that polls the socket while a whole record sits there waits for bytes it already has. So before it polls, the
// client reads from the TLS stream with this socket in "don't wait" mode: asio's io loop (asio/ssl/detail/io.hpp)
// feeds the engine what it holds and calls read_some on the socket only once it holds no complete record; that call
// then fails with would_block, the engine is left in SSL_ERROR_WANT_READ, and the next blocking read goes on where
// this one stopped. A would_block thus proves everything buffered was taken, so poll only waits for new bytes.
//
// Only reads skip the wait: writes always block (through asio), so output the engine produces during a read (a
// TLS 1.3 KeyUpdate answer) is never cut short by a full send buffer, as it could be on a non-blocking socket.
// Not thread-safe; the owner's thread only.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>

namespace ferry::client {

class TlsSocket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

  explicit TlsSocket(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

  // While set, read_some returns would_block at once instead of waiting for the peer.
  void set_dont_wait(bool dont_wait) { dont_wait_ = dont_wait; }

  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, asio::error_code& error) {
    if (!dont_wait_) return socket_.read_some(buffers, error);
    // asio's TLS engine reads into one buffer; the first non-empty one of a sequence is enough for read_some.
    asio::mutable_buffer into;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      into = *it;
      if (into.size() > 0) break;
    }
    if (into.size() == 0) {
      error = {};
      return 0;
    }
    ssize_t n = 0;
    do {
      n = ::recv(socket_.native_handle(), into.data(), into.size(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      error = asio::error_code(errno, asio::error::get_system_category());
      return 0;
    }
    error = n == 0 ? asio::error_code(asio::error::eof) : asio::error_code();
    return static_cast<std::size_t>(n);
  }

  template <typename ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, asio::error_code& error) {
    return socket_.write_some(buffers, error);
  }

 private:
  asio::ip::tcp::socket socket_;
  bool dont_wait_ = false;
};

}  // namespace ferry::client
