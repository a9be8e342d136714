// DataRoot: the layout of a server's data folder, and the admin actions on it (init, users).
//
//   DIR/ferry.db       users (SQLite)            DIR/homes/NAME   each user's home (0700)
//   DIR/ferryd.toml    configuration             DIR/tls/         certificate and key (key 0600)
//   DIR/partials/NAME  each user's unfinished uploads, outside the home so no session ever sees half a file
//   DIR/ssh/           the SSH host key (host_ed25519_key, 0600, and its .pub)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"
#include "server/server_config.h"
#include "storage/user_store.h"

namespace ferry::server {

class DataRoot {
 public:
  explicit DataRoot(std::string dir);

  // Creates a new data root at `dir` (which may exist; missing folders above it are made). Fails without touching
  // anything if `dir` already holds a database.
  static Status Init(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::string database_path() const { return dir_ + "/ferry.db"; }
  std::string homes_path() const { return dir_ + "/homes"; }
  std::string config_path() const { return dir_ + "/ferryd.toml"; }
  std::string home_of(std::string_view user) const { return homes_path() + "/" + std::string(user); }
  std::string partials_path() const { return dir_ + "/partials"; }
  std::string partials_of(std::string_view user) const { return partials_path() + "/" + std::string(user); }
  std::string host_key_path() const { return dir_ + "/ssh/host_ed25519_key"; }
  // `path` as is if absolute, else relative to the data root.
  std::string Resolve(const std::string& path) const;

  // The SSH host key, created first if the data root has none (one made before SSH was served). `created` says
  // whether it was made now.
  Result<storage::SshPublicKey> EnsureHostKey(bool* created = nullptr) const;

  // Opens the user database of an initialised data root (ENOENT naming `ferryd init` otherwise).
  Result<std::unique_ptr<storage::UserStore>> OpenUsers() const;

  // Adds a user and creates the home. A folder already there (e.g. after `user del` without --remove-home) is
  // refused unless `adopt_home`. Leaves nothing behind on failure.
  Status AddUser(std::string_view name, std::string_view password, const storage::PasswordHashCost& cost,
                 const storage::UserPermissions& permissions = {}, const storage::UserQuota& quota = {},
                 bool adopt_home = false) const;
  // Removes a user; with `remove_home`, deletes the home and everything in it.
  Status RemoveUser(std::string_view name, bool remove_home) const;

 private:
  std::string dir_;
};

// The hash cost a config names ("interactive" or "moderate").
storage::PasswordHashCost HashCostFor(const ServerConfig& config);

}  // namespace ferry::server
