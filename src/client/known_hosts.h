// KnownHosts: the server certificates this user has trusted, as ssh's known_hosts: "HOST:PORT SHA256:hex" lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/status.h"

namespace ferry::client {

class KnownHosts {
 public:
  // The default file: $HOME/.ferry/known_hosts.
  static std::string DefaultPath();
  explicit KnownHosts(std::string path) : path_(std::move(path)) {}

  // The pinned fingerprint of `host_port` ("127.0.0.1:7021", "[::1]:7021"), if any. A missing file pins nothing.
  Result<std::optional<std::string>> Lookup(const std::string& host_port) const;
  // The line (from 1) that pins `host_port`; 0 when none does.
  Result<std::size_t> LineOf(const std::string& host_port) const;
  // Pins `fingerprint` for `host_port`, creating the file (0600) and its folder (0700) as needed.
  Status Add(const std::string& host_port, const std::string& fingerprint) const;
  // Removes every line for `host_port`, as ssh-keygen -R does (the file is rewritten beside itself and renamed over,
  // keeping its mode); returns how many went. A missing file holds none.
  Result<std::size_t> Forget(const std::string& host_port) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ferry::client
