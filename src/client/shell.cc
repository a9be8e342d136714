#include "client/shell.h"

#include <readline/history.h>
#include <readline/readline.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "client/command_line.h"
#include "client/interrupt.h"
#include "client/terminal_text.h"
#include "common/glob.h"

namespace ferry::client {
namespace {

void PrintError(const Status& status) { std::cerr << "ferry: " << EscapeForTerminal(status.message()) << "\n"; }

// readline's completion hooks are plain C callbacks: they reach the runner through this pointer, set only while
// the interactive shell runs.
CommandRunner* g_completion_runner = nullptr;
std::vector<std::string> g_matches;

char* NextMatch(const char* /*text*/, int state) {
  static std::size_t index = 0;
  if (state == 0) index = 0;
  if (index >= g_matches.size()) return nullptr;
  return ::strdup(g_matches[index++].c_str());
}

bool TakesRemotePaths(const std::string& command) {
  for (const auto& info : AllCommands()) {
    if (info.name == command) return info.remote_paths;
  }
  return false;
}

// Whether the path being completed after `words` (the command and the words before this one) is a local one, as
// sftp completes them: put's first path is local and the ones after it remote, get's first remote and then local;
// mput's are all local. Options (and the value --algo and --limit-rate take) are not paths.
bool CompletesLocally(const std::vector<std::string>& words) {
  const std::string& command = words.front();
  std::size_t paths = 0;
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--algo" || words[i] == "--limit-rate") {
      ++i;
    } else if (!words[i].starts_with('-')) {
      ++paths;
    }
  }
  if (command == "mput") return true;
  if (command == "put" || command == "reput") return paths == 0;
  if (command == "get" || command == "reget") return paths > 0;
  return !TakesRemotePaths(command);
}

// Characters a completed name is escaped for, outside quotes: those SplitWords gives a meaning to.
constexpr const char* kSpecialInNames = " \t\n\\\"'`$&|;()<>*?[]#!{}";

// readline: whether the character at `index` is escaped by a backslash, so a space in "my\ photos" is no word break.
int IsQuoted(char* text, int index) {
  int backslashes = 0;
  for (int i = index - 1; i >= 0 && text[i] == '\\'; --i) ++backslashes;
  return backslashes % 2;
}

// readline: the text that replaces the word being completed. Inside an opening quote (`quote`), the match stays in
// that quote, closed after a single file (a folder leaves it open, to go on inside); else specials are escaped.
char* QuoteName(char* match, int match_type, char* quote) {
  std::string out;
  const char q = quote != nullptr ? *quote : '\0';
  // A name is a pattern's plain text (common/glob.h): its * ? [ and \ get a backslash first, which the quoting
  // below keeps through word splitting, so "a*" completes to a word naming that file, not every a-file.
  std::string escaped;
  for (const char c : std::string_view(match)) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') escaped += '\\';
    escaped += c;
  }
  const std::string_view name(escaped);
  if (q == '\'' || q == '"') {
    out += q;
    for (const char c : name) {
      if (q == '\'' && c == '\'') {
        out += "'\\''";  // close, an escaped quote, open again
      } else {
        if (q == '"' && (c == '"' || c == '\\' || c == '$' || c == '`')) out += '\\';
        out += c;
      }
    }
    if (match_type == SINGLE_MATCH && !name.ends_with('/')) out += q;
  } else {
    for (const char c : name) {
      if (std::strchr(kSpecialInNames, c) != nullptr) out += '\\';
      out += c;
    }
  }
  return ::strdup(out.c_str());
}

// The word being completed as the user means it: backslash escapes undone (readline has already taken off an
// opening quote).
std::string Unescape(std::string_view text, char quote) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && quote != '\'') {
      out += text[++i];
    } else {
      out += text[i];
    }
  }
  return out;
}

char** Complete(const char* text, int start, int /*end*/) {
  g_matches.clear();
  const std::string before(rl_line_buffer, static_cast<std::size_t>(start));
  // The words before this one; an opening quote just before it belongs to this word.
  std::string_view head(before);
  if (rl_completion_quote_character != 0 && !head.empty() && head.back() == rl_completion_quote_character) {
    head.remove_suffix(1);
  }
  auto words = SplitWords(head);
  if (!words.ok()) return nullptr;
  const std::string prefix = UnescapeGlob(Unescape(text, static_cast<char>(rl_completion_quote_character)));
  if (words->empty()) {
    for (const auto& info : AllCommands()) {
      if (info.name.starts_with(prefix)) g_matches.emplace_back(info.name);
    }
    rl_attempted_completion_over = 1;
    return g_matches.empty() ? nullptr : rl_completion_matches(text, NextMatch);
  }
  if (CompletesLocally(*words) || g_completion_runner == nullptr) {
    return nullptr;  // local paths: readline's own file-name completion (quoted by QuoteName too)
  }
  rl_attempted_completion_over = 1;
  // Names are quoted or escaped on the way in (QuoteName); a remote folder is not a local one to stat.
  rl_filename_completion_desired = 1;
  rl_filename_quoting_desired = 1;
  const auto slash = prefix.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  const std::string partial = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  for (const auto& name : g_completion_runner->RemoteNames(folder.empty() ? "." : folder)) {
    if (name.starts_with(partial) && (!partial.empty() || !name.starts_with('.'))) g_matches.push_back(folder + name);
  }
  // A folder completes without a trailing space (or closing quote), so the user can go on typing inside it.
  const bool one_folder = g_matches.size() == 1 && g_matches.front().ends_with('/');
  rl_completion_suppress_append = one_folder ? 1 : 0;
  rl_completion_suppress_quote = one_folder ? 1 : 0;
  return g_matches.empty() ? nullptr : rl_completion_matches(text, NextMatch);
}

constexpr int kHistoryLines = 1000;

// Commands that act on this machine only: they run without a connection.
bool IsLocalCommand(const std::string& name) {
  return name == "lcd" || name == "lpwd" || name == "lls" || name == "lmkdir" || name == "help" || name == "?" ||
         name == "quit" || name == "exit" || name == "bye";
}

// Remote commands that change nothing: run again after a reconnection.
bool IsReadOnly(const std::string& name) {
  return name == "ls" || name == "cd" || name == "pwd" || name == "stat" || name == "sum" || name == "quota" ||
         name == "whoami" || name == "df";
}

// What the shell says when Ctrl-C stopped a command; for a transfer, the command that continues it.
std::string InterruptedMessage(const std::vector<std::string>& words) {
  if (!IsTransferCommand(words.front())) return "interrupted";
  return fmt::format("interrupted; what was transferred is kept: `{}` continues it", ContinuingCommand(words));
}

// readline's callback interface, so that Ctrl-C can discard the line being typed and give a fresh prompt, as bash
// and sftp do. nullopt at the end of input (Ctrl-D on an empty line).
std::optional<std::string> g_line;
bool g_end_of_input = false;

void TakeLine(char* raw) {
  if (raw == nullptr) {
    g_end_of_input = true;
  } else {
    g_line = std::string(raw);
    std::free(raw);
  }
  rl_callback_handler_remove();
}

std::optional<std::string> ReadInteractiveLine(const std::string& prompt) {
  g_line.reset();
  g_end_of_input = false;
  ClearInterrupt();
  rl_callback_handler_install(prompt.c_str(), TakeLine);
  while (!g_line && !g_end_of_input) {
    pollfd wait[2] = {{STDIN_FILENO, POLLIN, 0}, {InterruptWakeFd(), POLLIN, 0}};
    const int ready = InterruptRequested() ? 0 : ::poll(wait, 2, -1);
    const pollfd& input = wait[0];
    if (InterruptRequested()) {
      // Discard what was typed and start a fresh line.
      ClearInterrupt();
      rl_free_line_state();
      rl_callback_sigcleanup();
      rl_replace_line("", 0);
      rl_point = rl_end = 0;
      std::fputs("\n", stdout);
      std::fflush(stdout);
      rl_on_new_line();
      rl_redisplay();
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      rl_callback_handler_remove();
      return std::nullopt;
    }
    if ((input.revents & (POLLIN | POLLHUP | POLLERR)) != 0) rl_callback_read_char();
  }
  if (g_end_of_input) return std::nullopt;
  return g_line;
}

int TerminalWidth() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

Status RunLines(CommandRunner& runner, std::istream& in, bool echo, const std::string& source) {
  std::string line;
  for (std::size_t number = 1; !runner.quit_requested() && std::getline(in, line); ++number) {
    std::string_view text = line;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.empty() || text.front() == '#') continue;
    const bool may_fail = text.front() == '-';
    if (may_fail) text.remove_prefix(1);
    if (text.empty()) continue;
    if (echo) std::cout << "ferry> " << EscapeForTerminal(text) << std::endl;
    // !COMMAND: the rest of the line goes to a local shell as it is.
    auto words = text.front() == '!' ? Result<std::vector<std::string>>(std::vector<std::string>{})
                                     : SplitWords(text);
    Status status = text.front() == '!' ? runner.LocalShell(std::string(text.substr(1)))
                    : words.ok()        ? runner.Run(*words)
                                        : words.status();
    std::cout.flush();
    if (status.ok()) continue;
    // Which line failed, as a compiler names one: "batch.txt:7: ...".
    PrintError(source.empty() ? status
                              : Status(status.code(), fmt::format("{}:{}: {}", source, number, status.message())));
    if (!may_fail) return status;
  }
  return Status::Ok();
}

Status RunInteractiveShell(CommandRunner& runner, const std::string& prompt_prefix, const std::string& history_path) {
  g_completion_runner = &runner;
  rl_attempted_completion_function = Complete;
  // Names with spaces and quotes: complete after an opening quote, and escape what is inserted.
  rl_completer_quote_characters = "'\"";
  rl_filename_quote_characters = kSpecialInNames;
  rl_char_is_quoted_p = IsQuoted;
  rl_filename_quoting_function = QuoteName;
  rl_readline_name = "ferry";
  // Ctrl-C is the shell's own (interrupt.h): readline must not turn it into the end of the program.
  rl_catch_signals = 0;
  const ShellInterrupts interrupts;
  // The history lives beside known_hosts; make its folder (private) if this is the first run.
  if (const auto slash = history_path.rfind('/'); slash != std::string::npos && slash > 0) {
    ::mkdir(history_path.substr(0, slash).c_str(), 0700);
  }
  using_history();
  stifle_history(kHistoryLines);
  if (read_history(history_path.c_str()) != 0) write_history(history_path.c_str());  // made now, appended to below
  ::chmod(history_path.c_str(), 0600);
  while (!runner.quit_requested()) {
    runner.set_columns(true, TerminalWidth());
    const std::string prompt = fmt::format("ferry {}:{}> ", prompt_prefix, runner.remote_cwd());
    auto line = ReadInteractiveLine(prompt);
    if (!line) {  // Ctrl-D
      std::cout << "\n";
      break;
    }
    if (line->find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line->c_str());
    // Saved as it grows, so a lost connection, a kill or a closed terminal loses none of it.
    append_history(1, history_path.c_str());
    if (const std::size_t start = line->find_first_not_of(" \t"); (*line)[start] == '!') {
      // A local shell, as sftp's `!`: Ctrl-C goes to it (and is cleared here after), the connection is untouched.
      Status status = runner.LocalShell(line->substr(start + 1));
      ClearInterrupt();
      if (!status.ok()) PrintError(status);
      continue;
    }
    auto words = SplitWords(*line);
    if (!words.ok()) {
      PrintError(words.status());
      continue;
    }
    if (words->empty()) continue;
    ClearInterrupt();
    if (!runner.connected() && !IsLocalCommand(words->front())) {
      std::cerr << "ferry: not connected; reconnecting...\n";
      if (Status s = runner.Reconnect(); !s.ok()) {
        PrintError(Status(s.code(), fmt::format("{}; the command was not run (the shell stays open: try again, or "
                                                "quit)",
                                                InterruptRequested() ? "reconnecting was interrupted" : s.message())));
        continue;
      }
    }
    // exec handles Ctrl-C itself: it stops the program and keeps the connection.
    const bool stops_on_interrupt = words->front() != "exec";
    const auto run = [&] {
      const CommandInterruptScope scope(stops_on_interrupt ? runner.native_socket() : -1);
      Status status = runner.Run(*words);
      std::cout.flush();
      return status;
    };
    Status status = run();
    if (stops_on_interrupt && InterruptRequested()) {
      runner.AbandonConnection();
      status = Status(ErrorCode::kIo, InterruptedMessage(*words));
    } else if (!status.ok() && !runner.connected() && IsReadOnly(words->front())) {
      // The connection dropped under a command that changes nothing (the server restarted, say): connect again and
      // run it once more, as transfers resume by themselves.
      PrintError(Status(status.code(), fmt::format("{}; reconnecting...", status.message())));
      status = runner.Reconnect();
      if (status.ok()) {
        status = run();
      } else {
        status = Status(status.code(), fmt::format("{}; not connected (the shell stays open: try again, or quit)",
                                                   status.message()));
      }
      if (InterruptRequested()) {
        runner.AbandonConnection();
        status = Status(ErrorCode::kIo, "interrupted");
      }
    }
    if (!status.ok()) PrintError(status);
  }
  history_truncate_file(history_path.c_str(), kHistoryLines);
  g_completion_runner = nullptr;
  return Status::Ok();
}

}  // namespace ferry::client
