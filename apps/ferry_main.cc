// ferry: the Ferry client. One command, a batch file, or an interactive shell.
#include <malloc.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "usage.h"

#include "client/command_line.h"
#include "client/known_hosts.h"
#include "client/commands.h"
#include "client/host_config.h"
#include "client/ping.h"
#include "client/client_session.h"
#include "client/shell.h"
#include "client/terminal_text.h"
#include "common/password_prompt.h"

namespace {

using ferry::Status;

// Exit statuses scripts can tell apart (the README's table; 2 for usage errors is usage.h's, 130 is SIGINT's).
constexpr int kExitRemote = 1;      // the server refused or could not do what was asked (a remote file error)
constexpr int kExitConnection = 3;  // could not connect, TLS, an untrusted server, or the connection was lost
constexpr int kExitLogin = 4;       // the login was refused
constexpr int kExitLocal = 5;       // a local file could not be read or written (or another error on this side)
constexpr int kExitPartial = 6;     // of several paths or in a tree, some failed (each was reported)

// Messages may name remote files or come from the server: escaped (see terminal_text.h).
int Fail(const Status& status, int exit_code = kExitLocal) {
  std::cerr << "ferry: " << ferry::client::EscapeForTerminal(status.message()) << "\n";
  return exit_code;
}

// A command's usage error, as the client's own commands word them.
bool IsUsageError(const Status& status) {
  const std::string& message = status.message();
  return status.code() == ferry::ErrorCode::kInvalid &&
         (message.starts_with("usage: ") || message.find(": unknown option -") != std::string::npos ||
          message.starts_with("unknown command '"));
}

// The exit status for a command's failure.
int ExitCodeFor(const Status& status, ferry::client::ClientSession& session,
                const ferry::client::CommandRunner& runner) {
  if (!session.connected() || status.code() == ferry::ErrorCode::kShuttingDown) return kExitConnection;
  if (IsUsageError(status)) return 2;
  if (runner.partial_failure()) return kExitPartial;
  if (runner.remote_failure()) return kExitRemote;
  const Status& refused = session.connection().last_refusal();
  if (!refused.ok() && refused.code() == status.code()) return kExitRemote;
  return kExitLocal;
}

std::string LocalUserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr) return entry->pw_name;
  return "";
}

// ferry ping [-c COUNT] [-i SECONDS] [-W SECONDS] [-s BYTES] HOST[:PORT]
int Ping(int argc, char** argv) {
  CLI::App app{"ferry ping: send UDP probes to a ferryd and report round-trip times, like ping(8)"};
  std::string target;
  unsigned count = 0;
  double interval = 1.0;
  double wait = 2.0;
  std::size_t size = 32;
  app.add_option("HOST", target, "HOST[:PORT] (port 7021 by default)")->required();
  app.add_option("-c,--count", count, "Probes to send (default: until interrupted)");
  app.add_option("-i,--interval", interval, "Seconds between probes (default 1)")->check(CLI::Range(0.01, 3600.0));
  app.add_option("-W,--wait", wait, "Seconds to wait for replies after the last probe (default 2)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("-s,--size", size, "Bytes per probe (16 to 1024, default 32)")->check(CLI::Range(16, 1024));
  if (auto done = ferry::ParseCommandLine(app, argc, argv, "ferry ping")) return *done;
  auto address = ferry::ParseHostPort(target);
  if (!address.ok()) return Fail(address.status(), 2);
  ferry::client::PingOptions options;
  options.target = *address;
  options.count = count;
  options.interval = std::chrono::milliseconds(static_cast<long long>(interval * 1000));
  options.wait = std::chrono::milliseconds(static_cast<long long>(wait * 1000));
  options.size = size;
  return ferry::client::RunPing(options, std::cout, std::cerr);
}

// ferry --forget-host HOST[:PORT]: drops the server's pinned certificate, as ssh-keygen -R drops a host key.
int ForgetHost(const std::string& text, const std::string& known_hosts_path) {
  auto address = ferry::ParseHostPort(text);
  if (!address.ok()) return ferry::UsageError("ferry", address.status().message());
  const std::string host_port = ferry::FormatHostPort(*address);
  const ferry::client::KnownHosts known_hosts(known_hosts_path.empty() ? ferry::client::KnownHosts::DefaultPath()
                                                                       : known_hosts_path);
  auto removed = known_hosts.Forget(host_port);
  if (!removed.ok()) return Fail(removed.status());
  if (*removed == 0) {
    std::cerr << "ferry: " << host_port << " is not in " << known_hosts.path() << "\n";
    return 1;
  }
  std::cout << "Removed " << host_port << " from " << known_hosts.path() << "\n";
  return 0;
}

// With prefix_command, CLI11 hands an option it does not know on as the start of the command (or takes its value
// for the target): the name of the first unknown option before the target, if any.
std::optional<std::string> UnknownOptionBeforeTarget(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--" || arg.size() < 2 || arg[0] != '-') return std::nullopt;  // the target
    const bool long_form = arg.substr(0, 2) == "--";
    const std::string name(long_form ? arg.substr(0, arg.find('=')) : arg.substr(0, 2));
    const CLI::Option* option = app.get_option_no_throw(name);
    if (option == nullptr) return name;
    const bool value_attached = long_form ? arg.find('=') != std::string_view::npos : arg.size() > 2;
    if (option->get_items_expected_min() > 0 && !value_attached) ++i;  // the option's value
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // A tree's scan and listings build and drop many blocks: what is freed is kept for reuse rather than handed back
  // to the system at once (large blocks too), since fresh pages cost a page fault each, and page faults are the
  // dearest part of a client's work on a virtual machine (a no-op put -r of 10,000 files made 1,400 of them).
  // (32 MiB is the largest mmap threshold glibc takes on 64-bit; a refused setting would leave the default, which
  // these settings also stop from adapting.)
  if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1) {
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 8 << 20);
  }
  // ping needs no login and no target user: it has a command line of its own.
  if (argc > 1 && std::string_view(argv[1]) == "ping") return Ping(argc - 1, argv + 1);

  CLI::App app{"ferry: the Ferry file-transfer client"};
  app.set_version_flag("--version", "ferry " FERRY_VERSION);
  app.prefix_command();
  app.footer(
      "Forms:\n"
      "  ferry [OPTIONS] TARGET [COMMAND [ARGS...]]   a command, or the interactive shell (type help) without one\n"
      "  ferry [OPTIONS] -b FILE TARGET               the commands of FILE, stopping at the first failure\n"
      "  ferry ping [-c COUNT] HOST[:PORT]            UDP probes, as ping(8) (see ferry ping --help)\n"
      "The password comes from --password-file, FERRY_PASSWORD_FILE, FERRY_PASSWORD, the config's PasswordFile or\n"
      "a prompt; with -i FILE the key logs in instead (see ferryd user key add). See ferry(1).\n"
      "Remote patterns are matched by the server; quote them for your shell: ferry alice@host get '*.txt'\n"
      "Exit status: 0 done, 1 refused by the server, 2 usage, 3 no connection, 4 login refused, 5 local file error,\n"
      "6 partly done, 130 interrupted.");
  std::string target_text;
  std::string batch_file;
  std::string known_hosts_path;
  std::string identity_file;
  bool plain = false;
  bool accept_new_host = false;
  bool quiet = false;
  unsigned port = 0;
  std::string password_file;
  std::string forget_host;
  std::string config_file;
  std::string limit_rate_text;
  app.add_option("TARGET", target_text, "[USER@]HOST[:PORT] (port 7021 by default); HOST may be an alias of the config file");
  app.add_option("-F,--config", config_file, "Host aliases from FILE instead of ~/.ferry/config (as ssh -F)");
  app.add_option("--forget-host", forget_host,
                 "Remove HOST[:PORT]'s pinned certificate from the known-hosts file and exit (as ssh-keygen -R)");
  app.add_option("-b,--batch", batch_file, "Run the commands in FILE ('-' for stdin), stop at the first failure");
  app.add_flag("-q,--quiet", quiet, "No progress bars or transfer summaries");
  app.add_option("--limit-rate", limit_rate_text,
                 "Move at most RATE bytes a second in every transfer (500K, 2M, 1G; as curl and rsync --bwlimit)");
  app.add_flag("--plain", plain, "Talk unencrypted TCP to a server started with --plain");
  app.add_flag("--accept-new-host", accept_new_host, "Trust and remember an unknown server's certificate");
  app.add_option("--known-hosts", known_hosts_path, "Known-hosts file (default: ~/.ferry/known_hosts)");
  app.add_option("-i,--identity", identity_file,
                 "Log in with this OpenSSH key instead of a password: a private key file (unencrypted), or a key "
                 "ssh-agent holds (SSH_AUTH_SOCK; FILE may then be the .pub)");
  app.add_option("--password-file", password_file,
                 "Read the password from the first line of FILE (readable by its owner only), as for scripts; also "
                 "FERRY_PASSWORD_FILE");
  app.add_option("-P,-p,--port", port, "The server's port (as sftp -P and ssh -p; the same as HOST:PORT)")
      ->check(CLI::Range(1, 65535));
  if (auto unknown = UnknownOptionBeforeTarget(app, argc, argv)) {
    return ferry::UsageError("ferry", fmt::format("unknown option {}", *unknown));
  }
  if (auto done = ferry::ParseCommandLine(app, argc, argv, "ferry")) return *done;
  const std::vector<std::string> command = app.remaining();
  if (!forget_host.empty()) return ForgetHost(forget_host, known_hosts_path);
  if (target_text.empty()) return ferry::UsageError("ferry", "TARGET is required");
  std::uint64_t limit_rate = 0;
  if (!limit_rate_text.empty()) {
    auto parsed = ferry::client::ParseLimitRate(limit_rate_text);
    if (!parsed.ok()) return ferry::UsageError("ferry", parsed.status().message());
    limit_rate = *parsed;
  }

  auto target = ferry::client::ParseTarget(target_text, /*default_port=*/0);
  if (!target.ok()) return ferry::UsageError("ferry", target.status().message());
  if (port != 0 && target->address.port != 0 && target->address.port != port) {
    return ferry::UsageError("ferry", fmt::format("two ports given: {} in {} and {} with -P", target->address.port,
                                                  target_text, port));
  }
  if (port != 0) target->address.port = static_cast<std::uint16_t>(port);
  // What the config file says for the host as typed; the command line wins, as with ssh.
  auto config = ferry::client::LookupHostConfig(
      config_file.empty() ? ferry::client::DefaultHostConfigPath() : config_file, target->address.host,
      /*required=*/!config_file.empty());
  if (!config.ok()) return ferry::UsageError("ferry", config.status().message());
  if (config->host_name) target->address.host = *config->host_name;
  if (target->address.port == 0 && config->port) target->address.port = *config->port;
  if (target->user.empty() && config->user) target->user = *config->user;
  if (identity_file.empty() && config->identity_file) identity_file = *config->identity_file;
  if (known_hosts_path.empty() && config->known_hosts_file) known_hosts_path = *config->known_hosts_file;
  if (!plain && config->plain) plain = *config->plain;
  if (!accept_new_host && config->accept_new_host) accept_new_host = *config->accept_new_host;
  if (target->address.port == 0) target->address.port = ferry::kDefaultPort;
  if (target->user.empty()) target->user = LocalUserName();
  const std::string host_port = ferry::FormatHostPort(target->address);

  ferry::client::SessionParameters parameters;
  parameters.target = std::move(target).value();
  parameters.tls = !plain;
  parameters.accept_new_host = accept_new_host;
  parameters.known_hosts_path = known_hosts_path;
  parameters.identity_file = identity_file;
  if (const char* agent = std::getenv("SSH_AUTH_SOCK"); agent != nullptr) parameters.agent_socket = agent;
  // Where the password comes from: --password-file, else FERRY_PASSWORD_FILE, else FERRY_PASSWORD (an empty one is
  // no password), else the config file's PasswordFile, else a prompt, the only source asked again after a wrong
  // password.
  if (password_file.empty()) {
    if (const char* file = std::getenv("FERRY_PASSWORD_FILE"); file != nullptr) password_file = file;
  }
  const char* env_password = std::getenv("FERRY_PASSWORD");
  const bool password_from_env = env_password != nullptr && *env_password != '\0';
  // The config file's PasswordFile comes after the environment, as every setting of the command line does.
  if (password_file.empty() && !password_from_env && config->password_file) password_file = *config->password_file;
  parameters.ask_again = password_file.empty() && !password_from_env;
  parameters.ask_password = [prompt = fmt::format("{}@{}'s password: ", parameters.target.user, host_port),
                             env = password_from_env ? std::string(env_password) : std::string(),
                             password_from_env, password_file]() -> ferry::Result<std::string> {
    if (!password_file.empty()) return ferry::ReadPasswordFile(password_file);
    if (password_from_env) return env;
    return ferry::ReadSecretFromTerminal(prompt);
  };
  ferry::client::ClientSession session(std::move(parameters));
  if (Status s = session.Open(); !s.ok()) {
    return Fail(s, s.code() == ferry::ErrorCode::kAuthFailed ? kExitLogin : kExitConnection);
  }

  ferry::client::CommandRunner runner(session, std::cout);
  runner.set_quiet(quiet);
  runner.set_limit_rate(limit_rate);
  Status result = Status::Ok();
  if (!command.empty()) {
    runner.set_columns(::isatty(STDOUT_FILENO) != 0, 80);
    // The hint that continues a cut-off transfer names this command line: what came before the command, then it.
    std::string prefix = "ferry ";
    for (int i = 1; i + static_cast<int>(command.size()) < argc; ++i) prefix += ferry::QuoteWord(argv[i]) + " ";
    runner.set_continue_prefix(std::move(prefix));
    result = runner.Run(command);
    if (command.front() == "exec" && runner.exec_exit_code()) {
      // The program ran: its exit status is ours, and it has said what went wrong itself, unless the server stopped
      // it (the time limit, the quota) or found no such program (127, as a shell).
      if (!result.ok() && (result.code() == ferry::ErrorCode::kBusy || result.code() == ferry::ErrorCode::kQuota ||
                           result.code() == ferry::ErrorCode::kNotFound)) {
        std::cerr << "ferry: " << ferry::client::EscapeForTerminal(result.message()) << "\n";
      }
      if (session.connected()) session.connection().Quit();
      return *runner.exec_exit_code();
    }
    if (!result.ok()) std::cerr << "ferry: " << ferry::client::EscapeForTerminal(result.message()) << "\n";
  } else if (!batch_file.empty()) {
    // As sftp -b: each command echoed after the prompt, and a failure named by its line.
    if (batch_file == "-") {
      result = ferry::client::RunLines(runner, std::cin, /*echo=*/true, "stdin");
    } else {
      std::ifstream in(batch_file);
      if (!in) return Fail(Status::FromErrno(errno, batch_file), kExitLocal);
      result = ferry::client::RunLines(runner, in, /*echo=*/true, batch_file);
    }
  } else if (::isatty(STDIN_FILENO) != 0) {
    const char* home = std::getenv("HOME");
    const std::string history = std::string(home != nullptr ? home : ".") + "/.ferry/history";
    result = ferry::client::RunInteractiveShell(
        runner, fmt::format("{}@{}", session.parameters().target.user, host_port), history);
  } else {
    // Commands piped in: run them like a batch file.
    result = ferry::client::RunLines(runner, std::cin, /*echo=*/false);
  }
  const int exit_code = result.ok() ? 0 : ExitCodeFor(result, session, runner);
  if (session.connected()) session.connection().Quit();
  return exit_code;
}
