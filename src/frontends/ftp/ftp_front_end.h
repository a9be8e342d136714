// FtpFrontEnd: FTP (RFC 959) and FTPS (RFC 4217, explicit with AUTH TLS or implicit on a port of its own) for stock
// clients (curl, lftp, wget, Python's ftplib, FileZilla) on the same users, homes, quotas and audit log as the Ferry
// protocol: every file operation goes through the file service. docs/ftp.md lists every command.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "frontends/front_end.h"
#include "frontends/session_registry.h"
#include "service/file_service.h"

namespace ferry::frontends::ftp {

// Whether a data connection's TLS session must resume the control connection's (so that no one else can take it).
enum class SessionReuse { kRequired, kOptional, kOff };

// What every FTP session shares; read-only while serving. Everything pointed to must outlive all sessions.
struct FtpEnvironment {
  service::FileService* files = nullptr;
  SessionRegistry* registry = nullptr;  // may be null (no shutdown draining)
  SSL_CTX* tls = nullptr;               // null: no FTPS (AUTH TLS is refused)
  bool implicit_tls = false;            // TLS from the first byte (the implicit FTPS port)
  bool require_tls = true;              // no login and no data connection without TLS
  SessionReuse tls_session_reuse = SessionReuse::kRequired;
  std::uint16_t passive_min = 50000;    // passive data ports are taken from this range
  std::uint16_t passive_max = 50999;
  std::string passive_address;          // advertised in 227 replies; "" = the control connection's local address
  bool active_mode = false;             // PORT/EPRT (only to the client's own address, ports >= 1024)
  unsigned max_login_attempts = 3;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds login_timeout{30};
  std::chrono::seconds idle_timeout{600};  // no command; or no progress on a data connection
  std::chrono::seconds data_timeout{30};   // for the data connection to be made
};

class FtpFrontEnd final : public FrontEnd {
 public:
  explicit FtpFrontEnd(FtpEnvironment env) : env_(std::move(env)) {}

  std::string_view name() const override { return env_.implicit_tls ? "ftps" : "ftp"; }
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket, std::shared_ptr<void> slot) override;
  // "421 too many connections" on a plain connection; over implicit TLS nothing can be said before a handshake.
  void RefuseBusy(asio::ip::tcp::socket& socket) override;

 private:
  FtpEnvironment env_;
};

}  // namespace ferry::frontends::ftp
