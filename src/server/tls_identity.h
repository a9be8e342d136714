// The server's TLS identity: a self-signed certificate and its private key, and the fingerprint clients pin.
#pragma once

#include <string>

#include "common/status.h"

namespace ferry::server {

// Writes a new ECDSA P-256 private key (PEM, mode 0600) and a self-signed X.509 certificate (PEM, mode 0644),
// valid for ten years, whose subject CN and subjectAltName DNS name are `common_name`. Fails with EEXIST
// rather than overwrite either file.
Status GenerateSelfSignedIdentity(const std::string& cert_path, const std::string& key_path,
                                  const std::string& common_name);

}  // namespace ferry::server
