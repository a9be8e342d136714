// Ties FTPS data connections to their control connection through TLS session resumption.
//
// Anyone who can reach a passive port could connect to it before the client does. A data connection whose TLS session
// resumes the control connection's proves it comes from the holder of that session (vsftpd's require_ssl_reuse,
// FileZilla Server's "TLS session of data connection not resumed"). Under TLS 1.3 sessions are resumed from tickets,
// and a ticket from any connection to this server would resume; so every ticket issued on a control connection, or on
// one of its data connections, carries that control connection's random token (the ticket's application data,
// encrypted with the ticket), and a ticket is accepted only on a data connection of the same control connection.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>

namespace ferry::frontends::ftp {

using SessionToken = std::array<std::uint8_t, 16>;

// A new random token for a control connection.
SessionToken NewSessionToken();

// Installs the ticket callbacks on a context used only by FTP. Call once, before any connection uses it.
void EnableSessionBinding(SSL_CTX* context);

// Marks `ssl` (a control connection, or one of its data connections) as belonging to the control connection with
// `token`: tickets it issues carry the token, and a ticket it is offered resumes only if it carries the same.
// REQUIRES: EnableSessionBinding on its context; before the handshake. `token` outlives `ssl`'s handshakes.
void BindSession(SSL* ssl, const SessionToken* token);

// After a data connection's handshake: whether it resumed a session of its own control connection.
bool ResumedOwnSession(SSL* ssl);

}  // namespace ferry::frontends::ftp
