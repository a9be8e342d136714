// SSH keys as OpenSSH writes them: users' public keys (authorized_keys lines) and the server's host key.
//
// Parsing and key checks use libssh's key code; fingerprints are SHA-256 of the key blob in unpadded base64, the
// form `ssh-keygen -l` prints ("SHA256:...").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry::storage {

// One public key a user may log in with.
struct SshPublicKey {
  std::string type;         // the key's algorithm name: "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ...
  std::string blob_base64;  // the key as authorized_keys holds it
  std::string comment;      // what followed the key on its line, if anything
  std::string fingerprint;  // "SHA256:" and 43 characters of base64, as ssh-keygen -l prints
  unsigned bits = 0;        // key size: 256 for Ed25519, the curve for ECDSA, the modulus for RSA

  // "ED25519", "ECDSA" or "RSA": the label ssh-keygen -l puts in parentheses.
  std::string Label() const;
  // "256 SHA256:... comment (ED25519)", as `ssh-keygen -lf` prints the key (without a comment: "no comment").
  std::string FingerprintLine() const;
};

// Smallest RSA modulus accepted, in bits.
inline constexpr unsigned kMinRsaBits = 2048;

// One key from an authorized_keys line: "TYPE BASE64 [COMMENT]". Ed25519, ECDSA (P-256, P-384, P-521) and RSA of
// at least 2048 bits; DSA, security-key and certificate keys, and lines with options in front of the key (which
// Ferry would not enforce) are refused with EINVAL and a reason.
Result<SshPublicKey> ParseAuthorizedKey(std::string_view line);
// Every key in authorized_keys text: blank lines and lines starting with '#' are skipped; an error names its line.
// EINVAL if the text holds no key at all.
Result<std::vector<SshPublicKey>> ParseAuthorizedKeys(std::string_view text);
// "SHA256:..." with the prefix added when `text` is only the base64 part; EINVAL if it cannot be a fingerprint.
Result<std::string> NormalizeFingerprint(std::string_view text);

// Creates an Ed25519 host key at `private_path` (OpenSSH format, mode 0600, created exclusively: EEXIST if
// present) and its public half at `private_path` + ".pub" (0644). Returns the public key.
Result<SshPublicKey> CreateHostKey(const std::string& private_path, std::string_view comment);
// The public half of the host key at `private_path`, read from the private key itself.
Result<SshPublicKey> ReadHostKey(const std::string& private_path);

}  // namespace ferry::storage
