// Transport's reads over real loopback TCP connections, plain and TLS. Reads are where an event loop can lose data
// for good: with edge-triggered epoll an event comes once, so a read that decides the socket is empty and waits for
// the next event (rather than trying the socket first) never wakes if the bytes, or the end of the stream, are there
// already. A short read does not prove the socket empty: the end of the stream that came with the data is reported
// only by the next read. These tests pin every order: bytes arriving after a short read, with the loop collecting
// their event while no read was waiting or not; bytes and the end arriving together; the end alone.
#include "frontends/transport.h"

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "server/tls_identity.h"
#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

using asio::ip::tcp;
using frontends::Transport;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// Every test ends within this, passed or not: a read that missed its bytes would otherwise wait forever.
constexpr auto kLimit = std::chrono::seconds(20);

// A connected pair on 127.0.0.1: the accepted side (for the Transport, on `loop`) and the client's side.
struct Connection {
  tcp::socket server;
  tcp::socket client;
};

Connection Connect(asio::io_context& loop, asio::io_context& client_loop) {
  tcp::acceptor acceptor(loop, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(client_loop);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return {std::move(server), std::move(client)};
}

// Returns to the event loop for a moment, so that it waits in epoll and collects whatever events are pending,
// including those of the transport's socket while no read is waiting on it.
asio::awaitable<void> LetTheLoopPoll() {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
  co_await timer.async_wait(kNoThrow);
}

asio::awaitable<std::string> ReadString(Transport& transport) {
  char buffer[4096];
  auto [error, n] = co_await transport.ReadSome(buffer, sizeof buffer);
  if (error) co_return "error: " + error.message();
  co_return std::string(buffer, n);
}

class TransportTest : public ::testing::Test {
 protected:
  asio::io_context loop_{1};
  asio::io_context client_loop_{1};
  Connection connection_ = Connect(loop_, client_loop_);
  tcp::socket& client_ = connection_.client;
};

// Runs `body` on `loop` until it finishes; fails the test if it has not within kLimit. (The tests pass a lambda's
// coroutine: the lambda, a temporary, lives until RunToEnd returns.)
void RunToEnd(asio::io_context& loop, asio::awaitable<void> body) {
  bool finished = false;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        co_await std::move(body);
        finished = true;
      },
      [](std::exception_ptr thrown) {
        if (thrown) std::rethrow_exception(thrown);
      });
  loop.run_for(kLimit);
  EXPECT_TRUE(finished) << "a read or write was still waiting after " << kLimit.count() << " s";
}

// The server's TLS identity, made fresh in a temporary folder.
struct ServerTls {
  TempDir dir;
  asio::ssl::context context{asio::ssl::context::tls_server};

  ServerTls() {
    EXPECT_TRUE(server::GenerateSelfSignedIdentity(dir / "cert.pem", dir / "key.pem", "localhost").ok());
    context.use_certificate_chain_file(dir / "cert.pem");
    context.use_private_key_file(dir / "key.pem", asio::ssl::context::pem);
  }
};

// The client's side of TLS, its handshake done (`error` says whether it failed). No certificate check: the server's
// identity is not what these tests are about.
struct TlsClient {
  asio::ssl::context context{asio::ssl::context::tls_client};
  asio::ssl::stream<tcp::socket> stream;
  asio::error_code error;

  explicit TlsClient(tcp::socket socket) : stream(std::move(socket), context) {
    stream.set_verify_mode(asio::ssl::verify_none);
    stream.handshake(asio::ssl::stream_base::client, error);
  }
};

// The other end of the connection, on a thread of its own. Finish(), after the server's side has run, closes the
// server's socket, so a peer still waiting sees the end, and waits for the peer; the destructor does the same if the
// test leaves early (an exception out of RunToEnd), so that no joinable thread is left behind to std::terminate.
class Peer {
 public:
  Peer(Transport& transport, std::function<void()> body) : transport_(transport), thread_(std::move(body)) {}
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() { Finish(); }

  void Finish() {
    if (!thread_.joinable()) return;
    asio::error_code ignored;
    transport_.socket().close(ignored);
    thread_.join();
  }

 private:
  Transport& transport_;
  std::thread thread_;
};

// Bytes no socket buffer holds at once (loopback buffers grow to a few MiB), in a pattern that shows misplaced bytes.
std::string LargePayload() {
  std::string payload(32 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131 + i / 4093) & 0xff);
  return payload;
}

// What FtpSession::FlushWithoutWaiting and Flush do with a reply: WriteNow sends what fits at once and leaves the rest
// at the front of `bytes`; the caller drops what went from its own string; WriteAll sends exactly the rest, waiting
// for room. `written` is set once WriteNow had to stop, so the peer starts reading only then.
asio::awaitable<void> WriteNowThenAll(Transport& transport, std::string output, std::promise<void>& written) {
  std::string_view rest = output;
  asio::error_code error;
  const Transport::Wait wait_for = transport.WriteNow(rest, error);
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(wait_for, Transport::Wait::kWritable);  // the buffers are full, and not because nothing went
  EXPECT_LT(rest.size(), output.size());
  output.erase(0, output.size() - rest.size());
  written.set_value();
  const auto all = co_await transport.WriteAll(output);
  EXPECT_FALSE(all) << all.message();
}

TEST_F(TransportTest, BytesArrivingAfterAShortReadAreReadWhetherOrNotTheLoopPolledInBetween) {
  Transport transport(std::move(connection_.server));
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    asio::write(client_, asio::buffer(std::string("first")));
    EXPECT_EQ(co_await ReadString(transport), "first");  // short: the socket is empty now
    // Sent before the next read starts, and its epoll event collected by the loop while nothing reads.
    asio::write(client_, asio::buffer(std::string("second")));
    co_await LetTheLoopPoll();
    EXPECT_EQ(co_await ReadString(transport), "second");
    // Sent before the next read starts, its event not yet collected.
    asio::write(client_, asio::buffer(std::string("third")));
    EXPECT_EQ(co_await ReadString(transport), "third");
    // Sent while the read waits.
    asio::steady_timer later(loop_, std::chrono::milliseconds(5));
    later.async_wait([&](const asio::error_code&) { asio::write(client_, asio::buffer(std::string("fourth"))); });
    EXPECT_EQ(co_await ReadString(transport), "fourth");
    // The end of the connection, after a short read and a poll: an error (eof), not a wait.
    asio::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    co_await LetTheLoopPoll();
    EXPECT_EQ(co_await ReadString(transport), "error: " + asio::error_code(asio::error::eof).message());
  }());
}

TEST_F(TransportTest, BytesAndTheEndArrivingTogetherAreBothRead) {
  Transport transport(std::move(connection_.server));
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    asio::write(client_, asio::buffer(std::string("first")));
    EXPECT_EQ(co_await ReadString(transport), "first");
    // The last bytes and the end, both in before the loop polls: one epoll event for both. The read that returns
    // the bytes comes back short, and the end must still be seen by the next read.
    asio::write(client_, asio::buffer(std::string("last")));
    asio::error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    co_await LetTheLoopPoll();
    EXPECT_EQ(co_await ReadString(transport), "last");
    EXPECT_EQ(co_await ReadString(transport), "error: " + asio::error_code(asio::error::eof).message());
  }());
}

TEST_F(TransportTest, AFullReadLeavesTheRestToTheNextRead) {
  Transport transport(std::move(connection_.server));
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    asio::write(client_, asio::buffer(std::string("0123456789")));
    char four[4];
    auto [error, n] = co_await transport.ReadSome(four, sizeof four);  // full: more may be there, and is
    EXPECT_FALSE(error);
    EXPECT_EQ(std::string(four, n), "0123");
    EXPECT_TRUE(transport.MoreArrived());
    co_await LetTheLoopPoll();
    EXPECT_EQ(co_await ReadString(transport), "456789");
    EXPECT_FALSE(transport.MoreArrived());
  }());
}

TEST_F(TransportTest, WhatAWriteLeavesForLaterIsSentWholeAndInOrder) {
  const std::string payload = LargePayload();
  Transport transport(std::move(connection_.server));
  std::promise<void> written;
  std::string received;
  Peer reader(transport, [&] {
    written.get_future().wait_for(kLimit);
    char buffer[65536];
    ssize_t n;
    while ((n = ::recv(client_.native_handle(), buffer, sizeof buffer, 0)) > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    }
  });
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    co_await WriteNowThenAll(transport, payload, written);
    co_await transport.Close();
  }());
  reader.Finish();
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST_F(TransportTest, OverTlsWhatAWriteLeavesForLaterIsSentWholeAndInOrder) {
  const std::string payload = LargePayload();
  ServerTls tls;
  Transport transport(std::move(connection_.server), tls.context.native_handle());
  std::promise<void> written;
  std::string received;
  asio::error_code ended;  // how the client's read ended
  Peer reader(transport, [&] {
    TlsClient client(std::move(connection_.client));
    ended = client.error;
    if (client.error) return;  // the test reports the failed handshake
    written.get_future().wait_for(kLimit);
    asio::read(client.stream, asio::dynamic_buffer(received), ended);
  });
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    const auto handshake = co_await transport.Handshake();
    EXPECT_FALSE(handshake) << handshake.message();
    if (handshake) {
      written.set_value();  // the client, if its side finished, stops waiting
      co_return;
    }
    co_await WriteNowThenAll(transport, payload, written);
    co_await transport.SendCloseNotify();
    co_await transport.Close();
  }());
  reader.Finish();
  // The stream ended at the server's close_notify (eof), not at a bare close (stream_truncated) or an error.
  EXPECT_EQ(ended, asio::error_code(asio::error::eof)) << ended.message();
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

// The TLS client runs on its own thread (its handshake and writes block); two promises hand the turn back and forth
// (each wait bounded, so a failure on one side cannot hang the other).
TEST_F(TransportTest, OverTlsRecordsAndTheEndArrivingAfterAShortReadAreRead) {
  ServerTls tls;
  Transport transport(std::move(connection_.server), tls.context.native_handle());

  std::promise<void> first_read, second_sent;
  Peer client_thread(transport, [&] {
    TlsClient client(std::move(connection_.client));
    if (client.error) {
      first_read.get_future().wait_for(kLimit);  // the test reports the failed handshake
      second_sent.set_value();
      return;
    }
    asio::error_code error;
    asio::write(client.stream, asio::buffer(std::string("first")), error);
    first_read.get_future().wait_for(kLimit);
    asio::write(client.stream, asio::buffer(std::string("second")), error);
    // The end of the stream right behind the record (no close_notify: a client that just goes away).
    client.stream.next_layer().shutdown(tcp::socket::shutdown_send, error);
    second_sent.set_value();
  });
  RunToEnd(loop_, [&]() -> asio::awaitable<void> {
    const auto handshake = co_await transport.Handshake();
    EXPECT_FALSE(handshake) << handshake.message();
    if (!handshake) {
      EXPECT_EQ(co_await ReadString(transport), "first");
    }
    first_read.set_value();
    // The client's record and the end are in the socket before the next read; the loop polls (and takes their event)
    // first.
    second_sent.get_future().wait_for(kLimit);
    co_await LetTheLoopPoll();
    if (!handshake) {
      EXPECT_EQ(co_await ReadString(transport), "second");
      EXPECT_EQ((co_await ReadString(transport)).substr(0, 7), "error: ");  // the end, not a wait
    }
  }());
  client_thread.Finish();
}

}  // namespace
}  // namespace ferry::testing
