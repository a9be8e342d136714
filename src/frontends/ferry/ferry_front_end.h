// FerryFrontEnd: the server's own protocol (docs/protocol.md), plain or over TLS 1.3.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include <openssl/ssl.h>

#include "frontends/front_end.h"
#include "frontends/session_registry.h"
#include "protocol/frame.h"
#include "service/file_service.h"
#include "service/program_service.h"

namespace ferry::frontends::native {

// What every Ferry session shares: read-only while serving. Everything pointed to must outlive all sessions.
struct FerryEnvironment {
  service::FileService* files = nullptr;
  const service::ProgramService* programs = nullptr;  // remote execution
  SessionRegistry* registry = nullptr;                // may be null (no shutdown draining)
  SSL_CTX* tls = nullptr;                             // null: plain TCP
  protocol::FrameLimits frames;
  unsigned max_login_attempts = 3;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds login_timeout{30};
  std::chrono::seconds idle_timeout{600};
};

class FerryFrontEnd final : public FrontEnd {
 public:
  explicit FerryFrontEnd(FerryEnvironment env) : env_(std::move(env)) {}

  std::string_view name() const override { return "ferry"; }
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket, std::shared_ptr<void> slot) override;
  // An EBUSY error frame on a plain connection; over TLS nothing can be said before a handshake.
  void RefuseBusy(asio::ip::tcp::socket& socket) override;

 private:
  FerryEnvironment env_;
};

}  // namespace ferry::frontends::native
