#include "server/tls_identity.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/tls_fingerprint.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::server {
namespace {

using ferry::testing::ModeOf;
using ferry::testing::ReadFile;
using ferry::testing::TempDir;

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct FileClose {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr LoadCertificate(const std::string& path) {
  std::unique_ptr<std::FILE, FileClose> file(std::fopen(path.c_str(), "r"));
  if (!file) return nullptr;
  return X509Ptr(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<EVP_PKEY, PkeyFree> LoadPrivateKey(const std::string& path) {
  std::unique_ptr<std::FILE, FileClose> file(std::fopen(path.c_str(), "r"));
  if (!file) return nullptr;
  return std::unique_ptr<EVP_PKEY, PkeyFree>(PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr));
}

std::string CommonNameOf(X509* cert) {
  char name[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
  return name;
}

class TlsIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The modes under test must not depend on the umask of whoever runs the tests.
    old_umask_ = ::umask(022);
    ASSERT_TRUE(GenerateSelfSignedIdentity(cert_path_, key_path_, "ferry.example").ok());
  }
  void TearDown() override { ::umask(old_umask_); }

  TempDir dir_;
  const std::string cert_path_ = dir_ / "cert.pem";
  const std::string key_path_ = dir_ / "key.pem";
  mode_t old_umask_ = 0;
};

TEST_F(TlsIdentityTest, KeyIsPrivateAndCertificateIsPublic) {
  EXPECT_EQ(ModeOf(key_path_), 0600u);
  EXPECT_EQ(ModeOf(cert_path_), 0644u);
}

TEST_F(TlsIdentityTest, CertificateNamesTheHostAndMatchesTheKey) {
  X509Ptr cert = LoadCertificate(cert_path_);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(CommonNameOf(cert.get()), "ferry.example");
  EXPECT_EQ(X509_check_host(cert.get(), "ferry.example", 0, 0, nullptr), 1) << "subjectAltName DNS entry missing";
  EXPECT_EQ(X509_check_ca(cert.get()), 0) << "must not be usable as a CA";
  auto key = LoadPrivateKey(key_path_);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
}

TEST_F(TlsIdentityTest, CertificateIsValidNowAndForAboutTenYears) {
  X509Ptr cert = LoadCertificate(cert_path_);
  ASSERT_NE(cert, nullptr);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(cert.get())), 0);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_GE(days, 3650);
  EXPECT_LE(days, 3654);
}

TEST_F(TlsIdentityTest, SecondGenerationFailsWithExistsAndChangesNothing) {
  const std::string cert_before = ReadFile(cert_path_);
  const std::string key_before = ReadFile(key_path_);
  const Status again = GenerateSelfSignedIdentity(cert_path_, key_path_, "ferry.example");
  EXPECT_EQ(again.code(), ErrorCode::kExists);
  EXPECT_EQ(ReadFile(cert_path_), cert_before);
  EXPECT_EQ(ReadFile(key_path_), key_before);
}

TEST_F(TlsIdentityTest, ExistingCertificateAloneBlocksWritingANewKey) {
  const std::string other_key = dir_ / "other-key.pem";
  EXPECT_EQ(GenerateSelfSignedIdentity(cert_path_, other_key, "ferry.example").code(), ErrorCode::kExists);
  EXPECT_FALSE(std::filesystem::exists(other_key));
  const std::string other_cert = dir_ / "other-cert.pem";
  EXPECT_EQ(GenerateSelfSignedIdentity(other_cert, key_path_, "ferry.example").code(), ErrorCode::kExists);
  EXPECT_FALSE(std::filesystem::exists(other_cert));
}

TEST_F(TlsIdentityTest, FileFingerprintIsLowerCaseSha256OfTheCertificate) {
  auto fingerprint = CertificateFileFingerprint(cert_path_);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status().ToString();
  ASSERT_EQ(fingerprint->size(), 7u + 64u);
  EXPECT_EQ(fingerprint->substr(0, 7), "SHA256:");
  const std::string hex = fingerprint->substr(7);
  EXPECT_TRUE(std::all_of(hex.begin(), hex.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  })) << hex;
  X509Ptr cert = LoadCertificate(cert_path_);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(*fingerprint, CertificateFingerprint(cert.get()));
}

TEST_F(TlsIdentityTest, FingerprintMatchesTheOpensslCommandLine) {
  const std::string command = "openssl x509 -noout -fingerprint -sha256 -in '" + cert_path_ + "' 2>/dev/null";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
  const int status = ::pclose(pipe.release());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) GTEST_SKIP() << "the openssl command is not installed";
  ASSERT_EQ(status, 0) << output;

  // "sha256 Fingerprint=AB:CD:..." (OpenSSL 1.1 spells it "SHA256 Fingerprint=").
  const auto equals = output.find('=');
  ASSERT_NE(equals, std::string::npos) << output;
  std::string expected = "SHA256:";
  for (char c : output.substr(equals + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c)))
      expected += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto fingerprint = CertificateFileFingerprint(cert_path_);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status().ToString();
  EXPECT_EQ(*fingerprint, expected);
}

TEST(TlsFingerprint, MissingCertificateFileIsNotFound) {
  TempDir dir;
  const std::string path = dir / "absent.pem";
  auto fingerprint = CertificateFileFingerprint(path);
  ASSERT_FALSE(fingerprint.ok());
  EXPECT_EQ(fingerprint.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(fingerprint.status().message().find(path), std::string::npos) << fingerprint.status().message();
}

TEST(TlsFingerprint, FileWithoutACertificateIsAnError) {
  TempDir dir;
  const std::string path = dir / "garbage.pem";
  std::ofstream(path) << "not a certificate\n";
  auto fingerprint = CertificateFileFingerprint(path);
  ASSERT_FALSE(fingerprint.ok());
  EXPECT_EQ(fingerprint.status().code(), ErrorCode::kInvalid);
  EXPECT_NE(fingerprint.status().message().find(path), std::string::npos) << fingerprint.status().message();
}

TEST(TlsIdentity, RejectsACommonNameThatCannotBeADnsName) {
  TempDir dir;
  for (const std::string& bad :
       {std::string(), std::string("a,IP:10.0.0.1"), std::string("has space"), std::string(65, 'a')}) {
    EXPECT_EQ(GenerateSelfSignedIdentity(dir / "cert.pem", dir / "key.pem", bad).code(), ErrorCode::kInvalid) << bad;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "key.pem"));
  EXPECT_FALSE(std::filesystem::exists(dir / "cert.pem"));
}

TEST(TlsIdentity, EachGenerationMakesADifferentKeyAndCertificate) {
  TempDir dir;
  ASSERT_TRUE(GenerateSelfSignedIdentity(dir / "a-cert.pem", dir / "a-key.pem", "ferryd").ok());
  ASSERT_TRUE(GenerateSelfSignedIdentity(dir / "b-cert.pem", dir / "b-key.pem", "ferryd").ok());
  EXPECT_NE(ReadFile(dir / "a-key.pem"), ReadFile(dir / "b-key.pem"));
  X509Ptr a = LoadCertificate(dir / "a-cert.pem");
  X509Ptr b = LoadCertificate(dir / "b-cert.pem");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())), 0);
  EXPECT_NE(CertificateFingerprint(a.get()), CertificateFingerprint(b.get()));
}

}  // namespace
}  // namespace ferry::server
