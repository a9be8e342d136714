// Connection: the client's end of one Ferry connection, plain TCP or TLS, with blocking calls.
//
// Requests get increasing ids; Call() sends one and waits for its reply, and Send()/Receive() let a caller keep
// several in flight. Not thread-safe: one thread uses one connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>

#include "client/tls_socket.h"
#include "common/host_port.h"
#include "common/status.h"
#include "protocol/frame_decoder.h"
#include "protocol/operations.h"

namespace ferry::client {

using protocol::Json;

class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `address`; with `tls`, completes a TLS 1.3 handshake. The server's certificate is NOT verified
  // here: the caller checks server_fingerprint() against known_hosts before sending anything secret.
  Status Connect(const HostPort& address, bool tls);
  // The SHA256 fingerprint of the server's certificate ("" on a plain connection).
  const std::string& server_fingerprint() const { return fingerprint_; }

  // Negotiates the protocol version. Returns the hello reply (version, server, limits).
  Result<protocol::HelloReply> Hello();
  // Logs in. EAUTH for a wrong user or password.
  Status Login(const std::string& user, const std::string& password);
  // Logs in with a key: `key_text` ("TYPE BASE64") and `signature` (an SSH signature blob of KeyLoginData).
  Status LoginWithKey(const std::string& user, const std::string& key_text, const std::string& signature);
  // The TLS exporter value a key login signs; "" on a plain connection.
  Result<std::string> TlsBinding();

  // Sends one request (an "id" is assigned and returned) and waits for its reply. An error reply becomes the
  // returned Status. Replies to other ids arriving meanwhile are an EPROTO error (use Send/Receive to pipeline).
  Result<Json> Call(Json request);
  // Call for a typed request (protocol/operations.h) whose reply has fields: the reply parsed as `Reply`, EPROTO
  // naming a required field the server left out.
  template <typename Reply, typename Request>
  Result<Reply> Call(const Request& request) {
    auto reply = Call(request.Encode());
    if (!reply.ok()) return reply.status();
    return Reply::Parse(*reply);
  }
  // Like Call for requests answered by several frames ("more": true on all but the last); `on_frame` sees each.
  Status CallStream(Json request, const std::function<Status(const protocol::Frame&)>& on_frame);
  // The frames of request `id`, already sent (several may be in flight: replies come in request order).
  Status ReceiveStream(std::uint64_t id, const std::function<Status(const protocol::Frame&)>& on_frame);

  // Sends one request with an optional body, returning its id.
  Result<std::uint64_t> Send(Json request, std::string_view body = {});
  // Sends a frame as it is, without an id (upload data).
  Status SendFrame(Json header, std::string_view body = {});
  // While a Gathering lives, what Send and SendFrame write is gathered and goes out together: when it passes
  // kGatherLimit, before anything is read or waited for, and when the outermost Gathering ends. Many small requests
  // then cost a few writes (and TLS records) instead of one each.
  class Gathering {
   public:
    explicit Gathering(Connection& connection)
        : connection_(connection), outer_(std::exchange(connection.gathering_, true)) {}
    ~Gathering() {
      connection_.gathering_ = outer_;
      if (!outer_) connection_.FlushGathered();  // a failure marks the connection broken: the next call says so
    }
    Gathering(const Gathering&) = delete;
    Gathering& operator=(const Gathering&) = delete;

   private:
    Connection& connection_;
    bool outer_;  // whether a Gathering was already in force
  };
  static constexpr std::size_t kGatherLimit = 64 * 1024;
  // Waits for the next frame from the server.
  Result<protocol::Frame> Receive();
  // Waits for the next frame, which must answer request `id` (replies come in request order); an error reply
  // becomes the returned Status.
  Result<protocol::Frame> AwaitReply(std::uint64_t id);
  // The same for a frame whose body may be large (download data): the body is not gathered but handed to
  // `on_body` in pieces as they arrive, read from the socket straight into one buffer. Returns the header (its
  // frame's body left empty). Once `on_body` returns false, the rest of the body is read and dropped, so the
  // connection stays in step; the caller keeps its own record of why.
  Result<protocol::Frame> AwaitReplyStreaming(std::uint64_t id,
                                              const std::function<bool(std::string_view)>& on_body);

  // Waits until the server has sent something (Receive then has bytes to start on) or `other_fd` (if >= 0) is
  // readable. Returns {server, other}: which of the two are ready. Bytes already received count, including those the
  // TLS layer holds undecrypted, which poll(2) on the socket cannot see. With `return_on_signal`, a signal caught
  // while waiting returns at once (with {false, false} when nothing had arrived), so the caller can look at what its
  // handler recorded.
  Result<std::pair<bool, bool>> WaitReadable(int other_fd, bool return_on_signal = false);
  // Whether the server has sent something not yet received, found without waiting: what lets a caller read the
  // answers that are there and go on with other work when none is.
  Result<bool> Arrived();

  // Sends quit and waits for its reply; errors are ignored (the session ends either way).
  void Quit();
  bool connected() const { return connected_; }
  // The TCP socket's descriptor (-1 when not connected), for a Ctrl-C to shut down (see interrupt.h).
  int native_socket();
  // Marks the connection unusable (after a Ctrl-C shut its socket down mid-command): only a new one can go on.
  void Abandon() { connected_ = false; }

  // The last error reply the server sent (OK when none since ForgetRefusal): what tells a remote file error from a
  // local one when a command fails.
  const Status& last_refusal() const { return last_refusal_; }
  void ForgetRefusal() { last_refusal_ = Status::Ok(); }

 private:
  // Sends `bytes`, or gathers them while a Gathering lives.
  Status WriteAll(const std::string& bytes);
  Status WriteNow(const std::string& bytes);
  // Sends what a Gathering holds.
  Status FlushGathered();
  Result<std::size_t> ReadSome(char* data, std::size_t size);
  Status Broken(const std::string& what, const asio::error_code& error);
  // TLS only: decrypts whatever the TLS layer and the socket hold right now into the decoder, without waiting.
  // True if anything arrived; false when a read would have to wait for the server.
  Result<bool> ReadAvailable();
  // The buffer reads from the socket go into, made on first use.
  char* ReadBuffer();
  // Whether a reply has bytes here already, above the socket: in the decoder or, over TLS, in the TLS layer or the
  // socket (read without waiting). False on a plain connection whose decoder is empty: its socket is the caller's to
  // poll. Sends what is gathered first, since an answer may wait for it.
  Result<bool> AlreadyReceived();
  // Decodes the next frame, reading from the server as needed; with `body_len`, only its head (its body is then
  // the caller's to consume, see FrameDecoder::NextHead).
  Result<protocol::Frame> ReceiveNext(std::uint64_t* body_len);
  // An error the server sent with no request id, the last thing it says: one saying it shuts down ends the connection.
  Status Farewell(Status status);
  // `frame` if it answers request `id` successfully; else the server's error, or EPROTO for a stray id.
  Result<protocol::Frame> MatchReply(std::uint64_t id, protocol::Frame frame);

  asio::io_context io_;
  asio::ssl::context tls_context_;
  std::unique_ptr<asio::ip::tcp::socket> plain_;
  std::unique_ptr<asio::ssl::stream<TlsSocket>> tls_;
  std::string fingerprint_;
  protocol::FrameDecoder decoder_;
  std::unique_ptr<char[]> read_buffer_;  // kReadChunk bytes once anything is read (ReadBuffer)
  std::uint64_t next_id_ = 1;
  bool connected_ = false;
  bool gathering_ = false;
  std::string gathered_;
  Status last_refusal_ = Status::Ok();
};

}  // namespace ferry::client
