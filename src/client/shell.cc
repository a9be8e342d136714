#include "client/shell.h"

#include <readline/history.h>
#include <readline/readline.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <fmt/format.h>

#include "client/command_line.h"
#include "client/terminal_text.h"

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

char** Complete(const char* text, int start, int /*end*/) {
  g_matches.clear();
  const std::string prefix(text);
  const std::string before(rl_line_buffer, static_cast<std::size_t>(start));
  auto words = SplitWords(before);
  if (!words.ok()) return nullptr;
  if (words->empty()) {
    for (const auto& info : AllCommands()) {
      if (info.name.starts_with(prefix)) g_matches.emplace_back(info.name);
    }
    rl_attempted_completion_over = 1;
    return g_matches.empty() ? nullptr : rl_completion_matches(text, NextMatch);
  }
  if (!TakesRemotePaths(words->front()) || g_completion_runner == nullptr) {
    return nullptr;  // local commands: readline's own file-name completion
  }
  rl_attempted_completion_over = 1;
  const auto slash = prefix.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  const std::string partial = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  for (const auto& name : g_completion_runner->RemoteNames(folder.empty() ? "." : folder)) {
    if (name.starts_with(partial) && (!partial.empty() || !name.starts_with('.'))) g_matches.push_back(folder + name);
  }
  // A folder completes without a trailing space, so the user can go on typing inside it.
  rl_completion_suppress_append = g_matches.size() == 1 && g_matches.front().ends_with('/') ? 1 : 0;
  return g_matches.empty() ? nullptr : rl_completion_matches(text, NextMatch);
}

int TerminalWidth() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

Status RunLines(CommandRunner& runner, std::istream& in, bool echo) {
  std::string line;
  while (!runner.quit_requested() && std::getline(in, line)) {
    std::string_view text = line;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.empty() || text.front() == '#') continue;
    const bool may_fail = text.front() == '-';
    if (may_fail) text.remove_prefix(1);
    if (echo) std::cout << "ferry> " << text << "\n";
    auto words = SplitWords(text);
    Status status = words.ok() ? runner.Run(*words) : words.status();
    std::cout.flush();
    if (status.ok()) continue;
    PrintError(status);
    if (!may_fail) return status;
  }
  return Status::Ok();
}

Status RunInteractiveShell(CommandRunner& runner, const std::string& prompt_prefix, const std::string& history_path) {
  g_completion_runner = &runner;
  rl_attempted_completion_function = Complete;
  rl_readline_name = "ferry";
  // The history lives beside known_hosts; make its folder (private) if this is the first run.
  if (const auto slash = history_path.rfind('/'); slash != std::string::npos && slash > 0) {
    ::mkdir(history_path.substr(0, slash).c_str(), 0700);
  }
  using_history();
  stifle_history(1000);
  read_history(history_path.c_str());
  Status result = Status::Ok();
  while (!runner.quit_requested()) {
    runner.set_columns(true, TerminalWidth());
    const std::string prompt = fmt::format("ferry {}:{}> ", prompt_prefix, runner.remote_cwd());
    char* raw = readline(prompt.c_str());
    if (raw == nullptr) {  // Ctrl-D
      std::cout << "\n";
      break;
    }
    const std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line.c_str());
    auto words = SplitWords(line);
    Status status = words.ok() ? runner.Run(*words) : words.status();
    std::cout.flush();
    if (status.ok()) continue;
    PrintError(status);
    if (!runner.connected()) {
      result = status;
      break;
    }
  }
  write_history(history_path.c_str());
  g_completion_runner = nullptr;
  return result;
}

}  // namespace ferry::client
