// SSH signatures outside SSH: what the Ferry protocol's public-key login signs and checks (docs/protocol.md).
//
// Keys are OpenSSH's: a private key file in OpenSSH's own format ("-----BEGIN OPENSSH PRIVATE KEY-----", what
// ssh-keygen writes), or an ssh-agent holding it. Signatures are SSH signature blobs (RFC 4253 6.6: the algorithm
// name, then the signature), as an agent returns them: "ssh-ed25519"; "ecdsa-sha2-nistp256/384/521" (SHA-256/384/512,
// r and s as mpints); "rsa-sha2-256" (PKCS#1 v1.5; SHA-1 "ssh-rsa" signatures are refused, as OpenSSH 8.8+ refuses
// them). The cryptography is OpenSSL's; the file and wire formats are parsed here, every length checked.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry::ssh {

// RFC 4251 "string": a 32-bit big-endian length, then the bytes.
void PutString(std::string& out, std::string_view bytes);

class PrivateKey {
 public:
  ~PrivateKey();
  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&&) = delete;

  const std::string& type() const { return type_; }
  // The public key blob, as authorized_keys holds it (before base64).
  const std::string& public_blob() const { return public_blob_; }
  // An SSH signature blob of `data`.
  Result<std::string> Sign(std::string_view data) const;

 private:
  friend Result<PrivateKey> ParsePrivateKey(std::string_view text);
  PrivateKey(std::string type, std::string public_blob, void* pkey)
      : type_(std::move(type)), public_blob_(std::move(public_blob)), pkey_(pkey) {}

  std::string type_;
  std::string public_blob_;
  void* pkey_;  // EVP_PKEY
};

// What an OpenSSH private key file says of itself without its passphrase.
struct KeyFileInfo {
  std::string public_blob;
  bool encrypted = false;
};
// Reads the public part of an OpenSSH private key file (encrypted or not). EINVAL, saying why, for anything else
// (a PEM "BEGIN RSA PRIVATE KEY" file: convert it with ssh-keygen -p -f FILE).
Result<KeyFileInfo> InspectPrivateKey(std::string_view text);
// An unencrypted OpenSSH private key file, for signing. EINVAL for an encrypted one (use ssh-agent) and for a key
// type other than Ed25519, ECDSA (P-256, P-384, P-521) and RSA.
Result<PrivateKey> ParsePrivateKey(std::string_view text);

// Checks `signature` (an SSH signature blob) of `data` against the public key blob. EAUTH when it does not verify
// or its algorithm does not suit the key; EINVAL for a blob that cannot be parsed.
Status Verify(std::string_view public_blob, std::string_view data, std::string_view signature);

// Asks the ssh-agent listening on the Unix socket `socket_path` to sign `data` with the key `public_blob` (RSA keys
// as rsa-sha2-256). ENOENT when the agent does not hold the key; EIO when it cannot be reached or answers wrongly.
Result<std::string> AgentSign(const std::string& socket_path, std::string_view public_blob, std::string_view data);

// Standard base64 (with padding), and back (EINVAL for anything else).
std::string Base64(std::string_view bytes);
Result<std::string> FromBase64(std::string_view text);

}  // namespace ferry::ssh
