// ~/.ferry/config: host aliases, read the way ssh reads ~/.ssh/config (ssh_config(5)).
//
// "Host PATTERN..." starts a block that applies when the name typed as the host matches one of its patterns (* and ?;
// a pattern starting with ! excludes); keywords before the first Host apply to every host. For each keyword the
// first value found wins, so specific blocks go first and "Host *" last. Keywords are case-insensitive, and a value
// follows a space or "=". ssh's keywords where they exist: HostName, Port, User, IdentityFile, UserKnownHostsFile;
// Ferry's own: Plain (yes/no: --plain), AcceptNewHost (yes/no), PasswordFile. "#" starts a comment line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace ferry::client {

struct HostConfig {
  std::optional<std::string> host_name;
  std::optional<std::uint16_t> port;
  std::optional<std::string> user;
  std::optional<std::string> identity_file;        // ~ expanded
  std::optional<std::string> known_hosts_file;     // ~ expanded
  std::optional<std::string> password_file;        // ~ expanded
  std::optional<bool> plain;
  std::optional<bool> accept_new_host;
};

// ~/.ferry/config.
std::string DefaultHostConfigPath();

// What the file at `path` says for `alias`. A missing file is an empty configuration when `required` is false (the
// default file), ENOENT otherwise (a file given with -F). EINVAL, naming the file and line, for an unknown keyword
// or a bad value.
Result<HostConfig> LookupHostConfig(const std::string& path, const std::string& alias, bool required);

}  // namespace ferry::client
