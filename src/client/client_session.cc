#include "client/client_session.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "client/delayed_notice.h"
#include "client/interrupt.h"
#include "client/known_hosts.h"
#include "common/ssh_signature.h"
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
              << "Expected: " << **pinned << "\nPresented: " << fingerprint << "\n"
              << "If the change is legitimate, remove the line for " << host_port << " from "
              << known_hosts.path() << ".\n";
    return Status(ErrorCode::kAuthFailed, fmt::format("certificate of {} does not match known_hosts", host_port));
  }
  if (!accept_new) {
    std::cerr << fmt::format("The authenticity of server '{}' can't be established.\n"
                             "Its certificate fingerprint is {}.\n",
                             host_port, fingerprint);
    if (::isatty(STDIN_FILENO) == 0) {
      return Status(ErrorCode::kAuthFailed,
                    "unknown server and no terminal to confirm it (use --accept-new-host to trust it)");
    }
    std::cerr << "Are you sure you want to continue connecting (yes/no)? " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "yes" && answer != "y")) {
      return Status(ErrorCode::kAuthFailed, "server not trusted");
    }
  }
  if (Status s = known_hosts.Add(host_port, fingerprint); !s.ok()) return s;
  std::cerr << fmt::format("Permanently added '{}' ({}) to {}.\n", host_port, fingerprint, known_hosts.path());
  return Status::Ok();
}

Status ClientSession::Open() {
  auto connection = std::make_unique<Connection>();
  if (Status s = connection->Connect(parameters_.target.address, parameters_.tls); !s.ok()) return s;
  if (parameters_.tls) {
    if (Status s = CheckServerIdentity(parameters_.known_hosts_path, FormatHostPort(parameters_.target.address),
                                       connection->server_fingerprint(), parameters_.accept_new_host);
        !s.ok()) {
      return s;
    }
  }
  auto hello = connection->Hello();
  if (!hello.ok()) return hello.status();
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
    if (last.code() == ErrorCode::kAuthFailed || last.code() == ErrorCode::kNotSupported) return last;
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
