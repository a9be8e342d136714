#include "client/identity.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ferry::client {
namespace {

constexpr std::size_t kMaxKeyFile = 64 * 1024;

// The algorithm name a public key blob starts with.
std::string TypeOf(std::string_view blob) {
  if (blob.size() < 4) return "";
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  const std::size_t length = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  if (length > blob.size() - 4) return "";
  return std::string(blob.substr(4, length));
}

}  // namespace

Result<Identity> Identity::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, path);
  std::string text(kMaxKeyFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxKeyFile) return Status(ErrorCode::kInvalid, fmt::format("{}: too large for a key file", path));
  Identity identity;
  identity.path_ = path;
  if (text.find("PRIVATE KEY-----") != std::string::npos) {
    auto info = ssh::InspectPrivateKey(text);
    if (!info.ok()) return Status(ErrorCode::kInvalid, fmt::format("{}: {}", path, info.status().message()));
    identity.blob_ = std::move(info->public_blob);
    identity.encrypted_ = info->encrypted;
    if (!info->encrypted) {
      auto key = ssh::ParsePrivateKey(text);
      if (!key.ok()) return Status(ErrorCode::kInvalid, fmt::format("{}: {}", path, key.status().message()));
      identity.key_.emplace(std::move(key).value());
    }
  } else {
    // A public key line: TYPE BASE64 [COMMENT].
    std::istringstream line(text);
    std::string type, base64;
    line >> type >> base64;
    auto blob = ssh::FromBase64(base64);
    if (type.empty() || !blob.ok() || TypeOf(*blob) != type) {
      return Status(ErrorCode::kInvalid,
                    fmt::format("{}: neither an OpenSSH private key nor a public key line", path));
    }
    identity.blob_ = std::move(blob).value();
  }
  identity.type_ = TypeOf(identity.blob_);
  if (identity.type_.empty()) return Status(ErrorCode::kInvalid, fmt::format("{}: the key is damaged", path));
  return identity;
}

std::string Identity::key_text() const { return type_ + " " + ssh::Base64(blob_); }

Result<std::string> Identity::Sign(std::string_view data, const std::string& agent_socket) const {
  Status agent_status(ErrorCode::kNotFound, "no ssh-agent is running (SSH_AUTH_SOCK is not set)");
  if (!agent_socket.empty()) {
    auto signature = ssh::AgentSign(agent_socket, blob_, data);
    if (signature.ok()) return signature;
    agent_status = signature.status();
  }
  if (key_) return key_->Sign(data);
  const std::string why = encrypted_ ? "is protected by a passphrase" : "is a public key";
  return Status(ErrorCode::kAuthFailed,
                fmt::format("{} {}, so ssh-agent must sign with it, and: {} (add it with: ssh-add FILE)", path_, why,
                            agent_status.message()));
}

}  // namespace ferry::client
