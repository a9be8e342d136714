// Identity: the key `ferry -i FILE` logs in with, and how it signs a key login (docs/protocol.md, "Key logins").
//
// FILE is an OpenSSH private key (what ssh-keygen writes) or a public key line (a .pub file). A running ssh-agent
// (SSH_AUTH_SOCK) that holds the key signs; otherwise the private key in FILE does, when it is not protected by a
// passphrase. An encrypted key, or a .pub file, needs the agent.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/ssh_signature.h"
#include "common/status.h"

namespace ferry::client {

class Identity {
 public:
  // Reads FILE (at most 64 KiB). EINVAL, saying why, for a file that holds no usable key.
  static Result<Identity> Load(const std::string& path);

  // "TYPE BASE64", as the login request carries it.
  std::string key_text() const;
  const std::string& blob() const { return blob_; }
  // An SSH signature of `data`: by the agent in `agent_socket` (SSH_AUTH_SOCK; "" for none) when it holds the key,
  // else by the file's private key.
  Result<std::string> Sign(std::string_view data, const std::string& agent_socket) const;

 private:
  std::string path_;
  std::string type_;
  std::string blob_;
  std::optional<ssh::PrivateKey> key_;  // the file's private key, when it is not encrypted
  bool encrypted_ = false;
};

}  // namespace ferry::client
