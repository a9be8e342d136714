// Certificate fingerprints: what the client pins in known_hosts and the server prints at start.
#pragma once

#include <string>

#include "common/status.h"

typedef struct x509_st X509;

namespace ferry {

// "SHA256:" followed by the lower-case hex SHA-256 of the certificate's DER encoding.
// REQUIRES: cert is not null.
std::string CertificateFingerprint(X509* cert);
// The same, for a PEM certificate file.
Result<std::string> CertificateFileFingerprint(const std::string& cert_path);

}  // namespace ferry
