// Transport: one accepted connection, plain TCP or TLS, behind the few awaitable operations a session needs.
// Owned by exactly one session coroutine; all calls happen on that coroutine's executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include <openssl/ssl.h>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace ferry::frontends {

class Transport {
 public:
  // Plain TCP.
  explicit Transport(asio::ip::tcp::socket socket);
  // TLS, server side, over `context`: Handshake() starts it. OpenSSL reads and writes the socket through a BIO of
  // ours (non-blocking, with read-ahead): no copy through an intermediate buffer, several records per read system
  // call, and an answer costs one write. The BIO remembers when a read came back short; the next wait for data then
  // goes through asio's own read, as on plain TCP: a request costs one read(2) that finds the socket empty (asio's
  // try before it waits, which also catches an end of stream that came with the last data), not two, and no
  // epoll_ctl.
  Transport(asio::ip::tcp::socket socket, SSL_CTX* context);
  Transport(Transport&&) = default;
  Transport& operator=(Transport&&) = default;
  ~Transport();

  // TLS: the server side of the handshake. Plain: nothing.
  asio::awaitable<asio::error_code> Handshake();
  // Reads what is available, at most `size` bytes. An error (eof included) means the connection is over.
  asio::awaitable<std::tuple<asio::error_code, std::size_t>> ReadSome(char* data, std::size_t size);
  // Whether more of the peer's bytes are here already, so the next ReadSome returns without waiting: over TLS, bytes
  // taken from the socket and not yet decrypted; otherwise bytes in the socket. After a read that came back short
  // (the socket was empty) this is known without a system call; after a full one the socket is asked (FIONREAD).
  bool MoreArrived();
  // Writes all of `bytes`.
  // REQUIRES: `bytes` stays valid until the returned awaitable completes.
  asio::awaitable<asio::error_code> WriteAll(std::string_view bytes);
  // What the connection must be able to do before a stopped write (or TLS handshake or read) can go on. Over TLS a
  // write may have to wait for the socket to be readable, as OpenSSL asks (SSL_ERROR_WANT_READ).
  enum class Wait { kNone, kReadable, kWritable };
  // Writes what the connection takes without waiting (a reply nearly always goes out whole) and removes it from
  // the front of `bytes`. Returns kNone when all is written or on `error`; otherwise what to wait for: then
  // WriteAll must finish the rest, which starts with exactly the bytes left here.
  Wait WriteNow(std::string_view& bytes, asio::error_code& error);
  // True when SendFile works: a plain TCP connection (TLS data must pass through OpenSSL).
  bool can_send_file() const { return !tls_; }
  // Sends `count` bytes of `fd` from `offset` with sendfile(2): the kernel moves them from the page cache to the
  // socket without a copy through this process. An error if the file ends early. REQUIRES: can_send_file().
  asio::awaitable<asio::error_code> SendFile(int fd, std::uint64_t offset, std::uint64_t count);
  // TLS: sends a close_notify, so the peer can tell the end of the data from a cut connection (FTPS data
  // connections end this way); the peer's own close_notify is not waited for. Plain: nothing.
  asio::awaitable<asio::error_code> SendCloseNotify();
  // Ends the connection: shuts the socket down and closes it.
  asio::awaitable<void> Close();

  asio::ip::tcp::socket& socket() { return socket_; }
  // The TLS connection (null on plain TCP), for what a protocol adds to it before the handshake.
  SSL* native_ssl() { return ssl_.get(); }
  // "ADDRESS:PORT" of the peer, or "unknown".
  std::string PeerName();

 private:
  struct SslFree {
    void operator()(SSL* ssl) const;
  };
  // What the TLS BIO works with; on the heap, so it stays put when the Transport moves.
  struct TlsIo;
  struct TlsIoFree {
    void operator()(TlsIo* io) const;
  };
  // Waits until the socket can do `what`; when readable, takes in what arrived (for OpenSSL). Plain TCP waits only
  // to be writable (WriteNow). REQUIRES: what != Wait::kNone.
  asio::awaitable<asio::error_code> WaitFor(Wait what);

  asio::ip::tcp::socket socket_;
  bool tls_ = false;
  bool drained_ = true;  // plain TCP: the last read came back short
  std::unique_ptr<TlsIo, TlsIoFree> io_;  // TLS only
  std::unique_ptr<SSL, SslFree> ssl_;     // TLS only; null if it could not be set up
};

}  // namespace ferry::frontends
