// Commands: what `ferry` can do, shared by one-shot use, batch files and the interactive shell.
//
// Remote commands turn into requests on a Connection; local ones (lcd, lpwd, lls) act on this machine. Output goes
// to `out`; a failure is returned as a Status for the caller to print, so each front end decides how to report it.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "client/client_session.h"
#include "client/transfers.h"
#include "common/status.h"
#include "protocol/operations.h"

namespace ferry::client {

struct CommandInfo {
  std::string_view name;
  std::string_view usage;
  std::string_view summary;
  bool remote_paths;  // its arguments are remote paths (for completion)
};

// Every command, in the order `help` lists them.
const std::vector<CommandInfo>& AllCommands();

class CommandRunner {
 public:
  // REQUIRES: `session` is open and outlives the runner.
  CommandRunner(ClientSession& session, std::ostream& out);

  // Runs one command (words[0] is its name). Sets quit_requested() for quit/exit/bye.
  Status Run(const std::vector<std::string>& words);
  bool quit_requested() const { return quit_requested_; }
  // False once the connection to the server is lost.
  bool connected() const { return session_.connected(); }
  // A new connection after a drop, back in the remote folder (ClientSession::ReconnectWithBackoff).
  Status Reconnect();
  // The connection's socket, for Ctrl-C to shut down (-1 when not connected).
  int native_socket() { return session_.connected() ? connection().native_socket() : -1; }
  // After Ctrl-C shut the socket down: the connection is not used again.
  void AbandonConnection() {
    if (session_.connected()) connection().Abandon();
  }

  // The session's current remote folder (as of the last cd), for prompts.
  const std::string& remote_cwd() const { return remote_cwd_; }
  // Names in a remote folder, folders suffixed with '/', for completion. Empty on any error.
  std::vector<std::string> RemoteNames(const std::string& folder);

  // The exit status of the last program `exec` ran, if it ran to the end.
  std::optional<int> exec_exit_code() const { return exec_exit_code_; }

  // Silences progress bars and transfer summaries (ferry -q).
  void set_quiet(bool quiet) { quiet_ = quiet; }

  // Whether `ls` prints names in columns (on a terminal) or one per line.
  void set_columns(bool columns, int width) {
    columns_ = columns;
    width_ = width;
  }

 private:
  Status Help(const std::vector<std::string>& args);
  Status ChangeDir(const std::vector<std::string>& args);
  Status List(const std::vector<std::string>& args);
  Status Stat(const std::vector<std::string>& args);
  Status MakeDir(const std::vector<std::string>& args);
  Status RemoveDir(const std::vector<std::string>& args);
  Status Remove(const std::vector<std::string>& args);
  Status Move(const std::vector<std::string>& args);
  Status LocalChangeDir(const std::vector<std::string>& args);
  Status Transfer(const std::vector<std::string>& args);
  Status Sum(const std::vector<std::string>& args);
  Status LocalList(const std::vector<std::string>& args);
  // exec (exec_command.cc): runs a program on the server, its output to our stdout and stderr.
  Status Exec(const std::vector<std::string>& args);
  // Lists one remote path into `entries`; *is_file tells whether the path named a file rather than a folder.
  Status FetchListing(const std::string& path, std::vector<protocol::DirectoryEntry>& entries, bool* is_file);
  void PrintEntries(const std::vector<protocol::DirectoryEntry>& entries, bool long_format);

  Connection& connection() { return session_.connection(); }

  ClientSession& session_;
  std::ostream& out_;
  std::string remote_cwd_ = "/";
  bool quit_requested_ = false;
  bool columns_ = false;
  bool quiet_ = false;
  Transfers transfers_;
  int width_ = 80;
  std::optional<int> exec_exit_code_;
};

// One line of `ls -l` for an entry: "drwxr-xr-x  2      4096 Nov 23 21:11 name".
std::string FormatLongEntry(const protocol::DirectoryEntry& entry, std::int64_t now);
// What `quota` prints for the server's quota reply: one line for space, one for files, each with the limit.
std::string FormatQuota(const protocol::QuotaReply& quota);
// "-rw-r--r--" for a type name ("file", "dir", "link", "other") and permission bits.
std::string FormatMode(std::string_view type, std::uint32_t mode);

}  // namespace ferry::client
