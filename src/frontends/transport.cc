#include "frontends/transport.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>
#include <openssl/err.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>

namespace ferry::frontends {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

int ClampToInt(std::size_t n) {
  return static_cast<int>(std::min<std::size_t>(n, INT_MAX));
}

// What a failed SSL_* call means, as an error code: eof for a closed connection, else OpenSSL's reason or errno.
asio::error_code SslFailure(int ssl_error, int saved_errno) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const unsigned long code = ::ERR_get_error();
  ::ERR_clear_error();
  if (code != 0) return asio::error_code(static_cast<int>(code), asio::error::get_ssl_category());
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) return asio::error_code(saved_errno, asio::system_category());
  return asio::error::eof;  // the peer closed without a TLS close_notify
}

bool WantsIo(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

// What OpenSSL's SSL_ERROR_WANT_READ or _WANT_WRITE asks to wait for. REQUIRES: WantsIo(ssl_error).
Transport::Wait WaitOf(int ssl_error) {
  return ssl_error == SSL_ERROR_WANT_READ ? Transport::Wait::kReadable : Transport::Wait::kWritable;
}

// Bytes asio reads for OpenSSL when it had to wait for data: a request or two, or the start of a stream (the rest of
// which OpenSSL then reads from the socket itself).
constexpr std::size_t kStagingSize = 4096;

}  // namespace

struct Transport::TlsIo {
  int fd = -1;
  // Read by asio after a wait, not yet taken by OpenSSL: staging[begin, end).
  std::unique_ptr<char[]> staging;
  std::size_t begin = 0;
  std::size_t end = 0;
  // The last read came back short (or with EAGAIN): the socket holds nothing more until epoll says so.
  bool drained = false;

  static int Read(BIO* bio, char* out, int size);
  static int Write(BIO* bio, const char* in, int size);
  static long Control(BIO* bio, int command, long number, void* pointer);
  static BIO_METHOD* Method();
};

int Transport::TlsIo::Read(BIO* bio, char* out, int size) {
  auto* io = static_cast<TlsIo*>(::BIO_get_data(bio));
  ::BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  if (io->begin < io->end) {
    const auto n = std::min(static_cast<std::size_t>(size), io->end - io->begin);
    std::memcpy(out, io->staging.get() + io->begin, n);
    io->begin += n;
    return static_cast<int>(n);
  }
  if (io->drained) {
    ::BIO_set_retry_read(bio);  // wait on the event loop (WaitFor), without asking the socket again first
    return -1;
  }
  while (true) {
    const ssize_t n = ::recv(io->fd, out, static_cast<std::size_t>(size), 0);
    if (n >= 0) {
      io->drained = n < size;  // with read-ahead OpenSSL asks for all its buffer holds: short means empty
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      io->drained = true;
      ::BIO_set_retry_read(bio);
    }
    return -1;  // otherwise errno says why (SslFailure)
  }
}

int Transport::TlsIo::Write(BIO* bio, const char* in, int size) {
  auto* io = static_cast<TlsIo*>(::BIO_get_data(bio));
  ::BIO_clear_retry_flags(bio);
  while (true) {
    const ssize_t n = ::send(io->fd, in, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) ::BIO_set_retry_write(bio);
    return -1;
  }
}

long Transport::TlsIo::Control(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // writes go straight to the socket: nothing to flush
}

BIO_METHOD* Transport::TlsIo::Method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = ::BIO_meth_new(::BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ferry socket");
    ::BIO_meth_set_read(m, &TlsIo::Read);
    ::BIO_meth_set_write(m, &TlsIo::Write);
    ::BIO_meth_set_ctrl(m, &TlsIo::Control);
    return m;
  }();
  return method;
}

void Transport::TlsIoFree::operator()(TlsIo* io) const {
  delete io;
}

void Transport::SslFree::operator()(SSL* ssl) const {
  ::SSL_free(ssl);
}

Transport::Transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

Transport::Transport(asio::ip::tcp::socket socket, SSL_CTX* context)
    : socket_(std::move(socket)), tls_(true), io_(new TlsIo), ssl_(::SSL_new(context)) {
  io_->fd = socket_.native_handle();
  BIO* bio = ssl_ ? ::BIO_new(TlsIo::Method()) : nullptr;
  if (bio == nullptr) {
    ssl_.reset();  // Handshake() reports it
    return;
  }
  ::BIO_set_data(bio, io_.get());
  ::BIO_set_init(bio, 1);
  ::SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL from here on
  ::SSL_set_accept_state(ssl_.get());
  // Read whole socket buffers at a time (several records per read system call); let a write return after each
  // record so a large buffer goes out as the socket takes it; free the buffers while the connection is idle.
  ::SSL_set_read_ahead(ssl_.get(), 1);
  ::SSL_set_mode(ssl_.get(),
                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

Transport::~Transport() = default;

asio::awaitable<asio::error_code> Transport::WaitFor(Wait what) {
  if (what == Wait::kWritable) {
    // Only after a send(2) that found the buffer full: the next room made is a new edge for epoll.
    auto [error] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, kNoThrow);
    co_return error;
  }
  // asio's read tries the socket once, then waits for epoll without re-registering the socket (an async_wait would
  // call epoll_ctl each time). That one try matters even after a short read: a short read does not prove the socket
  // empty, since the end of the stream (or an error) that came with the data is only reported by the next read, and
  // no epoll event will come for it again.
  if (!io_->staging) io_->staging = std::make_unique_for_overwrite<char[]>(kStagingSize);
  auto [error, n] = co_await socket_.async_read_some(asio::buffer(io_->staging.get(), kStagingSize), kNoThrow);
  if (error) co_return error;
  io_->begin = 0;
  io_->end = n;
  io_->drained = n < kStagingSize;
  co_return asio::error_code{};
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
    if (auto wait_error = co_await WaitFor(WaitOf(ssl_error))) co_return wait_error;
  }
}

asio::awaitable<std::tuple<asio::error_code, std::size_t>> Transport::ReadSome(char* data, std::size_t size) {
  if (!tls_) {
    auto [error, n] = co_await socket_.async_read_some(asio::buffer(data, size), kNoThrow);
    drained_ = n < size;  // short: the socket held no more
    co_return std::tuple(error, n);
  }
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
    if (auto wait_error = co_await WaitFor(WaitOf(ssl_error))) co_return std::tuple(wait_error, std::size_t{0});
  }
  ::ERR_clear_error();
  co_return std::tuple(asio::error_code{}, n);
}

bool Transport::MoreArrived() {
  if (tls_ && (io_->begin < io_->end || ::SSL_has_pending(ssl_.get()) != 0)) return true;
  // A short read found the socket empty. A full one may have taken its last bytes (OpenSSL asks for exactly what a
  // record still lacks), so only then is the socket asked.
  if (tls_ ? io_->drained : drained_) return false;
  asio::error_code error;
  return socket_.available(error) > 0 && !error;
}

Transport::Wait Transport::WriteNow(std::string_view& bytes, asio::error_code& error) {
  error.clear();
  if (!socket_.non_blocking()) socket_.non_blocking(true, error);
  if (error) return Wait::kNone;
  if (!tls_) {
    // One send(2), which nearly always takes everything (a reply is small, the socket buffer large).
    bytes.remove_prefix(socket_.write_some(asio::buffer(bytes), error));
    if (error == asio::error::would_block || error == asio::error::try_again) {
      error.clear();
      return Wait::kWritable;
    }
    if (error || bytes.empty()) return Wait::kNone;
    return Wait::kWritable;  // the buffer took only part
  }
  while (!bytes.empty()) {
    ::ERR_clear_error();
    const int result = ::SSL_write(ssl_.get(), bytes.data(), ClampToInt(bytes.size()));
    if (result > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(result));
      continue;
    }
    const int saved_errno = errno;
    const int ssl_error = ::SSL_get_error(ssl_.get(), result);
    // After a WANT_*, OpenSSL must be given the same bytes again: they are still at the front of `bytes`.
    if (WantsIo(ssl_error)) return WaitOf(ssl_error);
    error = SslFailure(ssl_error, saved_errno);
    return Wait::kNone;
  }
  return Wait::kNone;
}

asio::awaitable<asio::error_code> Transport::WriteAll(std::string_view bytes) {
  while (true) {
    asio::error_code error;
    const Wait wait_for = WriteNow(bytes, error);
    if (wait_for == Wait::kNone) co_return error;
    if (auto wait_error = co_await WaitFor(wait_for)) co_return wait_error;
  }
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

asio::awaitable<asio::error_code> Transport::SendCloseNotify() {
  if (!tls_ || !ssl_) co_return asio::error_code{};
  while (true) {
    ::ERR_clear_error();
    const int result = ::SSL_shutdown(ssl_.get());
    if (result >= 0) break;  // 0: ours is sent (the peer's has not come); 1: both
    const int saved_errno = errno;
    const int ssl_error = ::SSL_get_error(ssl_.get(), result);
    if (ssl_error != SSL_ERROR_WANT_WRITE) co_return SslFailure(ssl_error, saved_errno);
    if (auto wait_error = co_await WaitFor(WaitOf(ssl_error))) co_return wait_error;
  }
  ::ERR_clear_error();
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

}  // namespace ferry::frontends
