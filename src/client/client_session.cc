#include "client/client_session.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <iostream>

#include <fmt/format.h>

#include "client/delayed_notice.h"
#include "client/interrupt.h"
#include "client/known_hosts.h"
#include "common/ssh_signature.h"
#include "common/unique_fd.h"
#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "protocol/session_operations.h"

namespace ferry::client {

Status CheckServerIdentity(const std::string& known_hosts_path, const std::string& host_port,
                           const std::string& fingerprint, bool accept_new) {
  const KnownHosts known_hosts(known_hosts_path.empty() ? KnownHosts::DefaultPath() : known_hosts_path);
  auto pinned = known_hosts.Lookup(host_port);
  if (!pinned.ok()) return pinned.status();
  if (pinned->has_value()) {
    if (**pinned == fingerprint) return Status::Ok();
    std::cerr << "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "@    WARNING: SERVER CERTIFICATE HAS CHANGED!             @\n"
                 "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "Someone could be intercepting this connection, or the server's certificate was replaced.\n"
              << "Expected: " << **pinned << "\nPresented: " << fingerprint << "\n";
    const auto line = known_hosts.LineOf(host_port);
    std::cerr << "Offending line: " << known_hosts.path() << ":" << (line.ok() ? *line : 0) << "\n"
              << "If the change is legitimate, remove it with: ferry --forget-host " << host_port
              << (known_hosts_path.empty() ? "" : " --known-hosts " + known_hosts.path()) << "\n";
    // EACCES, not EAUTH: the server is not trusted, which is a failure to connect, not a refused login.
    return Status(ErrorCode::kAccessDenied, fmt::format("certificate of {} does not match known_hosts", host_port));
  }
  if (!accept_new) {
    std::cerr << fmt::format("The authenticity of server '{}' can't be established.\n"
                             "Its certificate fingerprint is {}.\n",
                             host_port, fingerprint);
    if (::isatty(STDIN_FILENO) == 0) {
      return Status(ErrorCode::kAccessDenied,
                    "unknown server and no terminal to confirm it (use --accept-new-host to trust it)");
    }
    std::cerr << "Are you sure you want to continue connecting (yes/no)? " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "yes" && answer != "y")) {
      return Status(ErrorCode::kAccessDenied, "server not trusted");
    }
  }
  if (Status s = known_hosts.Add(host_port, fingerprint); !s.ok()) return s;
  std::cerr << fmt::format("Permanently added '{}' ({}) to {}.\n", host_port, fingerprint, known_hosts.path());
  return Status::Ok();
}

namespace {

// Whether a Ferry server without TLS answers at `address`: a hello on a TCP connection of its own (nothing secret is
// sent), every step bounded by `limit`, so that a server of another kind that never answers cannot hang the client.
bool AnswersPlainFerry(const HostPort& address, std::chrono::milliseconds limit) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found) != 0) return false;
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  const UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  const auto wait = [&](short events) {
    pollfd p{fd.get(), events, 0};
    return ::poll(&p, 1, static_cast<int>(limit.count())) == 1 && (p.revents & events) != 0;
  };
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0 && (errno != EINPROGRESS || !wait(POLLOUT))) {
    return false;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) return false;
  protocol::Json hello = protocol::HelloRequest{{protocol::kProtocolVersion}, "ferry " FERRY_VERSION}.Encode();
  hello["id"] = 1;
  const std::string bytes = protocol::EncodeFrame(std::move(hello));
  if (::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) return false;
  protocol::FrameDecoder decoder;
  char buffer[4096];
  for (int reads = 0; reads < 16 && wait(POLLIN); ++reads) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    decoder.Feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    protocol::Frame frame;
    const auto state = decoder.Next(frame);
    if (state == protocol::FrameDecoder::State::kError) return false;
    if (state == protocol::FrameDecoder::State::kFrame) return protocol::HelloReply::Parse(frame.header).ok();
  }
  return false;
}

}  // namespace

Status ClientSession::ExplainMismatch(Status failure) const {
  const std::string host_port = FormatHostPort(parameters_.target.address);
  if (parameters_.tls) {
    if (AnswersPlainFerry(parameters_.target.address, std::chrono::seconds(3))) {
      return Status(ErrorCode::kProtocol,
                    fmt::format("{} is a Ferry server without TLS (started with --plain): connect with ferry --plain",
                                host_port));
    }
    return Status(failure.code(), fmt::format("{} (is {} a Ferry server?)", failure.message(), host_port));
  }
  // --plain: a Ferry server with TLS closes a connection whose first bytes are not a TLS handshake.
  return Status(failure.code(), fmt::format("{}; a Ferry server with TLS does this to a --plain client: connect "
                                            "without --plain",
                                            failure.message()));
}

Status ClientSession::Open() {
  auto connection = std::make_unique<Connection>();
  if (Status s = connection->Connect(parameters_.target.address, parameters_.tls); !s.ok()) {
    return s.code() == ErrorCode::kProtocol && parameters_.tls ? ExplainMismatch(s) : s;
  }
  if (parameters_.tls) {
    if (Status s = CheckServerIdentity(parameters_.known_hosts_path, FormatHostPort(parameters_.target.address),
                                       connection->server_fingerprint(), parameters_.accept_new_host);
        !s.ok()) {
      return s;
    }
  }
  auto hello = connection->Hello();
  if (!hello.ok()) {
    // A server shutting down says so instead of answering: that is no mismatch.
    const bool said = connection->connected() || hello.status().code() == ErrorCode::kShuttingDown;
    return said ? hello.status() : ExplainMismatch(hello.status());
  }
  if (!parameters_.identity_file.empty()) {
    if (!identity_) {
      auto identity = Identity::Load(parameters_.identity_file);
      if (!identity.ok()) return identity.status();
      identity_.emplace(std::move(identity).value());
    }
    auto challenge = ssh::FromBase64(hello->challenge);
    if (hello->challenge.empty() || !challenge.ok()) {
      return Status(ErrorCode::kNotSupported, "this server does not take key logins (-i)");
    }
    auto binding = connection->TlsBinding();
    if (!binding.ok()) return binding.status();
    auto signature = identity_->Sign(
        protocol::KeyLoginData(*challenge, *binding, parameters_.target.user, identity_->blob()),
        parameters_.agent_socket);
    if (!signature.ok()) return signature.status();
    if (Status s = connection->LoginWithKey(parameters_.target.user, identity_->key_text(), *signature); !s.ok()) {
      return s;
    }
    connection_ = std::move(connection);
    return Status::Ok();
  }
  // As ssh's NumberOfPasswordPrompts: three tries, the server's own default before it closes the connection.
  constexpr int kPasswordPrompts = 3;
  Status refused = Status::Ok();
  for (int attempt = 1;; ++attempt) {
    if (!password_) {
      auto password = parameters_.ask_password();
      if (!password.ok()) return password.status();
      password_ = std::move(password).value();
    }
    Status login = LoginSaying(*connection, *password_);
    if (login.ok()) break;
    // A server that allows fewer tries has closed the connection: the answer is still the refused password.
    if (login.code() != ErrorCode::kAuthFailed) return refused.ok() ? login : refused;
    if (!parameters_.ask_again || attempt == kPasswordPrompts || !connection->connected()) return login;
    refused = login;
    password_.reset();
    std::cerr << "Permission denied, please try again.\n";
  }
  connection_ = std::move(connection);
  return Status::Ok();
}

Status ClientSession::ReconnectWithBackoff(const std::string& remote_cwd,
                                           const std::function<void(const std::string&)>& warn) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < kReconnectTries; ++attempt) {
    // poll(2) as an interruptible sleep: a Ctrl-C ends it early.
    ::poll(nullptr, 0, 500 << attempt);
    if (InterruptRequested()) return Status(ErrorCode::kIo, "interrupted");
    last = Reconnect(remote_cwd);
    if (last.ok()) return last;
    // A refused login, a server that is not trusted, or one that cannot do what is asked: trying again won't help.
    if (last.code() == ErrorCode::kAuthFailed || last.code() == ErrorCode::kAccessDenied ||
        last.code() == ErrorCode::kNotSupported) {
      return last;
    }
    warn(fmt::format("{} (try {} of {})", last.message(), attempt + 1, kReconnectTries));
  }
  return last;
}

Status ClientSession::LoginSaying(Connection& connection, const std::string& password) {
  // The server makes a source that has been failing wait before each attempt (up to 8 s): say so rather than hang
  // in silence.
  const DelayedNotice notice(std::chrono::milliseconds(700),
                             "ferry: waiting for the server to answer the login (it slows logins down after failed "
                             "attempts)...\n");
  return connection.Login(parameters_.target.user, password);
}

Status ClientSession::Reconnect(const std::string& remote_cwd) {
  if (Status s = Open(); !s.ok()) return s;
  if (remote_cwd != "/") {
    auto reply = connection_->Call<protocol::CdReply>(protocol::CdRequest{remote_cwd});
    if (!reply.ok()) return reply.status();
  }
  return Status::Ok();
}

}  // namespace ferry::client
