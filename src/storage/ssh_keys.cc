#include "storage/ssh_keys.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace ferry::storage {
namespace {

// Longer blobs than this are no key Ferry accepts (an RSA key of 16,384 bits is about 2.8 KB of base64).
constexpr std::size_t kMaxBlobBase64 = 16384;
constexpr std::size_t kMaxCommentLength = 1024;

struct KeyFree {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyFree>;

struct StringFree {
  void operator()(char* text) const { ssh_string_free_char(text); }
};
using SshString = std::unique_ptr<char, StringFree>;

struct KeyKind {
  std::string_view name;
  ssh_keytypes_e type;
  unsigned bits;  // 0: read from the key (RSA)
};
constexpr KeyKind kAccepted[] = {
    {"ssh-ed25519", SSH_KEYTYPE_ED25519, 256},
    {"ecdsa-sha2-nistp256", SSH_KEYTYPE_ECDSA_P256, 256},
    {"ecdsa-sha2-nistp384", SSH_KEYTYPE_ECDSA_P384, 384},
    {"ecdsa-sha2-nistp521", SSH_KEYTYPE_ECDSA_P521, 521},
    {"ssh-rsa", SSH_KEYTYPE_RSA, 0},
};

const KeyKind* AcceptedKind(std::string_view name) {
  for (const auto& kind : kAccepted) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

// A key type Ferry knows of but does not accept, with the reason; nullopt for a word that is no key type at all.
std::optional<std::string> RefusedKind(std::string_view name) {
  if (name == "ssh-dss") return "DSA keys are not accepted (OpenSSH disabled them too): use an Ed25519 key";
  if (name.starts_with("sk-")) return fmt::format("security-key keys ({}) are not supported", name);
  if (name.find("-cert-v01@openssh.com") != std::string_view::npos) {
    return fmt::format("certificates ({}) are not supported: give the plain public key", name);
  }
  return std::nullopt;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (i < line.size() && blank(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// An SSH wire string (uint32 length, bytes) at `offset`, advancing it; nullopt past the end.
std::optional<std::string_view> ReadWireString(std::string_view blob, std::size_t& offset) {
  if (blob.size() - offset < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + offset);
  const std::uint32_t length = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
  offset += 4;
  if (blob.size() - offset < length) return std::nullopt;
  const auto value = blob.substr(offset, length);
  offset += length;
  return value;
}

// Bits of an RSA key's modulus: the blob is string "ssh-rsa", mpint e, mpint n.
unsigned RsaBits(std::string_view blob) {
  std::size_t offset = 0;
  if (!ReadWireString(blob, offset) || !ReadWireString(blob, offset)) return 0;
  auto modulus = ReadWireString(blob, offset);
  if (!modulus) return 0;
  std::size_t i = 0;
  while (i < modulus->size() && modulus->at(i) == '\0') ++i;  // an mpint's sign byte
  if (i == modulus->size()) return 0;
  unsigned top = static_cast<unsigned char>(modulus->at(i));
  unsigned top_bits = 0;
  while (top != 0) {
    ++top_bits;
    top >>= 1;
  }
  return static_cast<unsigned>((modulus->size() - i - 1) * 8) + top_bits;
}

std::string Fingerprint(std::string_view blob) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
  char text[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, digest.data(), digest.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  return std::string("SHA256:") + text;
}

Result<std::string> DecodeBase64(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Status(ErrorCode::kInvalid, "the key is not valid base64");
  }
  out.resize(length);
  return out;
}

// Checks a key of an accepted kind and fills in what is derived from its blob.
Result<SshPublicKey> MakeKey(const KeyKind& kind, std::string_view blob_base64, std::string_view comment) {
  if (blob_base64.size() > kMaxBlobBase64) return Status(ErrorCode::kInvalid, "the key is too long");
  auto blob = DecodeBase64(blob_base64);
  if (!blob.ok()) return blob.status();
  std::size_t offset = 0;
  const auto inner_type = ReadWireString(*blob, offset);
  if (!inner_type || *inner_type != kind.name) {
    return Status(ErrorCode::kInvalid, fmt::format("the key data is not a {} key", kind.name));
  }
  ssh_key raw = nullptr;
  const std::string base64(blob_base64);
  if (ssh_pki_import_pubkey_base64(base64.c_str(), kind.type, &raw) != SSH_OK) {
    return Status(ErrorCode::kInvalid, fmt::format("the key data is not a valid {} key", kind.name));
  }
  KeyPtr key(raw);
  SshPublicKey result;
  result.type = std::string(kind.name);
  result.blob_base64 = base64;
  result.comment = std::string(comment);
  result.fingerprint = Fingerprint(*blob);
  result.bits = kind.bits != 0 ? kind.bits : RsaBits(*blob);
  if (kind.type == SSH_KEYTYPE_RSA && result.bits < kMinRsaBits) {
    return Status(ErrorCode::kInvalid,
                  fmt::format("RSA keys need at least {} bits; this one has {}", kMinRsaBits, result.bits));
  }
  return result;
}

Result<SshPublicKey> PublicKeyOf(ssh_key private_key, std::string_view comment) {
  ssh_key raw = nullptr;
  if (ssh_pki_export_privkey_to_pubkey(private_key, &raw) != SSH_OK) {
    return Status(ErrorCode::kIo, "deriving the host's public key failed");
  }
  KeyPtr public_key(raw);
  char* base64_raw = nullptr;
  if (ssh_pki_export_pubkey_base64(public_key.get(), &base64_raw) != SSH_OK) {
    return Status(ErrorCode::kIo, "encoding the host's public key failed");
  }
  SshString base64(base64_raw);
  const char* type_name = ssh_key_type_to_char(ssh_key_type(public_key.get()));
  const KeyKind* kind = AcceptedKind(type_name != nullptr ? type_name : "");
  if (kind == nullptr) return Status(ErrorCode::kInvalid, "the host key is of a type Ferry does not use");
  return MakeKey(*kind, base64.get(), comment);
}

Status WriteExclusive(const std::string& path, std::string_view text, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return Status::FromErrno(errno, path);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::unlink(path.c_str());
      return Status::FromErrno(err, path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, path);
  return Status::Ok();
}

}  // namespace

std::string SshPublicKey::Label() const {
  if (type == "ssh-ed25519") return "ED25519";
  if (type.starts_with("ecdsa-")) return "ECDSA";
  if (type == "ssh-rsa") return "RSA";
  return type;
}

std::string SshPublicKey::FingerprintLine() const {
  return fmt::format("{} {} {} ({})", bits, fingerprint, comment.empty() ? "no comment" : comment, Label());
}

Result<SshPublicKey> ParseAuthorizedKey(std::string_view line) {
  const auto words = Words(line);
  if (words.empty()) return Status(ErrorCode::kInvalid, "no key on the line");
  const KeyKind* kind = AcceptedKind(words[0]);
  if (kind == nullptr) {
    if (auto reason = RefusedKind(words[0])) return Status(ErrorCode::kInvalid, *reason);
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (AcceptedKind(words[i]) != nullptr || RefusedKind(words[i])) {
        return Status(ErrorCode::kInvalid,
                      "options in front of the key are not supported: give the key as its .pub file holds it");
      }
    }
    return Status(ErrorCode::kInvalid, fmt::format("'{:.40}' is not an OpenSSH public key (ssh-ed25519 AAAA...)",
                                                   words[0]));
  }
  if (words.size() < 2) return Status(ErrorCode::kInvalid, fmt::format("the {} key has no key data", kind->name));
  // The comment is the rest of the line after the key data, spaces and all.
  std::string_view comment;
  if (words.size() > 2) {
    comment = line.substr(static_cast<std::size_t>(words[2].data() - line.data()));
    while (!comment.empty() &&
           (comment.back() == ' ' || comment.back() == '\t' || comment.back() == '\r' || comment.back() == '\n')) {
      comment.remove_suffix(1);
    }
  }
  if (comment.size() > kMaxCommentLength) return Status(ErrorCode::kInvalid, "the key's comment is too long");
  for (const char c : comment) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return Status(ErrorCode::kInvalid, "the key's comment holds control characters");
    }
  }
  return MakeKey(*kind, words[1], comment);
}

Result<std::vector<SshPublicKey>> ParseAuthorizedKeys(std::string_view text) {
  std::vector<SshPublicKey> keys;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto key = ParseAuthorizedKey(line);
    if (!key.ok()) {
      return Status(ErrorCode::kInvalid, fmt::format("line {}: {}", line_number, key.status().message()));
    }
    keys.push_back(std::move(*key));
  }
  if (keys.empty()) return Status(ErrorCode::kInvalid, "no public key found (expected lines like: ssh-ed25519 AAAA...)");
  return keys;
}

Result<std::string> NormalizeFingerprint(std::string_view text) {
  if (text.starts_with("SHA256:")) text.remove_prefix(7);
  bool valid = text.size() == 43;
  for (const char c : text) {
    valid = valid && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '/');
  }
  if (!valid) {
    return Status(ErrorCode::kInvalid,
                  fmt::format("'{:.60}' is not a key fingerprint (SHA256:... as ferryd user key list shows)", text));
  }
  return "SHA256:" + std::string(text);
}

Result<SshPublicKey> CreateHostKey(const std::string& private_path, std::string_view comment) {
  if (::access(private_path.c_str(), F_OK) == 0) return Status::FromErrno(EEXIST, private_path);
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return Status(ErrorCode::kIo, "generating an Ed25519 host key failed");
  }
  KeyPtr key(raw);
  auto public_key = PublicKeyOf(key.get(), comment);
  if (!public_key.ok()) return public_key;
  // libssh writes the file itself (its export to a string over-reads its own buffer): under a temporary name,
  // made private before it gets its real name, which it takes only if no key is there yet.
  const std::string temporary = private_path + ".new";
  ::unlink(temporary.c_str());
  UniqueFd placeholder(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!placeholder.valid()) return Status::FromErrno(errno, temporary);
  if (ssh_pki_export_privkey_file(key.get(), nullptr, nullptr, nullptr, temporary.c_str()) != SSH_OK ||
      ::chmod(temporary.c_str(), 0600) != 0) {
    ::unlink(temporary.c_str());
    return Status(ErrorCode::kIo, fmt::format("writing the host key to {} failed", temporary));
  }
  const int linked = ::link(temporary.c_str(), private_path.c_str());
  const int link_error = errno;
  ::unlink(temporary.c_str());
  if (linked != 0) return Status::FromErrno(link_error, private_path);
  const std::string line = fmt::format("{} {} {}\n", public_key->type, public_key->blob_base64, comment);
  const std::string public_path = private_path + ".pub";
  ::unlink(public_path.c_str());  // a stale half of an older key must not stay beside the new one
  if (Status s = WriteExclusive(public_path, line, 0644); !s.ok()) return s;
  return public_key;
}

Result<SshPublicKey> ReadHostKey(const std::string& private_path) {
  ssh_key raw = nullptr;
  if (::access(private_path.c_str(), R_OK) != 0) return Status::FromErrno(errno, private_path);
  if (ssh_pki_import_privkey_file(private_path.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
    return Status(ErrorCode::kInvalid, fmt::format("{} is not an unencrypted OpenSSH private key", private_path));
  }
  KeyPtr key(raw);
  auto public_key = PublicKeyOf(key.get(), "");
  if (!public_key.ok()) return public_key;
  // The comment is kept in the .pub beside it (as ssh-keygen -l reads it), when that holds the same key.
  std::ifstream pub(private_path + ".pub");
  std::string line;
  if (pub && std::getline(pub, line)) {
    auto described = ParseAuthorizedKey(line);
    if (described.ok() && described->blob_base64 == public_key->blob_base64) public_key->comment = described->comment;
  }
  return public_key;
}

}  // namespace ferry::storage
