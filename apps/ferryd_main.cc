// ferryd: the Ferry server, and the administration of its data root.
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "usage.h"

#include "common/byte_size.h"
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

// A quota limit as given on the command line: "none" removes it.
Result<std::optional<std::uint64_t>> ParseLimit(const std::string& text, bool is_size) {
  if (text == "none" || text == "unlimited") return std::optional<std::uint64_t>();
  if (is_size) {
    auto bytes = ferry::ParseByteSize(text);
    if (!bytes.ok()) return bytes.status();
    return std::optional<std::uint64_t>(*bytes);
  }
  std::uint64_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc() || end != text.data() + text.size() || count > (std::uint64_t{1} << 62)) {
    return Status(ferry::ErrorCode::kInvalid, fmt::format("invalid file count '{}': use a number or none", text));
  }
  return std::optional<std::uint64_t>(count);
}

std::string FormatLimit(const std::optional<std::uint64_t>& limit, bool is_size) {
  if (!limit) return "none";
  return is_size ? ferry::HumanBytes(static_cast<double>(*limit)) : std::to_string(*limit);
}

// Run as root on a data root that belongs to another user (the service's own), an administration command acts as
// that user: what it creates is that user's, so the server running as it can use it, and no link planted in the
// data root (which that user can write) can lead root to write, or hand over, anything elsewhere.
Status ActAsOwnerOf(const std::string& dir) {
  if (::geteuid() != 0) return Status::Ok();
  struct stat owner {};
  if (::stat(dir.c_str(), &owner) != 0 || owner.st_uid == 0) return Status::Ok();  // a new or root's own data root
  if (::setgroups(0, nullptr) != 0 || ::setgid(owner.st_gid) != 0 || ::setuid(owner.st_uid) != 0) {
    return Status(ferry::ErrorCode::kNotPermitted,
                  fmt::format("cannot act as the owner of {} (uid {}): {}", dir, owner.st_uid, std::strerror(errno)));
  }
  return Status::Ok();
}

// A quota as `user set-quota` reports it: "4.0 GiB, 1000 files", "none".
std::string QuotaText(const ferry::storage::UserQuota& quota) {
  if (!quota.max_bytes && !quota.max_files) return "none";
  const std::string bytes = quota.max_bytes ? ferry::HumanBytes(static_cast<double>(*quota.max_bytes)) : "no byte limit";
  const std::string files = quota.max_files ? fmt::format("{} files", *quota.max_files) : "no file limit";
  return fmt::format("{}, {}", bytes, files);
}

Result<ferry::server::ServerConfig> LoadConfig(const ferry::server::DataRoot& root) {
  return ferry::server::ServerConfig::Load(root.config_path());
}

// Public keys from a file, or stdin for "-"; at most 1 MiB.
Result<std::string> ReadKeyFile(const std::string& path) {
  constexpr std::size_t kMaxKeyFile = 1 << 20;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return Status::FromErrno(errno, path);
    in = &file;
  }
  std::string text(kMaxKeyFile + 1, '\0');
  in->read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in->gcount()));
  if (text.size() > kMaxKeyFile) return Status(ferry::ErrorCode::kInvalid, fmt::format("{} is over 1 MiB", path));
  return text;
}

int RunKeyCommand(const ferry::server::DataRoot& root, std::string_view action, const std::string& name,
                  const std::string& file, const std::string& fingerprint) {
  auto users = root.OpenUsers();
  if (!users.ok()) return Fail(users.status());
  if (action == "add") {
    auto text = ReadKeyFile(file);
    if (!text.ok()) return Fail(text.status());
    auto keys = ferry::storage::ParseAuthorizedKeys(*text);
    if (!keys.ok()) return Fail(Status(keys.status().code(), fmt::format("{}: {}", file, keys.status().message())));
    auto added = (*users)->AddKeys(name, *keys);
    if (!added.ok()) return Fail(added.status());
    for (std::size_t i = 0; i < keys->size(); ++i) {
      std::cout << ((*added)[i] ? "Added key " : "Key already present: ") << (*keys)[i].FingerprintLine() << "\n";
    }
    return 0;
  }
  if (action == "list") {
    auto keys = (*users)->Keys(name);
    if (!keys.ok()) return Fail(keys.status());
    for (const auto& key : *keys) std::cout << key.FingerprintLine() << "\n";
    return 0;
  }
  auto normalized = ferry::storage::NormalizeFingerprint(fingerprint);
  if (!normalized.ok()) return Fail(normalized.status());
  if (Status s = (*users)->RemoveKey(name, *normalized); !s.ok()) return Fail(s);
  std::cout << "Removed key " << *normalized << " of " << name << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferryd: the Ferry file-transfer server"};
  app.set_version_flag("--version", "ferryd " FERRY_VERSION);
  app.require_subcommand(1);

  std::string init_dir;
  auto* init = app.add_subcommand("init", "Create a data root: database, homes/, TLS identity, config file");
  init->add_option("DIR", init_dir, "Folder to create the data root in")->required();

  auto* default_config = app.add_subcommand(
      "default-config", "Print the default ferryd.toml (every key commented out at its default, as init writes it)");

  std::string root_dir;
  std::string listen;
  std::string ftp_listen;
  std::string ftps_implicit_listen;
  std::string sftp_listen;
  std::string log_level;
  unsigned threads = 0;
  bool plain = false;
  auto* serve = app.add_subcommand("serve", "Serve clients");
  // The data root: --root, else $FERRY_ROOT, else the packaged service's.
  const auto add_root = [&root_dir](CLI::App* sub) {
    sub->add_option("--root", root_dir, "Data root (default: $FERRY_ROOT, else /var/lib/ferry)");
  };
  add_root(serve);
  serve->add_option("--listen", listen, "Address to listen on, HOST:PORT (overrides the config)");
  serve->add_option("--ftp-listen", ftp_listen, "Serve FTP (with AUTH TLS) on HOST:PORT (overrides ftp.listen)");
  serve->add_option("--ftps-implicit-listen", ftps_implicit_listen,
                    "Serve implicit FTPS on HOST:PORT (overrides ftp.implicit_listen)");
  serve->add_option("--sftp-listen", sftp_listen, "Serve SSH (SFTP) on HOST:PORT (overrides sftp.listen)");
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
  auto* user_set_quota = user->add_subcommand("set-quota", "Change a user's quota (open sessions included)");
  std::string quota_text;
  std::string max_files_text;
  user_add->add_option("--quota", quota_text, "Most bytes the user may store: 500M, 2G, 1048576 (default: none)");
  user_add->add_option("--max-files", max_files_text, "Most files, folders and links in the home (default: none)");
  std::string quota_name;
  user_set_quota->add_option("NAME", quota_name, "User name")->required();
  user_set_quota->add_option("SIZE", quota_text, "Most bytes: 500M, 2G, 1048576, or none");
  user_set_quota->add_option("--max-files", max_files_text, "Most files, folders and links, or none");
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
  for (auto* sub : {user_add, user_del, user_passwd, user_list, user_set_perm, user_set_quota}) add_root(sub);
  for (auto* sub : {user_add, user_del, user_set_perm}) sub->add_option("NAME", names, "User names")->required();
  std::string passwd_name;
  user_passwd->add_option("NAME", passwd_name, "User name")->required();
  bool adopt_home = false;
  user_add->add_flag("--adopt-home", adopt_home,
                     "Give the user a home folder that exists already (left by 'user del' without --remove-home)");
  for (auto* sub : {user_add, user_passwd}) {
    sub->add_flag("--password-stdin", password_stdin, "Read the password from the first line of stdin");
  }
  user_del->add_flag("--remove-home", remove_home, "Also delete the user's home and everything in it");
  bool logout = false;
  user_passwd->add_flag("--logout", logout, "Also end the user's sessions open now (a running server ends them)");

  auto* user_key = user->add_subcommand("key", "Manage a user's public keys (SSH and ferry -i logins)");
  user_key->require_subcommand(1);
  std::string key_user;
  std::string key_file;
  std::string key_fingerprint;
  auto* key_add = user_key->add_subcommand("add", "Add public keys: OpenSSH authorized_keys lines from FILE ('-': stdin)");
  auto* key_list = user_key->add_subcommand("list", "List a user's keys: size, SHA256 fingerprint, comment, type");
  auto* key_del = user_key->add_subcommand("del", "Remove a user's key by its fingerprint");
  for (auto* sub : {key_add, key_list, key_del}) {
    add_root(sub);
    sub->add_option("NAME", key_user, "User name")->required();
  }
  key_add->add_option("FILE", key_file, "File of public keys (id_ed25519.pub, authorized_keys), or - for stdin")
      ->required();
  key_del->add_option("FINGERPRINT", key_fingerprint, "SHA256:... as 'ferryd user key list' shows")->required();

  if (auto done = ferry::ParseCommandLine(app, argc, argv, "ferryd")) return *done;

  if (*default_config) {
    std::cout << ferry::server::ServerConfig::DefaultFileText();
    return 0;
  }

  if (*init) {
    if (Status s = ActAsOwnerOf(init_dir); !s.ok()) return Fail(s);
    if (Status s = ferry::server::DataRoot::Init(init_dir); !s.ok()) return Fail(s);
    const ferry::server::DataRoot root(init_dir);
    auto fingerprint = ferry::CertificateFileFingerprint(root.Resolve("tls/cert.pem"));
    std::cout << "Initialised data root " << root.dir() << "\n";
    if (fingerprint.ok()) std::cout << "TLS certificate fingerprint: " << *fingerprint << "\n";
    if (auto host_key = root.EnsureHostKey(); host_key.ok()) {
      std::cout << "SSH host key: " << host_key->FingerprintLine() << "\n";
    }
    std::cout << "Add a user with: ferryd user add --root " << root.dir() << " NAME\n";
    return 0;
  }

  if (root_dir.empty()) {  // not CLI11's envname: it would let the variable override --root of another subcommand
    const char* env = std::getenv("FERRY_ROOT");
    root_dir = env != nullptr && *env != '\0' ? env : "/var/lib/ferry";
  }
  if (*user) {
    if (Status s = ActAsOwnerOf(root_dir); !s.ok()) return Fail(s);
  }
  const ferry::server::DataRoot root(root_dir);
  auto config = LoadConfig(root);
  if (!config.ok()) return Fail(config.status());

  if (*serve) {
    if (!listen.empty()) config->listen = listen;
    if (!ftp_listen.empty()) config->ftp_listen = ftp_listen;
    if (!ftps_implicit_listen.empty()) config->ftp_implicit_listen = ftps_implicit_listen;
    if (!sftp_listen.empty()) config->sftp_listen = sftp_listen;
    if (serve->count("--threads") > 0) config->threads = threads;
    if (!log_level.empty()) config->log_level = log_level;
    if (plain) config->tls = false;
    if (Status s = ferry::SetupLogging(config->log_level); !s.ok()) return Fail(s);
    ferry::server::Server server(root, *config);
    if (Status s = server.Start(); !s.ok()) return Fail(s);
    server.Run();
    return 0;
  }

  if (*user_key) return RunKeyCommand(root, *key_add ? "add" : *key_list ? "list" : "del", key_user, key_file,
                                      key_fingerprint);

  if (*user_list) {
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    const auto list = (*users)->List();
    if (!list.ok()) return Fail(list.status());
    const auto& records = *list;
    if (!records.empty()) {
      std::cout << fmt::format("{:<32} {:<10} {:<7} {:>10} {:>10}\n", "NAME", "ACCESS", "EXEC", "QUOTA", "MAX-FILES");
    }
    for (const auto& record : records) {
      std::cout << fmt::format("{:<32} {:<10} {:<7} {:>10} {:>10}\n", record.name,
                               record.permissions.read_only ? "read-only" : "read-write",
                               record.permissions.can_exec ? "exec" : "no-exec", FormatLimit(record.quota.max_bytes, true),
                               FormatLimit(record.quota.max_files, false));
    }
    return 0;
  }
  if (*user_set_quota) {
    if (quota_text.empty() && max_files_text.empty()) {
      return Fail(Status(ferry::ErrorCode::kInvalid, "give a SIZE (or none), --max-files N (or none), or both"));
    }
    std::optional<std::optional<std::uint64_t>> max_bytes;
    std::optional<std::optional<std::uint64_t>> max_files;
    if (!quota_text.empty()) {
      auto limit = ParseLimit(quota_text, true);
      if (!limit.ok()) return Fail(limit.status());
      max_bytes = *limit;
    }
    if (!max_files_text.empty()) {
      auto limit = ParseLimit(max_files_text, false);
      if (!limit.ok()) return Fail(limit.status());
      max_files = *limit;
    }
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    if (Status s = (*users)->SetQuota(quota_name, max_bytes, max_files); !s.ok()) return Fail(s);
    auto record = (*users)->Find(quota_name);
    if (!record.ok()) return Fail(record.status());
    std::cout << fmt::format("Quota of {}: {}\n", quota_name, QuotaText(record->quota));
    return 0;
  }
  if (*user_set_perm) {
    if (!read_only && !read_write && !exec && !no_exec) {
      return ferry::UsageError("ferryd user set-perm", "give the permissions to set: --read-only or --read-write, "
                                                        "--exec or --no-exec");
    }
    if ((read_only && read_write) || (exec && no_exec)) {
      return ferry::UsageError("ferryd user set-perm", "contradictory permissions given");
    }
    std::optional<bool> new_read_only;
    if (read_only || read_write) new_read_only = read_only;
    std::optional<bool> new_exec;
    if (exec || no_exec) new_exec = exec;
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    for (const auto& name : names) {
      if (Status s = (*users)->SetPermissions(name, new_read_only, new_exec); !s.ok()) return Fail(s);
      auto record = (*users)->Find(name);
      if (!record.ok()) return Fail(record.status());
      std::cout << fmt::format("Permissions of {}: {}, {}\n", name,
                               record->permissions.read_only ? "read-only" : "read-write",
                               record->permissions.can_exec ? "exec" : "no-exec");
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
    ferry::storage::UserQuota quota;
    if (!quota_text.empty()) {
      auto limit = ParseLimit(quota_text, true);
      if (!limit.ok()) return Fail(limit.status());
      quota.max_bytes = *limit;
    }
    if (!max_files_text.empty()) {
      auto limit = ParseLimit(max_files_text, false);
      if (!limit.ok()) return Fail(limit.status());
      quota.max_files = *limit;
    }
    auto password = NewPassword(password_stdin, names.front());
    if (!password.ok()) return Fail(password.status());
    for (const auto& name : names) {
      if (Status s = root.AddUser(name, *password, cost, {read_only, exec}, quota, adopt_home); !s.ok()) {
        return Fail(s);
      }
      std::cout << "Added user " << name << "\n";
    }
    return 0;
  }
  if (*user_passwd) {
    auto users = root.OpenUsers();
    if (!users.ok()) return Fail(users.status());
    if (auto found = (*users)->Find(passwd_name); !found.ok()) return Fail(found.status());
    auto password = NewPassword(password_stdin, passwd_name);
    if (!password.ok()) return Fail(password.status());
    if (Status s = (*users)->SetPassword(passwd_name, *password, cost); !s.ok()) return Fail(s);
    if (logout) {
      if (Status s = (*users)->EndSessions(passwd_name); !s.ok()) return Fail(s);
    }
    std::cout << "Changed password of " << passwd_name << (logout ? "; their open sessions end" : "") << "\n";
    return 0;
  }
  return 0;
}
