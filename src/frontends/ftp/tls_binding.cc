#include "frontends/ftp/tls_binding.h"

#include <openssl/rand.h>

#include <cstring>

namespace ferry::frontends::ftp {
namespace {

// Per-SSL data: the control connection's token, and whether the ticket offered carried it.
int TokenIndex() {
  static const int index = ::SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int MatchedIndex() {
  static const int index = ::SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int GenerateTicket(SSL* ssl, void* /*arg*/) {
  const auto* token = static_cast<const SessionToken*>(::SSL_get_ex_data(ssl, TokenIndex()));
  if (token == nullptr) return 1;  // not bound: an ordinary ticket
  return ::SSL_SESSION_set1_ticket_appdata(::SSL_get0_session(ssl), token->data(), token->size());
}

SSL_TICKET_RETURN DecryptTicket(SSL* ssl, SSL_SESSION* session, const unsigned char* /*key_name*/,
                                std::size_t /*key_name_length*/, SSL_TICKET_STATUS status, void* /*arg*/) {
  switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW: {
      const auto* token = static_cast<const SessionToken*>(::SSL_get_ex_data(ssl, TokenIndex()));
      void* data = nullptr;
      std::size_t length = 0;
      const bool matches = token != nullptr && ::SSL_SESSION_get0_ticket_appdata(session, &data, &length) == 1 &&
                           length == token->size() && std::memcmp(data, token->data(), length) == 0;
      if (!matches) return SSL_TICKET_RETURN_IGNORE_RENEW;  // a full handshake instead: not resumed
      ::SSL_set_ex_data(ssl, MatchedIndex(), reinterpret_cast<void*>(1));
      return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
    }
    case SSL_TICKET_FATAL_ERR_MALLOC:
    case SSL_TICKET_FATAL_ERR_OTHER:
      return SSL_TICKET_RETURN_ABORT;
    default:  // no ticket, an empty one, or one that does not decrypt
      return SSL_TICKET_RETURN_IGNORE_RENEW;
  }
}

}  // namespace

SessionToken NewSessionToken() {
  SessionToken token{};
  ::RAND_bytes(token.data(), static_cast<int>(token.size()));
  return token;
}

void EnableSessionBinding(SSL_CTX* context) {
  ::SSL_CTX_set_session_ticket_cb(context, &GenerateTicket, &DecryptTicket, nullptr);
}

void BindSession(SSL* ssl, const SessionToken* token) {
  ::SSL_set_ex_data(ssl, TokenIndex(), const_cast<SessionToken*>(token));
  ::SSL_set_ex_data(ssl, MatchedIndex(), nullptr);
}

bool ResumedOwnSession(SSL* ssl) {
  return ::SSL_session_reused(ssl) == 1 && ::SSL_get_ex_data(ssl, MatchedIndex()) != nullptr;
}

}  // namespace ferry::frontends::ftp
