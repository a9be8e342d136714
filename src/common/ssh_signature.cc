#include "common/ssh_signature.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry::ssh {
namespace {

constexpr std::string_view kKeyMagic = "openssh-key-v1";
constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
// Agent messages (draft-miller-ssh-agent).
constexpr std::uint8_t kAgentFailure = 5;
constexpr std::uint8_t kAgentSignRequest = 13;
constexpr std::uint8_t kAgentSignResponse = 14;
constexpr std::uint32_t kAgentRsaSha256 = 2;
constexpr std::size_t kMaxAgentReply = 256 * 1024;

const Status kBadSignature(ErrorCode::kAuthFailed, "the signature does not verify");

// Reads SSH wire fields; any read past the end leaves it failed.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  std::uint32_t U32() {
    if (data_.size() < 4) return Fail(), 0;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data());
    data_.remove_prefix(4);
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  }
  std::string_view String() {
    const std::uint32_t length = U32();
    if (!ok_ || data_.size() < length) return Fail(), std::string_view();
    const std::string_view out = data_.substr(0, length);
    data_.remove_prefix(length);
    return out;
  }
  std::string_view Rest() const { return data_; }
  bool ok() const { return ok_; }
  bool empty() const { return data_.empty(); }

 private:
  void Fail() {
    ok_ = false;
    data_ = {};
  }
  std::string_view data_;
  bool ok_ = true;
};

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(v >> shift));
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// An mpint (RFC 4251): two's complement, big-endian; only non-negative values are keys' parts.
BnPtr BignumOf(std::string_view mpint) {
  if (!mpint.empty() && (static_cast<unsigned char>(mpint.front()) & 0x80) != 0) return nullptr;
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(mpint.data()), static_cast<int>(mpint.size()),
                         nullptr));
}
void PutMpint(std::string& out, const BIGNUM* bn) {
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  if (!bytes.empty() && (static_cast<unsigned char>(bytes.front()) & 0x80) != 0) bytes.insert(bytes.begin(), '\0');
  PutString(out, bytes);
}

// The OpenSSL group and digest of an SSH ECDSA curve name ("nistp256").
struct Curve {
  const char* group;
  const EVP_MD* (*digest)();
};
std::optional<Curve> CurveOf(std::string_view name) {
  if (name == "nistp256") return Curve{"prime256v1", EVP_sha256};
  if (name == "nistp384") return Curve{"secp384r1", EVP_sha384};
  if (name == "nistp521") return Curve{"secp521r1", EVP_sha512};
  return std::nullopt;
}

// A key from OSSL_PARAMs built by `build`; `selection` EVP_PKEY_PUBLIC_KEY or EVP_PKEY_KEYPAIR.
template <typename Build>
PkeyPtr FromData(const char* algorithm, int selection, Build build) {
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  if (builder == nullptr) return nullptr;
  PkeyPtr key;
  if (build(builder)) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr);
    EVP_PKEY* raw = nullptr;
    if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &raw, selection, params) == 1) {
      key.reset(raw);
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
  }
  OSSL_PARAM_BLD_free(builder);
  return key;
}

PkeyPtr EcKey(std::string_view curve_name, std::string_view point, const BIGNUM* secret) {
  const auto curve = CurveOf(curve_name);
  if (!curve) return nullptr;
  return FromData("EC", secret != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) == 1 &&
           OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1 &&
           (secret == nullptr || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, secret) == 1);
  });
}

PkeyPtr RsaKey(const BIGNUM* n, const BIGNUM* e, const BIGNUM* d) {
  return FromData("RSA", d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
           OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
           (d == nullptr || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_D, d) == 1);
  });
}

// The key a public blob describes, with its type.
PkeyPtr PublicKeyOf(std::string_view blob, std::string& type) {
  WireReader in(blob);
  type = std::string(in.String());
  if (type == "ssh-ed25519") {
    const std::string_view raw = in.String();
    if (!in.ok() || raw.size() != 32) return nullptr;
    return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  }
  if (type.starts_with("ecdsa-sha2-")) {
    const std::string_view curve = in.String();
    const std::string_view point = in.String();
    if (!in.ok() || type != fmt::format("ecdsa-sha2-{}", curve)) return nullptr;
    return EcKey(curve, point, nullptr);
  }
  if (type == "ssh-rsa") {
    BnPtr e = BignumOf(in.String());
    BnPtr n = BignumOf(in.String());
    if (!in.ok() || !e || !n) return nullptr;
    return RsaKey(n.get(), e.get(), nullptr);
  }
  return nullptr;
}

// The body of an OpenSSH private key file, decoded: everything after the magic.
Result<std::string> KeyFileBody(std::string_view text) {
  const auto begin = text.find(kBegin);
  const auto end = text.find(kEnd);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    if (text.find("-----BEGIN") != std::string_view::npos) {
      return Status(ErrorCode::kInvalid,
                    "not an OpenSSH-format private key (convert it with: ssh-keygen -p -f FILE)");
    }
    return Status(ErrorCode::kInvalid, "not an OpenSSH private key file");
  }
  std::string base64;
  for (const char c : text.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') base64 += c;
  }
  auto decoded = FromBase64(base64);
  if (!decoded.ok()) return Status(ErrorCode::kInvalid, "the private key file is damaged (bad base64)");
  if (decoded->size() < kKeyMagic.size() + 1 || decoded->compare(0, kKeyMagic.size(), kKeyMagic) != 0 ||
      (*decoded)[kKeyMagic.size()] != '\0') {
    return Status(ErrorCode::kInvalid, "the private key file is damaged (no openssh-key-v1 header)");
  }
  return decoded->substr(kKeyMagic.size() + 1);
}

Result<std::string> Finish(EVP_MD_CTX* ctx, std::string_view data) {
  std::size_t length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx, nullptr, &length, bytes, data.size()) != 1) {
    return Status(ErrorCode::kIo, "signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length, bytes, data.size()) != 1) {
    return Status(ErrorCode::kIo, "signing failed");
  }
  signature.resize(length);
  return signature;
}

}  // namespace

void PutString(std::string& out, std::string_view bytes) {
  PutU32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> FromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return Status(ErrorCode::kInvalid, "not base64");
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool pad = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && !pad) {
      return Status(ErrorCode::kInvalid, "not base64");
    }
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return Status(ErrorCode::kInvalid, "not base64");
  std::size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with("=")) {
    padding = 1;
  }
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

Result<KeyFileInfo> InspectPrivateKey(std::string_view text) {
  auto body = KeyFileBody(text);
  if (!body.ok()) return body.status();
  WireReader in(*body);
  const std::string_view cipher = in.String();
  in.String();  // kdf name
  in.String();  // kdf options
  const std::uint32_t keys = in.U32();
  const std::string_view public_blob = in.String();
  if (!in.ok() || keys != 1) return Status(ErrorCode::kInvalid, "the private key file is damaged or holds several keys");
  return KeyFileInfo{std::string(public_blob), cipher != "none"};
}

Result<PrivateKey> ParsePrivateKey(std::string_view text) {
  auto body = KeyFileBody(text);
  if (!body.ok()) return body.status();
  WireReader in(*body);
  const std::string_view cipher = in.String();
  const std::string_view kdf = in.String();
  in.String();  // kdf options
  const std::uint32_t keys = in.U32();
  const std::string_view public_blob = in.String();
  const std::string_view secret = in.String();
  if (!in.ok() || keys != 1) return Status(ErrorCode::kInvalid, "the private key file is damaged or holds several keys");
  if (cipher != "none" || kdf != "none") {
    return Status(ErrorCode::kInvalid,
                  "the private key is protected by a passphrase: add it to ssh-agent (ssh-add FILE) and keep "
                  "SSH_AUTH_SOCK set");
  }
  WireReader keyin(secret);
  const std::uint32_t check1 = keyin.U32();
  const std::uint32_t check2 = keyin.U32();
  const std::string type(keyin.String());
  if (!keyin.ok() || check1 != check2) return Status(ErrorCode::kInvalid, "the private key file is damaged");
  PkeyPtr key;
  if (type == "ssh-ed25519") {
    keyin.String();  // the public key again
    const std::string_view pair = keyin.String();
    if (!keyin.ok() || pair.size() != 64) return Status(ErrorCode::kInvalid, "the Ed25519 key is damaged");
    key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(pair.data()), 32));
  } else if (type.starts_with("ecdsa-sha2-")) {
    const std::string_view curve = keyin.String();
    const std::string_view point = keyin.String();
    BnPtr d = BignumOf(keyin.String());
    if (!keyin.ok() || !d || type != fmt::format("ecdsa-sha2-{}", curve)) {
      return Status(ErrorCode::kInvalid, "the ECDSA key is damaged");
    }
    key = EcKey(curve, point, d.get());
  } else if (type == "ssh-rsa") {
    BnPtr n = BignumOf(keyin.String());
    BnPtr e = BignumOf(keyin.String());
    BnPtr d = BignumOf(keyin.String());
    if (!keyin.ok() || !n || !e || !d) return Status(ErrorCode::kInvalid, "the RSA key is damaged");
    key = RsaKey(n.get(), e.get(), d.get());
  } else {
    return Status(ErrorCode::kInvalid, fmt::format("keys of type {} are not supported", type));
  }
  if (!key) return Status(ErrorCode::kInvalid, fmt::format("the {} key could not be loaded", type));
  return PrivateKey(type, std::string(public_blob), key.release());
}

PrivateKey::~PrivateKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

PrivateKey::PrivateKey(PrivateKey&& other) noexcept
    : type_(std::move(other.type_)), public_blob_(std::move(other.public_blob_)), pkey_(std::exchange(other.pkey_, nullptr)) {}

Result<std::string> PrivateKey::Sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return Status(ErrorCode::kIo, "out of memory");
  auto* key = static_cast<EVP_PKEY*>(pkey_);
  std::string algorithm = type_;
  const EVP_MD* digest = nullptr;
  if (type_.starts_with("ecdsa-sha2-")) {
    digest = CurveOf(std::string_view(type_).substr(11))->digest();
  } else if (type_ == "ssh-rsa") {
    digest = EVP_sha256();
    algorithm = "rsa-sha2-256";
  }
  if (EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key) != 1) {
    return Status(ErrorCode::kIo, "signing failed");
  }
  auto raw = Finish(ctx.get(), data);
  if (!raw.ok()) return raw.status();
  std::string signature = *raw;
  if (type_.starts_with("ecdsa-sha2-")) {
    // DER ECDSA-Sig-Value to SSH's mpint r, mpint s.
    const auto* der = reinterpret_cast<const unsigned char*>(raw->data());
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(raw->size()));
    if (parsed == nullptr) return Status(ErrorCode::kIo, "signing failed");
    signature.clear();
    PutMpint(signature, ECDSA_SIG_get0_r(parsed));
    PutMpint(signature, ECDSA_SIG_get0_s(parsed));
    ECDSA_SIG_free(parsed);
  }
  std::string blob;
  PutString(blob, algorithm);
  PutString(blob, signature);
  return blob;
}

Status Verify(std::string_view public_blob, std::string_view data, std::string_view signature) {
  std::string type;
  PkeyPtr key = PublicKeyOf(public_blob, type);
  if (!key) return Status(ErrorCode::kInvalid, "the public key cannot be read");
  WireReader in(signature);
  const std::string_view algorithm = in.String();
  std::string raw(in.String());
  if (!in.ok() || !in.empty()) return Status(ErrorCode::kInvalid, "the signature cannot be read");
  const EVP_MD* digest = nullptr;
  if (type == "ssh-ed25519") {
    if (algorithm != type) return kBadSignature;
  } else if (type.starts_with("ecdsa-sha2-")) {
    if (algorithm != type) return kBadSignature;
    digest = CurveOf(std::string_view(type).substr(11))->digest();
    WireReader parts(raw);
    BnPtr r = BignumOf(parts.String());
    BnPtr s = BignumOf(parts.String());
    if (!parts.ok() || !parts.empty() || !r || !s) return kBadSignature;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    if (sig == nullptr || ECDSA_SIG_set0(sig, r.get(), s.get()) != 1) {
      ECDSA_SIG_free(sig);
      return Status(ErrorCode::kIo, "out of memory");
    }
    r.release();
    s.release();
    unsigned char* der = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (length <= 0) return kBadSignature;
    raw.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
  } else if (type == "ssh-rsa") {
    if (algorithm == "rsa-sha2-256") {
      digest = EVP_sha256();
    } else if (algorithm == "rsa-sha2-512") {
      digest = EVP_sha512();
    } else {
      return kBadSignature;  // "ssh-rsa" is SHA-1
    }
  } else {
    return Status(ErrorCode::kInvalid, "unsupported key type");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, key.get()) != 1) {
    return Status(ErrorCode::kIo, "verifying failed");
  }
  const int verdict = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                                       reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return verdict == 1 ? Status::Ok() : kBadSignature;
}

Result<std::string> AgentSign(const std::string& socket_path, std::string_view public_blob, std::string_view data) {
  sockaddr_un address{};
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path) {
    return Status(ErrorCode::kIo, "no usable ssh-agent socket");
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "ssh-agent");
  const timeval timeout{30, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return Status(ErrorCode::kIo, fmt::format("cannot reach ssh-agent at {}: {}", socket_path, std::strerror(errno)));
  }
  std::string body(1, static_cast<char>(kAgentSignRequest));
  PutString(body, public_blob);
  PutString(body, data);
  PutU32(body, WireReader(public_blob).String() == "ssh-rsa" ? kAgentRsaSha256 : 0);
  std::string request;
  PutString(request, body);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return Status(ErrorCode::kIo, "ssh-agent closed the connection");
    sent += static_cast<std::size_t>(n);
  }
  const auto read_exactly = [&](std::string& out, std::size_t count) {
    out.resize(count);
    for (std::size_t got = 0; got < count;) {
      const ssize_t n = ::recv(fd.get(), out.data() + got, count - got, 0);
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return true;
  };
  std::string head;
  if (!read_exactly(head, 4)) return Status(ErrorCode::kIo, "ssh-agent did not answer");
  WireReader length_reader(head);
  const std::uint32_t length = length_reader.U32();
  if (length == 0 || length > kMaxAgentReply) return Status(ErrorCode::kIo, "ssh-agent answered wrongly");
  std::string reply;
  if (!read_exactly(reply, length)) return Status(ErrorCode::kIo, "ssh-agent did not answer");
  const auto kind = static_cast<std::uint8_t>(reply[0]);
  if (kind == kAgentFailure) return Status(ErrorCode::kNotFound, "ssh-agent does not hold this key");
  if (kind != kAgentSignResponse) return Status(ErrorCode::kIo, "ssh-agent answered wrongly");
  WireReader in(std::string_view(reply).substr(1));
  const std::string_view signature = in.String();
  if (!in.ok()) return Status(ErrorCode::kIo, "ssh-agent answered wrongly");
  return std::string(signature);
}

}  // namespace ferry::ssh
