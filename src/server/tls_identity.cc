#include "server/tls_identity.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry::server {
namespace {

constexpr std::size_t kMaxCommonNameLength = 64;  // ub-common-name in RFC 5280
constexpr long kValidDays = 3653;                 // ten years, leap days included
constexpr long kBackdateSeconds = 3600;           // tolerates clients whose clock runs a little behind
constexpr std::size_t kSerialBytes = 16;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* object) const { Free(object); }
};
template <typename T, void (*Free)(T*)>
using OpensslPtr = std::unique_ptr<T, Deleter<T, Free>>;

using PkeyContextPtr = OpensslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using PkeyPtr = OpensslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = OpensslPtr<X509, X509_free>;
using BignumPtr = OpensslPtr<BIGNUM, BN_free>;
using BioPtr = OpensslPtr<BIO, BIO_free_all>;
using GeneralNamesPtr = OpensslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using GeneralNamePtr = OpensslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using BasicConstraintsPtr = OpensslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;

// The oldest queued OpenSSL error, as a Status; clears the queue so no stale entry confuses a later TLS call.
Status OpensslFailure(std::string_view what) {
  char text[256] = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return Status(ErrorCode::kIo, fmt::format("{}: {}", what, text));
}

Status ValidateCommonName(std::string_view name) {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  };
  bool valid = !name.empty() && name.size() <= kMaxCommonNameLength;
  for (std::size_t i = 0; valid && i < name.size(); ++i) valid = allowed(name[i]);
  if (valid) return Status::Ok();
  return Status(ErrorCode::kInvalid, fmt::format("invalid certificate name '{}': use 1-{} characters of A-Z, a-z, "
                                                 "0-9, '-', '.' and '_'",
                                                 name, kMaxCommonNameLength));
}

Status CheckAbsent(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return Status(ErrorCode::kExists, fmt::format("{} already exists; not overwriting it", path));
  }
  if (errno != ENOENT) return Status::FromErrno(errno, path);
  return Status::Ok();
}

Result<PkeyPtr> GenerateKey() {
  PkeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!context || EVP_PKEY_keygen_init(context.get()) <= 0 ||
      EVP_PKEY_CTX_set_group_name(context.get(), "P-256") <= 0) {
    return OpensslFailure("setting up P-256 key generation");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(context.get(), &key) <= 0) return OpensslFailure("generating a P-256 key");
  return PkeyPtr(key);
}

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[kSerialBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return OpensslFailure("drawing a serial number");
  // Positive, non-zero, and exactly 16 octets in DER.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BignumPtr serial(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpensslFailure("setting the serial number");
  }
  return Status::Ok();
}

// Takes ownership of `value`, also on failure.
bool AddGeneralName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  if (value == nullptr) return false;
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!name) {
    ASN1_STRING_free(value);
    return false;
  }
  GENERAL_NAME_set0_value(name.get(), type, value);
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) return false;
  name.release();  // now owned by `names`
  return true;
}

// The DNS name is what the header promises; the loopback addresses let a local client check the name too.
Status AddSubjectAltName(X509* cert, std::string_view common_name) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpensslFailure("building subjectAltName");
  ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
  if (dns != nullptr && ASN1_STRING_set(dns, common_name.data(), static_cast<int>(common_name.size())) != 1) {
    ASN1_IA5STRING_free(dns);
    dns = nullptr;
  }
  if (!AddGeneralName(names.get(), GEN_DNS, dns) ||
      !AddGeneralName(names.get(), GEN_IPADD, a2i_IPADDRESS("127.0.0.1")) ||
      !AddGeneralName(names.get(), GEN_IPADD, a2i_IPADDRESS("::1")) ||
      X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpensslFailure("adding subjectAltName");
  }
  return Status::Ok();
}

Status AddBasicConstraints(X509* cert) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) return OpensslFailure("building basicConstraints");
  constraints->ca = 0;
  if (X509_add1_ext_i2d(cert, NID_basic_constraints, constraints.get(), /*crit=*/1, X509V3_ADD_DEFAULT) != 1) {
    return OpensslFailure("adding basicConstraints");
  }
  return Status::Ok();
}

Result<X509Ptr> BuildCertificate(EVP_PKEY* key, const std::string& common_name) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpensslFailure("creating a certificate");
  if (Status s = SetRandomSerial(cert.get()); !s.ok()) return s;
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr) == nullptr) {
    return OpensslFailure("setting the validity period");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1) {
    return OpensslFailure("setting the subject name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return OpensslFailure("setting the public key");
  if (Status s = AddSubjectAltName(cert.get(), common_name); !s.ok()) return s;
  if (Status s = AddBasicConstraints(cert.get()); !s.ok()) return s;
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return OpensslFailure("signing the certificate");
  return cert;
}

// Creates `path` (never replacing anything) with exactly `mode` and fills it by `write`; removes it on failure.
template <typename WritePem>
Status WriteNewPemFile(const std::string& path, mode_t mode, WritePem write) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  const auto fail = [&](Status status) {
    ::unlink(path.c_str());
    return status;
  };
  // The umask only ever narrows the mode; the contract is the exact mode, so set it explicitly.
  if (::fchmod(fd.get(), mode) != 0) return fail(Status::FromErrno(errno, path));
  BioPtr bio(BIO_new_fd(fd.get(), BIO_NOCLOSE));
  if (!bio || write(bio.get()) != 1 || BIO_flush(bio.get()) != 1) {
    return fail(OpensslFailure(fmt::format("writing {}", path)));
  }
  bio.reset();
  if (::fsync(fd.get()) != 0) return fail(Status::FromErrno(errno, path));
  if (::close(fd.Release()) != 0) return fail(Status::FromErrno(errno, path));
  return Status::Ok();
}

}  // namespace

Status GenerateSelfSignedIdentity(const std::string& cert_path, const std::string& key_path,
                                  const std::string& common_name) {
  if (Status s = ValidateCommonName(common_name); !s.ok()) return s;
  // Both checked before anything is written, so an existing identity is never half replaced.
  if (Status s = CheckAbsent(key_path); !s.ok()) return s;
  if (Status s = CheckAbsent(cert_path); !s.ok()) return s;

  auto key = GenerateKey();
  if (!key.ok()) return key.status();
  auto cert = BuildCertificate(key->get(), common_name);
  if (!cert.ok()) return cert.status();

  // The key file is created 0600 by open(2) itself, so it is never readable by others, not even while empty.
  if (Status s = WriteNewPemFile(
          key_path, 0600,
          [&](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key->get(), nullptr, nullptr, 0, nullptr, nullptr); });
      !s.ok()) {
    return s;
  }
  if (Status s = WriteNewPemFile(cert_path, 0644, [&](BIO* bio) { return PEM_write_bio_X509(bio, cert->get()); });
      !s.ok()) {
    ::unlink(key_path.c_str());  // ours: created with O_EXCL above
    return s;
  }
  return Status::Ok();
}

}  // namespace ferry::server
