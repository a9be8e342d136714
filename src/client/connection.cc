#include "client/connection.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <cerrno>
#include <utility>

#include <asio/connect.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "common/ssh_signature.h"
#include "common/tls_fingerprint.h"

namespace ferry::client {
namespace {

constexpr std::size_t kReadChunk = 1024 * 1024;

protocol::FrameLimits ClientLimits() {
  protocol::FrameLimits limits;
  limits.max_header = 1024 * 1024;
  limits.max_body = 64 * 1024 * 1024;
  limits.max_depth = 32;
  return limits;
}

}  // namespace

Connection::Connection() : tls_context_(asio::ssl::context::tls_client), decoder_(ClientLimits()) {
  SSL_CTX_set_min_proto_version(tls_context_.native_handle(), TLS1_3_VERSION);
  // Identity is checked by fingerprint against known_hosts (trust on first use), not against a CA.
  tls_context_.set_verify_mode(asio::ssl::verify_none);
}

Connection::~Connection() = default;

Status Connection::Broken(const std::string& what, const asio::error_code& error) {
  connected_ = false;
  if (error == asio::error::eof || error == asio::ssl::error::stream_truncated) {
    return Status(ErrorCode::kIo, fmt::format("{}: connection closed by the server", what));
  }
  return Status(ErrorCode::kIo, fmt::format("{}: {}", what, error.message()));
}

Status Connection::Connect(const HostPort& address, bool tls) {
  asio::error_code error;
  asio::ip::tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(address.host, std::to_string(address.port), error);
  if (error) return Status(ErrorCode::kNotFound, fmt::format("cannot resolve {}: {}", address.host, error.message()));
  asio::ip::tcp::socket socket(io_);
  asio::connect(socket, endpoints, error);
  if (error) {
    return Status(ErrorCode::kIo, fmt::format("cannot connect to {}: {}", FormatHostPort(address), error.message()));
  }
  socket.set_option(asio::ip::tcp::no_delay(true), error);
  if (!tls) {
    plain_ = std::make_unique<asio::ip::tcp::socket>(std::move(socket));
    connected_ = true;
    return Status::Ok();
  }
  tls_ = std::make_unique<asio::ssl::stream<TlsSocket>>(std::move(socket), tls_context_);
  // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
  SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(address.host.c_str()));
  tls_->handshake(asio::ssl::stream_base::client, error);
  if (error) {
    return Status(ErrorCode::kProtocol,
                  fmt::format("TLS handshake with {} failed: {}", FormatHostPort(address), error.message()));
  }
  X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
  if (cert == nullptr) return Status(ErrorCode::kProtocol, "the server presented no certificate");
  fingerprint_ = CertificateFingerprint(cert);
  X509_free(cert);
  connected_ = true;
  return Status::Ok();
}

Status Connection::WriteAll(const std::string& bytes) {
  if (!connected_) return Status(ErrorCode::kIo, "not connected");
  if (gathering_ && bytes.size() < kGatherLimit) {
    gathered_ += bytes;
    return gathered_.size() >= kGatherLimit ? FlushGathered() : Status::Ok();
  }
  // A frame as large as a whole gathering (a large file's data) goes out as it is, after what was gathered.
  if (Status s = FlushGathered(); !s.ok()) return s;
  return WriteNow(bytes);
}

Status Connection::WriteNow(const std::string& bytes) {
  asio::error_code error;
  if (tls_) {
    asio::write(*tls_, asio::buffer(bytes), error);
  } else {
    asio::write(*plain_, asio::buffer(bytes), error);
  }
  if (error) return Broken("sending", error);
  return Status::Ok();
}

Status Connection::FlushGathered() {
  if (gathered_.empty()) return Status::Ok();
  std::string out;
  out.swap(gathered_);
  if (!connected_) return Status(ErrorCode::kIo, "not connected");
  const Status sent = WriteNow(out);
  out.clear();
  gathered_.swap(out);  // its room is kept for the next round
  return sent;
}

Result<std::size_t> Connection::ReadSome(char* data, std::size_t size) {
  if (!connected_) return Status(ErrorCode::kIo, "not connected");
  if (Status s = FlushGathered(); !s.ok()) return s;
  asio::error_code error;
  const std::size_t n =
      tls_ ? tls_->read_some(asio::buffer(data, size), error) : plain_->read_some(asio::buffer(data, size), error);
  if (error) return Broken("receiving", error);
  return n;
}

Result<std::uint64_t> Connection::Send(Json request, std::string_view body) {
  const std::uint64_t id = next_id_++;
  request["id"] = id;
  if (Status s = WriteAll(protocol::EncodeFrame(std::move(request), body)); !s.ok()) return s;
  return id;
}

Status Connection::SendFrame(Json header, std::string_view body) {
  return WriteAll(protocol::EncodeFrame(std::move(header), body));
}

Result<protocol::Frame> Connection::AwaitReply(std::uint64_t id) {
  auto frame = Receive();
  if (!frame.ok()) return frame.status();
  return MatchReply(id, std::move(frame).value());
}

Result<protocol::Frame> Connection::MatchReply(std::uint64_t id, protocol::Frame frame) {
  const Json reply_id = protocol::RequestId(frame.header);
  Status status = protocol::StatusOfReply(frame.header);
  if (!status.ok()) last_refusal_ = status;
  if (reply_id.is_null() || reply_id.get<std::uint64_t>() != id) {
    if (!status.ok()) return Farewell(status);  // the server refusing the stream itself
    connected_ = false;
    return Status(ErrorCode::kProtocol, "reply to an unexpected request id");
  }
  if (!status.ok()) return status;
  return frame;
}

Status Connection::Farewell(Status status) {
  // Said before the server closes the connection: it is over.
  if (status.code() == ErrorCode::kShuttingDown) connected_ = false;
  return status;
}

Result<protocol::Frame> Connection::AwaitReplyStreaming(std::uint64_t id,
                                                        const std::function<bool(std::string_view)>& on_body) {
  std::uint64_t body_len = 0;
  auto frame = ReceiveNext(&body_len);
  if (!frame.ok()) return frame.status();
  bool taking = true;
  const auto deliver = [&](std::string_view piece) {
    if (taking && !piece.empty()) taking = on_body(piece);
  };
  // What came in with the header first, then the rest straight from the socket, never past this body's end.
  deliver(decoder_.TakeBody(decoder_.body_remaining()));
  while (decoder_.body_remaining() > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, decoder_.body_remaining()));
    auto n = ReadSome(ReadBuffer(), want);
    if (!n.ok()) return n.status();
    decoder_.SkipBody(*n);
    deliver(std::string_view(read_buffer_.get(), *n));
  }
  return MatchReply(id, std::move(frame).value());
}

char* Connection::ReadBuffer() {
  // Not zeroed: a read writes only what arrived, so the pages of a large buffer are touched only as they are used.
  if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<char[]>(kReadChunk);
  return read_buffer_.get();
}

Result<bool> Connection::ReadAvailable() {
  if (!connected_) return Status(ErrorCode::kIo, "not connected");
  if (Status s = FlushGathered(); !s.ok()) return s;
  asio::error_code error;
  tls_->next_layer().set_dont_wait(true);
  const std::size_t n = tls_->read_some(asio::buffer(ReadBuffer(), kReadChunk), error);
  tls_->next_layer().set_dont_wait(false);
  if (error == asio::error::would_block) return false;
  if (error) return Broken("receiving", error);
  decoder_.Feed(std::string_view(read_buffer_.get(), n));
  return n > 0;
}

Result<bool> Connection::AlreadyReceived() {
  if (Status s = FlushGathered(); !s.ok()) return s;  // an answer may wait for what is still gathered
  // Polling the socket is only right once nothing is buffered above it: neither in the decoder nor, over TLS,
  // anywhere inside the TLS layer (see TlsSocket for why SSL_pending is not enough and why the read proves it).
  if (decoder_.buffered() > 0) return true;
  if (tls_) return ReadAvailable();  // false: a read would have had to wait
  return false;
}

Result<std::pair<bool, bool>> Connection::WaitReadable(int other_fd, bool return_on_signal) {
  auto here = AlreadyReceived();
  if (!here.ok()) return here.status();
  const bool server = *here;
  if (server && other_fd < 0) return std::pair{true, false};
  const int socket_fd = tls_ ? tls_->lowest_layer().native_handle() : plain_->native_handle();
  // With the server ready, `other_fd` is only looked at, so a busy server cannot starve it.
  pollfd fds[2] = {{server ? -1 : socket_fd, POLLIN, 0}, {other_fd, POLLIN, 0}};
  while (::poll(fds, other_fd >= 0 ? 2 : 1, server ? 0 : -1) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waiting for the server");
    if (return_on_signal) return std::pair{server, false};
  }
  return std::pair{server || fds[0].revents != 0, other_fd >= 0 && fds[1].revents != 0};
}

Result<bool> Connection::Arrived() {
  auto here = AlreadyReceived();
  if (!here.ok() || *here || tls_) return here;
  if (!connected_) return Status(ErrorCode::kIo, "not connected");
  pollfd fd{plain_->native_handle(), POLLIN, 0};
  while (::poll(&fd, 1, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waiting for the server");
  }
  return fd.revents != 0;
}

Result<protocol::Frame> Connection::Receive() { return ReceiveNext(nullptr); }

Result<protocol::Frame> Connection::ReceiveNext(std::uint64_t* body_len) {
  protocol::Frame frame;
  while (true) {
    const auto state = body_len != nullptr ? decoder_.NextHead(frame, body_len) : decoder_.Next(frame);
    if (state == protocol::FrameDecoder::State::kFrame) return frame;
    if (state == protocol::FrameDecoder::State::kError) {
      connected_ = false;
      return Status(ErrorCode::kProtocol, "malformed reply from the server: " + decoder_.error().message());
    }
    auto n = ReadSome(ReadBuffer(), kReadChunk);
    if (!n.ok()) return n.status();
    decoder_.Feed(std::string_view(read_buffer_.get(), *n));
  }
}

Status Connection::CallStream(Json request, const std::function<Status(const protocol::Frame&)>& on_frame) {
  auto id = Send(std::move(request));
  if (!id.ok()) return id.status();
  return ReceiveStream(*id, on_frame);
}

Status Connection::ReceiveStream(std::uint64_t id, const std::function<Status(const protocol::Frame&)>& on_frame) {
  while (true) {
    auto frame = Receive();
    if (!frame.ok()) return frame.status();
    const Json reply_id = protocol::RequestId(frame->header);
    if (reply_id.is_null() || reply_id.get<std::uint64_t>() != id) {
      // An id-less error is the server refusing the stream itself before closing it.
      Status status = protocol::StatusOfReply(frame->header);
      if (!status.ok()) return last_refusal_ = Farewell(status);
      return Status(ErrorCode::kProtocol, "reply to an unexpected request id");
    }
    if (Status status = protocol::StatusOfReply(frame->header); !status.ok()) return last_refusal_ = status;
    if (Status status = on_frame(*frame); !status.ok()) return status;
    const auto more = frame->header.find("more");
    if (more == frame->header.end() || !more->is_boolean() || !more->get<bool>()) return Status::Ok();
  }
}

Result<Json> Connection::Call(Json request) {
  Json reply;
  Status status = CallStream(std::move(request), [&reply](const protocol::Frame& frame) {
    reply = frame.header;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return reply;
}

Result<protocol::HelloReply> Connection::Hello() {
  return Call<protocol::HelloReply>(protocol::HelloRequest{{protocol::kProtocolVersion}, "ferry " FERRY_VERSION});
}

Status Connection::Login(const std::string& user, const std::string& password) {
  protocol::LoginRequest request;
  request.user = user;
  request.password = password;
  auto reply = Call<protocol::LoginReply>(request);
  return reply.ok() ? Status::Ok() : reply.status();
}

Status Connection::LoginWithKey(const std::string& user, const std::string& key_text, const std::string& signature) {
  protocol::LoginRequest request;
  request.user = user;
  request.key = key_text;
  request.signature = ssh::Base64(signature);
  auto reply = Call<protocol::LoginReply>(request);
  return reply.ok() ? Status::Ok() : reply.status();
}

Result<std::string> Connection::TlsBinding() {
  if (!tls_) return std::string();
  std::string value(32, '\0');
  if (SSL_export_keying_material(tls_->native_handle(), reinterpret_cast<unsigned char*>(value.data()), value.size(),
                                 protocol::kKeyLoginExporterLabel.data(), protocol::kKeyLoginExporterLabel.size(),
                                 nullptr, 0, 0) != 1) {
    return Status(ErrorCode::kIo, "the TLS session cannot bind a key login");
  }
  return value;
}

int Connection::native_socket() {
  if (!connected_) return -1;
  if (tls_) return tls_->lowest_layer().native_handle();
  return plain_ ? plain_->native_handle() : -1;
}

void Connection::Quit() {
  if (connected_) (void)Call(protocol::QuitRequest{}.Encode());
  connected_ = false;
}

}  // namespace ferry::client
