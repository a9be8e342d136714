// Shell: the interactive front end (readline: line editing, history, completion of commands and remote paths),
// and the line-at-a-time runner used for batch files and piped input.
#pragma once

#include <istream>
#include <string>

#include "client/commands.h"
#include "common/status.h"

namespace ferry::client {

// Runs lines from `in` until the end or `quit`. Empty lines and lines starting with '#' are skipped. Stops at the
// first failing command (its error already printed to stderr) and returns its status, except for lines starting
// with '-', whose failure is reported and passed over (as in sftp's batch mode). With `echo`, each command is
// printed to stdout before it runs, after "ferry> " (as sftp -b does). With a `source` name ("batch.txt", "stdin"),
// an error names the line it came from: "batch.txt:7: ...".
Status RunLines(CommandRunner& runner, std::istream& in, bool echo, const std::string& source = "");

// The interactive shell. History is kept in `history_path`, appended to as each line is entered. Returns when the
// user quits or at end of input. Failing commands are reported and the shell goes on; Ctrl-C stops the command in
// progress (or discards the line being typed); a lost connection is made again, with backoff, before the next
// command that needs one, and the shell stays open while the server cannot be reached.
Status RunInteractiveShell(CommandRunner& runner, const std::string& prompt_prefix, const std::string& history_path);

}  // namespace ferry::client
