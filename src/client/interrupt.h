// Ctrl-C in the interactive shell, as in sftp: it stops the command in progress (or discards the line being typed)
// and the shell goes on. In one-shot and batch use SIGINT keeps its default: the program ends with status 130.
#pragma once

namespace ferry::client {

// For its lifetime, SIGINT only records that Ctrl-C was pressed (without SA_RESTART, so a blocking call in progress
// returns EINTR); the previous disposition comes back afterwards. One at a time.
class ShellInterrupts {
 public:
  ShellInterrupts();
  ~ShellInterrupts();
  ShellInterrupts(const ShellInterrupts&) = delete;
  ShellInterrupts& operator=(const ShellInterrupts&) = delete;
};

// While a command runs: a Ctrl-C also shuts `socket` down (shutdown(2) is async-signal-safe), which ends a blocking
// read or write on the connection at once. The connection is then useless: the shell reconnects for the next
// command. A negative socket: nothing to shut down.
class CommandInterruptScope {
 public:
  explicit CommandInterruptScope(int socket);
  ~CommandInterruptScope();
  CommandInterruptScope(const CommandInterruptScope&) = delete;
  CommandInterruptScope& operator=(const CommandInterruptScope&) = delete;
};

// Whether Ctrl-C was pressed since the last ClearInterrupt (always false outside ShellInterrupts).
bool InterruptRequested();
void ClearInterrupt();
// Readable once Ctrl-C was pressed (until ClearInterrupt): for a poll(2) that must not miss a Ctrl-C that came
// just before it started. -1 outside ShellInterrupts.
int InterruptWakeFd();

}  // namespace ferry::client
