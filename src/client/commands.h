// Commands: what `ferry` can do, shared by one-shot use, batch files and the interactive shell.
//
// Remote commands turn into requests on a Connection; local ones (lcd, lpwd, lls) act on this machine. Output goes
// to `out`; a failure is returned as a Status for the caller to print, so each front end decides how to report it.
#pragma once

#include <optional>
#include <ostream>
#include <set>
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
  bool remote_paths;        // its arguments are remote paths (for completion)
  std::string_view details;  // for `help COMMAND`: its options and an example
};

// Every command, in the order `help` lists them.
const std::vector<CommandInfo>& AllCommands();

// put, get, mput, mget, reput and reget: the commands that move files, which -c (or re-) continues.
bool IsTransferCommand(const std::string& name);
// The command that continues an interrupted transfer command `words` (-c added unless it is there, or the command is
// reput or reget), its words quoted for the shell.
std::string ContinuingCommand(const std::vector<std::string>& words);

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
  // The last command failed in part: of several paths, or in a tree, some failed and were reported (exit status 6).
  bool partial_failure() const { return partial_; }
  // The last command failed over a remote path, though this client saw it before asking (cp -r of a folder into
  // itself, say): an exit status of a remote file error.
  bool remote_failure() const { return remote_; }
  // `!COMMAND` (run by /bin/sh -c) or `!` alone (an interactive $SHELL): waits for it; its exit status, if not 0,
  // is the error.
  Status LocalShell(const std::string& command);
  // The connection's socket, for Ctrl-C to shut down (-1 when not connected).
  int native_socket() { return session_.connected() ? connection().native_socket() : -1; }
  // After Ctrl-C shut the socket down: the connection is not used again.
  void AbandonConnection() {
    if (session_.connected()) connection().Abandon();
  }

  // What comes before a command in the hint that continues an interrupted transfer: "ferry HOST " when the command
  // came on ferry's command line; empty in the shell and in batches.
  void set_continue_prefix(std::string prefix) { continue_prefix_ = std::move(prefix); }

  // The session's current remote folder (as of the last cd), for prompts.
  const std::string& remote_cwd() const { return remote_cwd_; }
  // Names in a remote folder, folders suffixed with '/', for completion. Empty on any error.
  std::vector<std::string> RemoteNames(const std::string& folder);

  // The exit status of the last program `exec` ran, if it ran to the end.
  std::optional<int> exec_exit_code() const { return exec_exit_code_; }

  // Silences progress bars and transfer summaries (ferry -q).
  void set_quiet(bool quiet) { quiet_ = quiet; }
  void set_limit_rate(std::uint64_t bytes_per_second) { limit_rate_ = bytes_per_second; }

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
  Status FetchListing(const std::string& path, std::vector<protocol::DirectoryEntry>& entries, bool* is_file,
                      const std::string& match = "");
  // A remote path with glob characters (common/glob.h) as the paths it matches, sorted; the server matches each
  // part. A pattern that matches nothing stands for itself (as in a shell); escapes are removed (UnescapeGlob).
  Result<std::vector<std::string>> ExpandRemote(const std::string& word);
  // ExpandRemote for each of `words`, into one list.
  Result<std::vector<std::string>> ExpandRemote(const std::vector<std::string>& words);
  // How ls and lls print: ls(1)'s -l -h -t -S -r.
  struct ListFormat {
    bool long_format = false;
    bool human = false;  // sizes as 4.0K, 1.2M
    char order = 'n';    // 'n' by name, 't' newest first, 'S' largest first
    bool reverse = false;
  };
  static ListFormat ListFormatOf(const std::set<char>& flags);
  void PrintEntries(const std::vector<protocol::DirectoryEntry>& entries, const ListFormat& format);
  Status ChangeMode(const std::vector<std::string>& args);
  Status DiskFree(const std::vector<std::string>& args);
  Status Link(const std::vector<std::string>& args);
  // cp (server-side copies): files by a cp request each; with -r, folders as trees (listed whole first, then made
  // entry by entry) and links as links.
  Status Copy(const std::vector<std::string>& args);
  Status CopyTree(const std::string& from, const protocol::DirectoryEntry& top, const std::string& to, bool preserve,
                  bool no_clobber);
  // Whether a remote path is a folder, or a link to one; false when it does not exist.
  Result<bool> IsRemoteFolder(const std::string& path);
  Status LocalMakeDir(const std::vector<std::string>& args);

  Connection& connection() { return session_.connection(); }

  ClientSession& session_;
  std::ostream& out_;
  std::string remote_cwd_ = "/";
  bool quit_requested_ = false;
  std::string continue_prefix_;
  bool columns_ = false;
  bool quiet_ = false;
  Transfers transfers_;
  int width_ = 80;
  std::optional<int> exec_exit_code_;
  std::uint64_t limit_rate_ = 0;  // ferry --limit-rate: every transfer's, unless one gives its own
  bool partial_ = false;
  bool remote_ = false;
  // `status`, noted as a failure over a remote path.
  Status Remote(Status status) {
    remote_ = true;
    return status;
  }
  // `status`, noted as a partial failure when it is one of several (always, without `several`).
  Status Partial(Status status, bool several = true) {
    partial_ = partial_ || several;
    return status;
  }
};

// One line of `ls -l` for an entry: "drwxr-xr-x  2      4096 Nov 23 21:11 name" (with `human`, "4.0K").
std::string FormatLongEntry(const protocol::DirectoryEntry& entry, std::int64_t now, bool human = false);
// A --limit-rate value: bytes a second, with K, M, G (powers of 1024); EINVAL for anything else, or 0.
Result<std::uint64_t> ParseLimitRate(std::string_view text);
// A size as `ls -h` prints it: 512, 4.0K, 12M, 1.1G.
std::string ShortSize(std::uint64_t bytes);
// The mode `chmod` sets from MODE (octal, or symbolic as chmod(1): [ugoa]*[+-=][rwxXst]*, several joined by commas)
// applied to `current`; EINVAL for anything else.
Result<std::uint32_t> ParseChmodMode(std::string_view text, std::uint32_t current, bool is_directory);
// What `quota` prints for the server's quota reply: one line for space, one for files, each with the limit.
std::string FormatQuota(const protocol::QuotaReply& quota);
// "-rw-r--r--" for a type name ("file", "dir", "link", "other") and permission bits.
std::string FormatMode(std::string_view type, std::uint32_t mode);

}  // namespace ferry::client
