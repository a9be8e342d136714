#include "common/tls_fingerprint.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};

// Takes the oldest queued OpenSSL error and clears the rest: a stale entry would confuse the next TLS call on this
// thread.
std::string TakeOpensslError() {
  char text[256] = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

std::string CertificateFingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Only fails when out of memory; an empty fingerprint then matches no pin.
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) {
    ERR_clear_error();
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string fingerprint = "SHA256:";
  fingerprint.reserve(fingerprint.size() + 2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    fingerprint += kHex[digest[i] >> 4];
    fingerprint += kHex[digest[i] & 0x0f];
  }
  return fingerprint;
}

Result<std::string> CertificateFileFingerprint(const std::string& cert_path) {
  // Opened here rather than by BIO_new_file so that errno, and with it ENOENT versus EACCES, survives.
  UniqueFd fd(::open(cert_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, cert_path);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_fd(fd.get(), BIO_NOCLOSE));
  if (!bio) return Status(ErrorCode::kIo, fmt::format("reading {}: {}", cert_path, TakeOpensslError()));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return Status(ErrorCode::kInvalid, fmt::format("no PEM certificate in {}: {}", cert_path, TakeOpensslError()));
  }
  std::string fingerprint = CertificateFingerprint(cert.get());
  if (fingerprint.empty()) return Status(ErrorCode::kIo, fmt::format("hashing the certificate in {}", cert_path));
  return fingerprint;
}

}  // namespace ferry
