// ferryd: the Ferry server, and the administration of its data root.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/logging.h"
#include "common/password_prompt.h"
#include "common/tls_fingerprint.h"
#include "server/data_root.h"
#include "server/server.h"
#include "server/server_config.h"

namespace {

using ferry::Result;
using ferry::Status;

int Fail(const Status& status) {
  std::cerr << "ferryd: " << status.message() << "\n";
  return 1;
}

// A new password: from stdin with --password-stdin, else FERRY_PASSWORD, else asked twice on the terminal.
Result<std::string> NewPassword(bool from_stdin, const std::string& user) {
  if (from_stdin) return ferry::ReadLineFromFd(STDIN_FILENO);
  if (const char* env = std::getenv("FERRY_PASSWORD"); env != nullptr && *env != '\0') return std::string(env);
  auto first = ferry::ReadSecretFromTerminal(fmt::format("New password for {}: ", user));
  if (!first.ok()) return first;
  auto second = ferry::ReadSecretFromTerminal("Retype new password: ");
  if (!second.ok()) return second;
  if (*first != *second) return Status(ferry::ErrorCode::kInvalid, "passwords do not match");
  return first;
}

Result<ferry::server::ServerConfig> LoadConfig(const ferry::server::DataRoot& root) {
  return ferry::server::ServerConfig::Load(root.config_path());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferryd: the Ferry file-transfer server"};
  app.set_version_flag("--version", "ferryd " FERRY_VERSION);
  app.require_subcommand(1);

  std::string init_dir;
  auto* init = app.add_subcommand("init", "Create a data root: database, homes/, TLS identity, config file");
  init->add_option("DIR", init_dir, "Folder to create the data root in")->required();

  std::string root_dir;
  std::string listen;
  std::string log_level;
  unsigned threads = 0;
  bool plain = false;
  auto* serve = app.add_subcommand("serve", "Serve clients");
  serve->add_option("--root", root_dir, "Data root")->required();
  serve->add_option("--listen", listen, "Address to listen on, HOST:PORT (overrides the config)");
  serve->add_option("--threads", threads, "Event-loop threads, 0 for one per core (overrides the config)");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error or off (overrides the config)");
  serve->add_flag("--plain", plain, "Serve unencrypted TCP (benchmarks and debugging only)");

  auto* user = app.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  std::vector<std::string> names;
  bool password_stdin = false;
  bool remove_home = false;
  auto* user_add = user->add_subcommand("add", "Add users (each gets the same initial password)");
  auto* user_del = user->add_subcommand("del", "Remove users");
  auto* user_passwd = user->add_subcommand("passwd", "Change a user's password");
  auto* user_list = user->add_subcommand("list", "List users and their permissions");
  auto* user_set_perm = user->add_subcommand("set-perm", "Change a user's permissions (open sessions included)");
  bool read_only = false;
  bool read_write = false;
  bool exec = false;
  bool no_exec = false;
  for (auto* sub : {user_add, user_set_perm}) {
    sub->add_flag("--read-only", read_only, "List and download only");
    sub->add_flag("--exec", exec, "May run programs on the server");
  }
  user_set_perm->add_flag("--read-write", read_write, "May change files again");
  user_set_perm->add_flag("--no-exec", no_exec, "May no longer run programs");
  for (auto* sub : {user_add, user_del, user_passwd, user_list, user_set_perm}) {
    sub->add_option("--root", root_dir, "Data root")->required();
  }
  for (auto* sub : {user_add, user_del, user_passwd, user_set_perm}) {
    sub->add_option("NAME", names, "User name")->required();
  }
  for (auto* sub : {user_add, user_passwd}) {
    sub->add_flag("--password-stdin", password_stdin, "Read the password from the first line of stdin");
  }
  user_del->add_flag("--remove-home", remove_home, "Also delete the user's home and everything in it");

  CLI11_PARSE(app, argc, argv);

  if (*init) {
    if (Status s = ferry::server::DataRoot::Init(init_dir); !s.ok()) return Fail(s);
    const ferry::server::DataRoot root(init_dir);
    auto fingerprint = ferry::CertificateFileFingerprint(root.Resolve("tls/cert.pem"));
    std::cout << "Initialised data root " << root.dir() << "\n";
    if (fingerprint.ok()) std::cout << "TLS certificate fingerprint: " << *fingerprint << "\n";
    std::cout << "Add a user with: ferryd user add --root " << root.dir() << " NAME\n";
    return 0;
  }

  const ferry::server::DataRoot root(root_dir);
  auto config = LoadConfig(root);
  if (!config.ok()) return Fail(config.status());

  if (*serve) {
    if (!listen.empty()) config->listen = listen;
    if (serve->count("--threads") > 0) config->threads = threads;
    if (!log_level.empty()) config->log_level = log_level;
    if (plain) config->tls = false;
    if (Status s = ferry::SetupLogging(config->log_level); !s.ok()) return Fail(s);
    ferry::server::Server server(root, *config);
    if (Status s = server.Start(); !s.ok()) return Fail(s);
    server.Run();
    return 0;
  }

  if (*user_list) {
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    for (const auto& record : (*users)->List()) {
      std::cout << fmt::format("{:<32} {:<10} {}\n", record.name,
                               record.permissions.read_only ? "read-only" : "read-write",
                               record.permissions.can_exec ? "exec" : "no-exec");
    }
    return 0;
  }
  if (*user_set_perm) {
    if ((read_only && read_write) || (exec && no_exec)) {
      return Fail(Status(ferry::ErrorCode::kInvalid, "contradictory permissions given"));
    }
    std::optional<bool> new_read_only;
    if (read_only || read_write) new_read_only = read_only;
    std::optional<bool> new_exec;
    if (exec || no_exec) new_exec = exec;
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    for (const auto& name : names) {
      if (Status s = (*users)->SetPermissions(name, new_read_only, new_exec); !s.ok()) return Fail(s);
      std::cout << "Changed permissions of " << name << "\n";
    }
    return 0;
  }
  if (*user_del) {
    for (const auto& name : names) {
      if (Status s = root.RemoveUser(name, remove_home); !s.ok()) return Fail(s);
      std::cout << "Removed user " << name << (remove_home ? " and their home" : "") << "\n";
    }
    return 0;
  }
  const auto cost = ferry::server::HashCostFor(*config);
  if (*user_add) {
    for (const auto& name : names) {
      if (Status s = ferry::storage::UserStore::ValidateName(name); !s.ok()) return Fail(s);
    }
    auto password = NewPassword(password_stdin, names.front());
    if (!password.ok()) return Fail(password.status());
    for (const auto& name : names) {
      if (Status s = root.AddUser(name, *password, cost, {read_only, exec}); !s.ok()) return Fail(s);
      std::cout << "Added user " << name << "\n";
    }
    return 0;
  }
  if (*user_passwd) {
    if (names.size() != 1) return Fail(Status(ferry::ErrorCode::kInvalid, "passwd takes exactly one user name"));
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    if (!(*users)->Find(names.front())) {
      return Fail(Status(ferry::ErrorCode::kNotFound, fmt::format("no such user '{}'", names.front())));
    }
    auto password = NewPassword(password_stdin, names.front());
    if (!password.ok()) return Fail(password.status());
    if (Status s = (*users)->SetPassword(names.front(), *password, cost); !s.ok()) return Fail(s);
    std::cout << "Changed password of " << names.front() << "\n";
    return 0;
  }
  return 0;
}
