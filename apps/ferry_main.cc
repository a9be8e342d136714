// ferry: the Ferry client. One command, a batch file, or an interactive shell.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "client/command_line.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/known_hosts.h"
#include "client/shell.h"
#include "common/password_prompt.h"

namespace {

using ferry::Status;

int Fail(const Status& status) {
  std::cerr << "ferry: " << status.message() << "\n";
  return 1;
}

std::string LocalUserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr) return entry->pw_name;
  return "";
}

// Trust on first use, as ssh does: a known server must present the pinned certificate; a new one is pinned after the
// user agrees (or with --accept-new-host).
Status CheckServerIdentity(const ferry::client::KnownHosts& known_hosts, const std::string& host_port,
                           const std::string& fingerprint, bool accept_new) {
  auto pinned = known_hosts.Lookup(host_port);
  if (!pinned.ok()) return pinned.status();
  if (pinned->has_value()) {
    if (**pinned == fingerprint) return Status::Ok();
    std::cerr << "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "@    WARNING: SERVER CERTIFICATE HAS CHANGED!             @\n"
                 "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "Someone could be intercepting this connection, or the server's certificate was replaced.\n"
              << "Expected: " << **pinned << "\nPresented: " << fingerprint << "\n"
              << "If the change is legitimate, remove the line for " << host_port << " from "
              << known_hosts.path() << ".\n";
    return Status(ferry::ErrorCode::kAuthFailed, fmt::format("certificate of {} does not match known_hosts", host_port));
  }
  if (!accept_new) {
    std::cerr << fmt::format("The authenticity of server '{}' can't be established.\n"
                             "Its certificate fingerprint is {}.\n",
                             host_port, fingerprint);
    if (::isatty(STDIN_FILENO) == 0) {
      return Status(ferry::ErrorCode::kAuthFailed,
                    "unknown server and no terminal to confirm it (use --accept-new-host to trust it)");
    }
    std::cerr << "Are you sure you want to continue connecting (yes/no)? " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "yes" && answer != "y")) {
      return Status(ferry::ErrorCode::kAuthFailed, "server not trusted");
    }
  }
  if (Status s = known_hosts.Add(host_port, fingerprint); !s.ok()) return s;
  std::cerr << fmt::format("Permanently added '{}' ({}) to {}.\n", host_port, fingerprint, known_hosts.path());
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry: the Ferry file-transfer client"};
  app.set_version_flag("--version", "ferry " FERRY_VERSION);
  app.prefix_command();
  app.footer(
      "With a COMMAND, runs it and exits (0 on success). With -b FILE, runs FILE's commands, stopping at the first\n"
      "failure. With neither, starts an interactive shell (type help). The password comes from FERRY_PASSWORD or\n"
      "a prompt.");
  std::string target_text;
  std::string batch_file;
  std::string known_hosts_path;
  bool plain = false;
  bool accept_new_host = false;
  app.add_option("TARGET", target_text, "[USER@]HOST[:PORT] (port 7021 by default)")->required();
  app.add_option("-b,--batch", batch_file, "Run the commands in FILE ('-' for stdin), stop at the first failure");
  app.add_flag("--plain", plain, "Talk unencrypted TCP to a server started with --plain");
  app.add_flag("--accept-new-host", accept_new_host, "Trust and remember an unknown server's certificate");
  app.add_option("--known-hosts", known_hosts_path, "Known-hosts file (default: ~/.ferry/known_hosts)");
  CLI11_PARSE(app, argc, argv);
  const std::vector<std::string> command = app.remaining();

  auto target = ferry::client::ParseTarget(target_text);
  if (!target.ok()) return Fail(target.status());
  if (target->user.empty()) target->user = LocalUserName();
  const std::string host_port = ferry::FormatHostPort(target->address);

  ferry::client::Connection connection;
  if (Status s = connection.Connect(target->address, !plain); !s.ok()) return Fail(s);
  if (!plain) {
    const ferry::client::KnownHosts known_hosts(known_hosts_path.empty() ? ferry::client::KnownHosts::DefaultPath()
                                                                         : known_hosts_path);
    if (Status s = CheckServerIdentity(known_hosts, host_port, connection.server_fingerprint(), accept_new_host);
        !s.ok()) {
      return Fail(s);
    }
  }
  if (auto hello = connection.Hello(); !hello.ok()) return Fail(hello.status());

  std::string password;
  if (const char* env = std::getenv("FERRY_PASSWORD"); env != nullptr) {
    password = env;
  } else {
    auto typed = ferry::ReadSecretFromTerminal(fmt::format("{}@{}'s password: ", target->user, host_port));
    if (!typed.ok()) return Fail(typed.status());
    password = std::move(typed).value();
  }
  if (Status s = connection.Login(target->user, password); !s.ok()) return Fail(s);

  ferry::client::CommandRunner runner(connection, std::cout);
  Status result = Status::Ok();
  if (!command.empty()) {
    runner.set_columns(::isatty(STDOUT_FILENO) != 0, 80);
    result = runner.Run(command);
    if (!result.ok()) std::cerr << "ferry: " << result.message() << "\n";
  } else if (!batch_file.empty()) {
    if (batch_file == "-") {
      result = ferry::client::RunLines(runner, std::cin, /*echo=*/false);
    } else {
      std::ifstream in(batch_file);
      if (!in) return Fail(Status::FromErrno(errno, batch_file));
      result = ferry::client::RunLines(runner, in, /*echo=*/false);
    }
  } else if (::isatty(STDIN_FILENO) != 0) {
    const char* home = std::getenv("HOME");
    const std::string history = std::string(home != nullptr ? home : ".") + "/.ferry/history";
    result = ferry::client::RunInteractiveShell(runner, fmt::format("{}@{}", target->user, host_port), history);
  } else {
    // Commands piped in: run them like a batch file.
    result = ferry::client::RunLines(runner, std::cin, /*echo=*/false);
  }
  connection.Quit();
  return result.ok() ? 0 : 1;
}
