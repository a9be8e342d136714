// Connection against a scripted TLS peer in the test: what WaitReadable and Arrived report when records are already
// received.
#include "client/connection.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>

#include "protocol/frame.h"
#include "server/tls_identity.h"
#include "support/process_probe.h"
#include "support/temp_dir.h"

namespace ferry::client {
namespace {

using protocol::Json;
using testing::TempDir;

// A TLS server on an ephemeral loopback port that sends `frames`, each with its own write (so each its own TLS
// record), then reports that they are sent and keeps the connection open until the test ends.
class ScriptedTlsPeer {
 public:
  explicit ScriptedTlsPeer(std::vector<std::string> frames)
      : context_(asio::ssl::context::tls_server), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    const Status made = server::GenerateSelfSignedIdentity(dir_ / "cert.pem", dir_ / "key.pem", "localhost");
    EXPECT_TRUE(made.ok()) << made.message();
    context_.use_certificate_chain_file(dir_ / "cert.pem");
    context_.use_private_key_file(dir_ / "key.pem", asio::ssl::context::pem);
    thread_ = std::thread([this, frames = std::move(frames)] { Serve(frames); });
  }
  ~ScriptedTlsPeer() {
    finished_.set_value();
    thread_.join();
  }
  ScriptedTlsPeer(const ScriptedTlsPeer&) = delete;
  ScriptedTlsPeer& operator=(const ScriptedTlsPeer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // Becomes ready once every frame is written (on loopback: in the client's receive queue).
  std::shared_future<void> sent() const { return sent_; }

 private:
  void Serve(const std::vector<std::string>& frames) {
    asio::error_code error;
    asio::ssl::stream<asio::ip::tcp::socket> stream(io_, context_);
    acceptor_.accept(stream.lowest_layer(), error);
    if (!error) stream.handshake(asio::ssl::stream_base::server, error);
    for (const std::string& frame : frames) {
      if (!error) asio::write(stream, asio::buffer(frame), error);
    }
    sent_promise_.set_value();
    finished_.get_future().wait();
  }

  TempDir dir_;
  asio::io_context io_;
  asio::ssl::context context_;
  asio::ip::tcp::acceptor acceptor_;
  std::promise<void> sent_promise_;
  std::shared_future<void> sent_ = sent_promise_.get_future().share();
  std::promise<void> finished_;
  std::thread thread_;
};

// A pipe that a watchdog makes readable after `delay` unless disarmed first, so that a wait that misses the
// server's bytes ends (and the test fails) instead of hanging.
class WatchdogPipe {
 public:
  explicit WatchdogPipe(std::chrono::seconds delay) {
    EXPECT_EQ(::pipe(fds_), 0);
    thread_ = std::thread([this, delay] {
      std::unique_lock lock(mutex_);
      if (!disarmed_.wait_for(lock, delay, [this] { return disarmed_flag_; })) {
        EXPECT_EQ(::write(fds_[1], "x", 1), 1);
      }
    });
  }
  ~WatchdogPipe() {
    {
      std::lock_guard lock(mutex_);
      disarmed_flag_ = true;
    }
    disarmed_.notify_all();
    thread_.join();
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  WatchdogPipe(const WatchdogPipe&) = delete;
  WatchdogPipe& operator=(const WatchdogPipe&) = delete;

  int read_fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
  std::mutex mutex_;
  std::condition_variable disarmed_;
  bool disarmed_flag_ = false;
  std::thread thread_;
};

std::string NoopReply(int id) {
  return protocol::EncodeFrame(Json{{"id", id}, {"ok", true}}, {});
}

TEST(ConnectionTls, RecordsAlreadyReceivedMakeTheServerReadable) {
  ScriptedTlsPeer peer({NoopReply(1), NoopReply(2), NoopReply(3)});
  Connection connection;
  ASSERT_TRUE(connection.Connect(HostPort{"127.0.0.1", peer.port()}, /*tls=*/true).ok());
  ASSERT_EQ(peer.sent().wait_for(std::chrono::seconds(30)), std::future_status::ready);

  // The first read takes all three records from the socket; the first decrypts into frame 1 alone.
  auto first = connection.Receive();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->header["id"], 1);

  for (const int id : {2, 3}) {
    WatchdogPipe watchdog(std::chrono::seconds(5));
    auto ready = connection.WaitReadable(watchdog.read_fd());
    ASSERT_TRUE(ready.ok()) << ready.status().message();
    EXPECT_TRUE(ready->first) << "frame " << id << " is received but the server is not reported readable";
    EXPECT_FALSE(ready->second);
    if (!ready->first) return;
    auto next = connection.Receive();
    ASSERT_TRUE(next.ok()) << next.status().message();
    EXPECT_EQ(next->header["id"], id);
  }
}

TEST(ConnectionTls, WaitReadableStillWaitsForTheOtherDescriptorWhenNothingIsBuffered) {
  ScriptedTlsPeer peer({NoopReply(1)});
  Connection connection;
  ASSERT_TRUE(connection.Connect(HostPort{"127.0.0.1", peer.port()}, /*tls=*/true).ok());
  ASSERT_EQ(peer.sent().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto first = connection.Receive();
  ASSERT_TRUE(first.ok()) << first.status().message();

  // The pipe is readable at once; nothing more comes from the server.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  auto ready = connection.WaitReadable(fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_FALSE(ready->first);
  EXPECT_TRUE(ready->second);
}

TEST(ConnectionTls, ArrivedTellsWithoutWaitingWhetherAnythingIsThere) {
  ScriptedTlsPeer peer({NoopReply(1), NoopReply(2)});
  Connection connection;
  ASSERT_TRUE(connection.Connect(HostPort{"127.0.0.1", peer.port()}, /*tls=*/true).ok());
  ASSERT_EQ(peer.sent().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Sent is not yet received (TCP may hold a small write back for a moment): the bytes are waited for on the socket
  // itself, so what Arrived finds is its own reading through the TLS layer.
  pollfd socket{connection.native_socket(), POLLIN, 0};
  ASSERT_EQ(::poll(&socket, 1, 30000), 1);
  for (const int id : {1, 2}) {
    bool arrived = false;
    Status status = Status::Ok();
    EXPECT_TRUE(testing::WaitUntil([&] {
      auto now = connection.Arrived();
      if (!now.ok()) status = now.status();
      arrived = now.ok() && *now;
      return arrived || !status.ok();
    }, std::chrono::seconds(30))) << "frame " << id << " was sent but is never reported";
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_TRUE(arrived);
    auto next = connection.Receive();
    ASSERT_TRUE(next.ok()) << next.status().message();
    EXPECT_EQ(next->header["id"], id);
  }
  // Nothing more comes, and the connection stays open: the answer is no, at once.
  auto arrived = connection.Arrived();
  ASSERT_TRUE(arrived.ok()) << arrived.status().message();
  EXPECT_FALSE(*arrived);
}

}  // namespace
}  // namespace ferry::client
