#include "client/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <csignal>
#include <cerrno>
#include <climits>
#include <cmath>
#include <ctime>
#include <dirent.h>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "common/byte_size.h"
#include "client/local_paths.h"
#include "client/terminal_text.h"
#include "common/glob.h"
#include "common/words.h"

namespace ferry::client {
namespace {

// Splits "-lr" style flags from operands; "--" ends the flags. EINVAL names an unknown flag.
Status ParseFlags(const std::vector<std::string>& args, std::string_view allowed, std::set<char>& flags,
                  std::vector<std::string>& operands) {
  bool flags_done = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!flags_done && arg == "--") {
      flags_done = true;
    } else if (!flags_done && arg.size() > 1 && arg[0] == '-') {
      for (std::size_t j = 1; j < arg.size(); ++j) {
        if (allowed.find(arg[j]) == std::string_view::npos) {
          return Status(ErrorCode::kInvalid, fmt::format("{}: unknown option -{}", args[0], arg[j]));
        }
        flags.insert(arg[j]);
      }
    } else {
      operands.push_back(arg);
    }
  }
  return Status::Ok();
}

Status Usage(std::string_view name) {
  for (const auto& command : AllCommands()) {
    if (command.name == name) return Status(ErrorCode::kInvalid, fmt::format("usage: {}", command.usage));
  }
  return Status(ErrorCode::kInvalid, fmt::format("bad use of {}", name));
}

using protocol::DirectoryEntry;
using protocol::EntryType;
using protocol::EntryTypeName;

std::string HumanTime(std::int64_t mtime, std::int64_t now) {
  const std::time_t t = mtime;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char text[64];
  // Like ls(1): the time of day for the last six months, the year for anything older or in the future.
  constexpr std::int64_t kSixMonths = 182LL * 24 * 3600;
  const bool recent = mtime <= now + 3600 && now - mtime < kSixMonths;
  std::strftime(text, sizeof text, recent ? "%b %e %H:%M" : "%b %e  %Y", &tm);
  return text;
}

// What the local link `name` in `dir_fd` says ("" if it cannot be read).
std::string LocalLinkText(int dir_fd, const std::string& name) {
  char buffer[PATH_MAX];
  const ssize_t n = ::readlinkat(dir_fd, name.c_str(), buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

DirectoryEntry LocalEntry(const std::string& name, const struct stat& st, std::string target = {}) {
  EntryType type = EntryType::kOther;
  if (S_ISREG(st.st_mode)) type = EntryType::kFile;
  if (S_ISDIR(st.st_mode)) type = EntryType::kDirectory;
  if (S_ISLNK(st.st_mode)) type = EntryType::kLink;
  return DirectoryEntry{name,
                        type,
                        static_cast<std::uint64_t>(st.st_size),
                        static_cast<std::uint32_t>(st.st_mode & 07777),
                        st.st_mtim.tv_sec,
                        static_cast<std::uint32_t>(st.st_mtim.tv_nsec),
                        static_cast<std::uint64_t>(st.st_nlink),
                        S_ISLNK(st.st_mode) ? std::move(target) : std::string()};
}

}  // namespace

const std::vector<CommandInfo>& AllCommands() {
  static const std::vector<CommandInfo> commands = {
      {"help", "help [COMMAND]", "Show commands, or how to use one", false,
       "  help get      the options of get, and an example"},
      {"pwd", "pwd", "Print the remote folder", false, ""},
      {"cd", "cd [PATH]", "Change the remote folder (default: the home, /)", true,
       "  cd 'photos/2024-*'   a pattern may name one folder"},
      {"ls", "ls [-lahtSrd1] [PATH...]", "List remote files (-l: long format, -a: include dot files)", true,
       "  -l  long format: mode, links, size, modification time\n"
       "  -a  include dot files\n"
       "  -h  sizes as 4.0K, 12M\n"
       "  -t  newest first      -S  largest first      -r  reverse the order\n"
       "  -d  folders themselves, not what they hold\n"
       "Example:\n"
       "  ls -lhtr docs '*.txt'"},
      {"stat", "stat PATH...", "Show a remote entry's type, size, mode and modification time", true,
       "  stat notes.txt"},
      {"mkdir", "mkdir [-p] PATH...", "Create remote folders (-p: with missing parents, no error if present)", true,
       "  mkdir -p backups/2026/12"},
      {"rmdir", "rmdir PATH...", "Remove empty remote folders", true, "  rmdir old"},
      {"rm", "rm [-r] [-f] PATH...", "Remove remote files (-r: folders and their contents, -f: ignore missing)",
       true, "  rm '*.tmp'       rm -r old-tree"},
      {"mv", "mv [-f] FROM TO", "Rename or move a remote entry (-f: replace an existing file)", true,
       "  mv draft.txt final.txt      mv final.txt docs/"},
      {"chmod", "chmod MODE PATH...", "Change the permissions of remote entries (octal, or as chmod: u+x,go-w)",
       true, "  chmod 600 secret.txt      chmod +x 'bin/*'"},
      {"cp", "cp [-r] [-p] [-n] FROM... TO", "Copy remote files on the server (the bytes stay there); trees with -r",
       true,
       "  -r  folder trees (links in them are copied as links)\n"
       "  -p  keep modification times (and the modes of folders)\n"
       "  -n  do not replace a file that exists\n"
       "Examples:\n"
       "  cp report.pdf report-old.pdf      cp -r photos backup/      cp '*.txt' notes/"},
      {"ln", "ln -s TARGET NAME", "Make a remote symbolic link (its target stays inside the home)", true,
       "  ln -s reports/2026 latest      (latest leads to reports/2026)"},
      {"df", "df [-h]", "Show your quota as a file system: size, used, available (-h: 1.2G)", false, "  df -h"},
      {"put", "put [OPTION...] LOCAL... [REMOTE]", "Upload files, or folder trees with -r; several into a folder",
       true,
       "  -r            a folder tree; into a folder that exists, files already there with the same size and\n"
       "                modification time are not sent again\n"
       "  -c            continue an interrupted upload (a complete file is checked and skipped)\n"
       "  -q            no progress bar or summary\n"
       "  --algo A      the transfer's checksum: xxh3 (default), sha256 or md5\n"
       "  --checksum    with -r: compare files by size and checksum instead of size and time\n"
       "  --delete      with -r: remove from the server what the local tree no longer has\n"
       "  --limit-rate R  at most R bytes a second (500K, 2M), as curl's\n"
       "  -n, --dry-run with -r: print what would be uploaded and removed, change nothing\n"
       "Examples:\n"
       "  put report.pdf docs/\n"
       "  put -r --delete photos backup/      (again later: only what changed)"},
      {"get", "get [OPTION...] REMOTE... [LOCAL]", "Download files, or folder trees with -r; several into a folder",
       true,
       "  -r            a folder tree; into a folder that exists, files already there with the same size and\n"
       "                modification time are kept\n"
       "  -c            continue an interrupted download (complete files are kept)\n"
       "  -q            no progress bar or summary\n"
       "  --algo A      the transfer's checksum: xxh3 (default), sha256 or md5\n"
       "  --checksum    with -r: compare files by size and checksum instead of size and time\n"
       "  --delete      with -r: remove locally what the server's tree no longer has\n"
       "  --limit-rate R  at most R bytes a second (500K, 2M), as curl's\n"
       "  -n, --dry-run with -r: print what would be downloaded and removed, change nothing\n"
       "  LOCAL may be - (stdout), a device, a FIFO or a link (written through)\n"
       "Examples:\n"
       "  get '*.txt' ~/notes/\n"
       "  get -r 'photos/2024-*' ."},
      {"mput", "mput [-r] [-c] [-q] LOCAL...", "Upload each file into the remote folder (as sftp's mput)", false,
       "  mput *.log"},
      {"mget", "mget [-r] [-c] [-q] REMOTE...", "Download each file into the local folder (as sftp's mget)", true,
       "  mget '*.log'"},
      {"reput", "reput [-r] [-q] LOCAL [REMOTE]", "Continue an interrupted upload (put -c)", false,
       "  reput big.iso"},
      {"reget", "reget [-r] [-q] REMOTE [LOCAL]", "Continue an interrupted download (get -c)", true,
       "  reget big.iso"},
      {"sum", "sum [--algo xxh3|sha256|md5] REMOTE...", "Print the server's checksum of files (as sha256sum does)",
       true, "  sum --algo sha256 big.iso     (compare with: sha256sum big.iso)"},
      {"whoami", "whoami", "Print the user you are logged in as", false, ""},
      {"quota", "quota", "Show the space and number of files you use, and your limits", false, ""},
      {"exec", "exec [-i] [--shell] PROGRAM [ARGS...]",
       "Run a program on the server in the remote folder (-i: give it this stdin; --shell: a command line for sh)",
       false, "  exec ls -l\n  exec --shell 'du -sh * | sort -h'"},
      {"lcd", "lcd [PATH]", "Change the local folder (default: $HOME)", false, "  lcd ~/Downloads"},
      {"lpwd", "lpwd", "Print the local folder", false, ""},
      {"lls", "lls [-lahtSr1] [PATH]", "List local files (the options of ls)", false, "  lls -l ~"},
      {"lmkdir", "lmkdir [-p] PATH...", "Create local folders", false, "  lmkdir -p ~/restore/2026"},
      {"!", "!COMMAND, !", "Run COMMAND in a local shell, or start one (exit returns here)", false,
       "  !ls -l      !"},
      {"quit", "quit", "Leave (also: exit, bye)", false, ""},
  };
  return commands;
}

CommandRunner::CommandRunner(ClientSession& session, std::ostream& out)
    : session_(session), out_(out), transfers_(session, [this] { return remote_cwd_; }) {}

Status CommandRunner::Run(const std::vector<std::string>& words) {
  partial_ = false;
  remote_ = false;
  if (session_.connected()) connection().ForgetRefusal();
  if (words.empty()) return Status::Ok();
  const std::string& name = words[0];
  if (name == "help" || name == "?") return Help(words);
  if (name.starts_with('!')) {
    // `ferry host '!cmd'` and batch words: the rest of the line, as typed (RunLines and the shell pass lines whole).
    std::string command = name.substr(1);
    for (std::size_t i = 1; i < words.size(); ++i) command += " " + QuoteWord(words[i]);
    return LocalShell(command);
  }
  // COMMAND --help, before any "--" (exec's words after the program are the program's): its usage, as `help
  // COMMAND` gives it.
  for (std::size_t i = 1; i < words.size() && words[i] != "--"; ++i) {
    if (words[i] == "--help" && name != "exec") return Help({"help", name});
  }
  if (name == "quit" || name == "exit" || name == "bye") {
    quit_requested_ = true;
    return Status::Ok();
  }
  if (name == "pwd") {
    if (words.size() != 1) return Usage(name);
    auto reply = connection().Call<protocol::PwdReply>(protocol::PwdRequest{});
    if (!reply.ok()) return reply.status();
    out_ << EscapeForTerminal(reply->path) << "\n";
    return Status::Ok();
  }
  if (name == "whoami") {
    if (words.size() != 1) return Usage(name);
    auto reply = connection().Call<protocol::WhoamiReply>(protocol::WhoamiRequest{});
    if (!reply.ok()) return reply.status();
    out_ << reply->user << "\n";
    return Status::Ok();
  }
  if (name == "cd") return ChangeDir(words);
  if (name == "ls" || name == "dir") return List(words);
  if (name == "stat") return Stat(words);
  if (name == "mkdir") return MakeDir(words);
  if (name == "rmdir") return RemoveDir(words);
  if (name == "rm") return Remove(words);
  if (name == "mv" || name == "rename") return Move(words);
  if (name == "chmod") return ChangeMode(words);
  if (name == "ln") return Link(words);
  if (name == "cp" || name == "copy") return Copy(words);
  if (name == "df") return DiskFree(words);
  if (name == "lmkdir") return LocalMakeDir(words);
  if (name == "lcd") return LocalChangeDir(words);
  if (name == "lpwd") {
    char buffer[PATH_MAX];
    if (::getcwd(buffer, sizeof buffer) == nullptr) return Status::FromErrno(errno, "lpwd");
    out_ << buffer << "\n";
    return Status::Ok();
  }
  if (name == "lls") return LocalList(words);
  if (IsTransferCommand(name)) {
    Status status = Transfer(words);
    // Cut off (the server went away, or is shutting down): what came across is kept, for -c to continue.
    if (!status.ok() && (!session_.connected() || status.code() == ErrorCode::kShuttingDown)) {
      status = Status(status.code(), fmt::format("{}; what was transferred is kept: `{}{}` continues it",
                                                 status.message(), continue_prefix_, ContinuingCommand(words)));
    }
    return status;
  }
  if (name == "sum") return Sum(words);
  if (name == "exec") return Exec(words);
  if (name == "quota") {
    if (words.size() != 1) return Usage(name);
    auto reply = connection().Call<protocol::QuotaReply>(protocol::QuotaRequest{});
    if (!reply.ok()) return reply.status();
    out_ << FormatQuota(*reply);
    return Status::Ok();
  }
  return Status(ErrorCode::kInvalid, fmt::format("unknown command '{}' (try help)", name));
}

bool IsTransferCommand(const std::string& name) {
  return name == "put" || name == "get" || name == "mput" || name == "mget" || name == "reput" || name == "reget";
}

std::string ContinuingCommand(const std::vector<std::string>& words) {
  const std::string& name = words.front();
  std::string again = name;
  if (name != "reput" && name != "reget" && std::find(words.begin() + 1, words.end(), "-c") == words.end()) {
    again += " -c";
  }
  for (std::size_t i = 1; i < words.size(); ++i) again += " " + QuoteWord(words[i]);
  return again;
}

Status CommandRunner::Reconnect() {
  return session_.ReconnectWithBackoff(remote_cwd_, [](const std::string& message) {
    std::cerr << "ferry: " << EscapeForTerminal(message) << "\n";
  });
}

Status CommandRunner::Help(const std::vector<std::string>& args) {
  if (args.size() > 1 &&
      std::none_of(AllCommands().begin(), AllCommands().end(), [&](const auto& c) { return c.name == args[1]; })) {
    return Status(ErrorCode::kInvalid, fmt::format("no command '{}' (help lists them)", args[1]));
  }
  // One column as wide as the longest usage, so the summaries line up.
  std::size_t width = 0;
  for (const auto& command : AllCommands()) width = std::max(width, command.usage.size());
  for (const auto& command : AllCommands()) {
    if (args.size() > 1 && command.name != args[1]) continue;
    out_ << fmt::format("{:<{}}  {}\n", command.usage, width, command.summary);
    // One command's help also gives its options and an example.
    if (args.size() > 1 && !command.details.empty()) out_ << command.details << "\n";
  }
  return Status::Ok();
}

Status CommandRunner::ChangeDir(const std::vector<std::string>& args) {
  if (args.size() > 2) return Usage("cd");
  std::string path = "/";
  if (args.size() == 2) {
    auto paths = ExpandRemote(args[1]);
    if (!paths.ok()) return paths.status();
    if (paths->size() > 1) return Status(ErrorCode::kInvalid, fmt::format("{}: matches more than one folder", args[1]));
    path = paths->front();
  }
  auto reply = connection().Call<protocol::CdReply>(protocol::CdRequest{path});
  if (!reply.ok()) return reply.status();
  remote_cwd_ = std::move(reply->path);
  return Status::Ok();
}

Status CommandRunner::FetchListing(const std::string& path, std::vector<DirectoryEntry>& entries, bool* is_file,
                                   const std::string& match) {
  entries.clear();
  return connection().CallStream(protocol::ListRequest{path, match}.Encode(), [&](const protocol::Frame& frame) {
    auto batch = protocol::ListReply::Parse(frame.header, frame.body);
    if (!batch.ok()) return batch.status();
    if (is_file != nullptr) *is_file = batch->file;
    std::move(batch->entries.begin(), batch->entries.end(), std::back_inserter(entries));
    return Status::Ok();
  });
}

namespace {

// Most paths one pattern may stand for: a bound on what a mistyped `rm -r */*/*` can reach, and on memory.
constexpr std::size_t kMaxGlobMatches = 100000;

std::string JoinRemote(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return folder.ends_with('/') ? folder + name : folder + "/" + name;
}

}  // namespace

Result<std::vector<std::string>> CommandRunner::ExpandRemote(const std::string& word) {
  if (!HasGlob(word)) return std::vector<std::string>{UnescapeGlob(word)};
  bool absolute = false;
  const std::vector<std::string> parts = SplitPathParts(word, absolute);
  std::vector<std::string> paths = {absolute ? "/" : ""};
  bool matched = false;  // a part was matched: what follows it is matched too, to keep only paths that exist
  for (std::size_t i = 0; i < parts.size() && !paths.empty(); ++i) {
    const bool last = i + 1 == parts.size();
    std::vector<std::string> next;
    matched = matched || HasGlob(parts[i]);
    if (!matched || parts[i] == "." || parts[i] == "..") {
      for (const std::string& path : paths) next.push_back(JoinRemote(path, UnescapeGlob(parts[i])));
    } else {
      for (const std::string& path : paths) {
        std::vector<DirectoryEntry> entries;
        if (Status s = FetchListing(path, entries, nullptr, parts[i]); !s.ok()) {
          if (!connection().connected()) return s;
          connection().ForgetRefusal();
          continue;  // not a folder, or gone: nothing matches there
        }
        std::sort(entries.begin(), entries.end(),
                  [](const DirectoryEntry& a, const DirectoryEntry& b) { return a.name < b.name; });
        for (const DirectoryEntry& entry : entries) {
          // A name no server should send is never joined to a path.
          if (entry.name.empty() || entry.name == "." || entry.name == ".." ||
              entry.name.find('/') != std::string::npos) {
            continue;
          }
          // Inside the pattern only folders lead on (a link may lead to one: the server follows it to match).
          if (!last && entry.type != EntryType::kDirectory && entry.type != EntryType::kLink) continue;
          next.push_back(JoinRemote(path, entry.name));
        }
      }
    }
    if (next.size() > kMaxGlobMatches) {
      return Status(ErrorCode::kTooBig, fmt::format("{}: matches more than {} paths", word, kMaxGlobMatches));
    }
    paths = std::move(next);
  }
  if (paths.empty()) paths.push_back(UnescapeGlob(word));  // as a shell: a pattern that matches nothing is itself
  return paths;
}

Result<std::vector<std::string>> CommandRunner::ExpandRemote(const std::vector<std::string>& words) {
  std::vector<std::string> paths;
  for (const std::string& word : words) {
    auto expanded = ExpandRemote(word);
    if (!expanded.ok()) return expanded.status();
    paths.insert(paths.end(), expanded->begin(), expanded->end());
    if (paths.size() > kMaxGlobMatches) {
      return Status(ErrorCode::kTooBig, fmt::format("the patterns match more than {} paths", kMaxGlobMatches));
    }
  }
  return paths;
}

CommandRunner::ListFormat CommandRunner::ListFormatOf(const std::set<char>& flags) {
  ListFormat format;
  format.long_format = flags.count('l') > 0;
  format.human = flags.count('h') > 0;
  // As ls(1): the later of -t and -S wins; here -S does when both are given.
  if (flags.count('t') > 0) format.order = 't';
  if (flags.count('S') > 0) format.order = 'S';
  format.reverse = flags.count('r') > 0;
  return format;
}

void CommandRunner::PrintEntries(const std::vector<DirectoryEntry>& entries, const ListFormat& format) {
  std::vector<const DirectoryEntry*> sorted;
  for (const auto& entry : entries) sorted.push_back(&entry);
  // By name; newest or largest first (ties by name), as ls -t and -S; -r reverses whichever.
  std::sort(sorted.begin(), sorted.end(), [&](const DirectoryEntry* a, const DirectoryEntry* b) {
    if (format.order == 't' && (a->mtime != b->mtime || a->mtime_nsec != b->mtime_nsec)) {
      return a->mtime != b->mtime ? a->mtime > b->mtime : a->mtime_nsec > b->mtime_nsec;
    }
    if (format.order == 'S' && a->size != b->size) return a->size > b->size;
    return a->name < b->name;
  });
  if (format.reverse) std::reverse(sorted.begin(), sorted.end());
  if (format.long_format) {
    const std::int64_t now = std::time(nullptr);
    for (const DirectoryEntry* entry : sorted) out_ << FormatLongEntry(*entry, now, format.human) << "\n";
    return;
  }
  if (!columns_ || sorted.empty()) {
    for (const DirectoryEntry* entry : sorted) out_ << EscapeForTerminal(entry->name) << "\n";
    return;
  }
  // Columns, filled top to bottom, as ls(1) does on a terminal.
  std::vector<std::string> shown;
  for (const DirectoryEntry* entry : sorted) shown.push_back(EscapeForTerminal(entry->name));
  std::size_t widest = 0;
  for (const std::string& name : shown) widest = std::max(widest, name.size());
  const std::size_t column_width = widest + 2;
  const std::size_t columns = std::max<std::size_t>(1, static_cast<std::size_t>(width_) / column_width);
  const std::size_t rows = (sorted.size() + columns - 1) / columns;
  for (std::size_t row = 0; row < rows; ++row) {
    std::string line;
    for (std::size_t column = 0; column < columns; ++column) {
      const std::size_t index = column * rows + row;
      if (index >= sorted.size()) break;
      std::string name = shown[index];
      if (column + 1 < columns && (column + 1) * rows + row < sorted.size()) name.resize(column_width, ' ');
      line += name;
    }
    out_ << line << "\n";
  }
}

Status CommandRunner::List(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "la1htSrd", flags, paths); !s.ok()) return s;
  if (paths.empty()) paths.push_back("");
  const ListFormat format = ListFormatOf(flags);
  auto expanded = ExpandRemote(paths);
  if (!expanded.ok()) return expanded.status();
  paths = std::move(expanded).value();
  Status result = Status::Ok();
  // As ls(1): the files named go first, together and under the names given; then each folder, with a heading when
  // there is more than one thing to show.
  std::vector<DirectoryEntry> files;
  std::vector<std::pair<std::string, std::vector<DirectoryEntry>>> folders;
  for (const std::string& path : paths) {
    std::vector<DirectoryEntry> entries;
    bool is_file = false;
    if (flags.count('d') > 0) {
      // The entry itself, folder or not, under the name given.
      auto reply = connection().Call<protocol::StatReply>(protocol::StatRequest{path});
      if (!reply.ok()) {
        if (!connection().connected()) return reply.status();
        std::cerr << "ferry: " << EscapeForTerminal(reply.status().message()) << "\n";
        result = Partial(Status(reply.status().code(), "some of the paths could not be listed"), paths.size() > 1);
        continue;
      }
      reply->entry.name = path.empty() ? "." : path;
      files.push_back(std::move(reply->entry));
      continue;
    }
    if (Status s = FetchListing(path, entries, &is_file); !s.ok()) {
      if (!connection().connected()) return s;
      std::cerr << "ferry: " << EscapeForTerminal(s.message()) << "\n";  // report, go on, fail at the end
      result = Partial(Status(s.code(), "some of the paths could not be listed"), paths.size() > 1);
      continue;
    }
    if (is_file) {
      for (auto& entry : entries) {
        entry.name = path;
        files.push_back(std::move(entry));
      }
      continue;
    }
    if (flags.count('a') == 0) {
      std::erase_if(entries, [](const DirectoryEntry& entry) { return entry.name.starts_with('.'); });
    }
    folders.emplace_back(path, std::move(entries));
  }
  const bool headings = folders.size() + (files.empty() ? 0 : 1) > 1;
  bool first = true;
  if (!files.empty()) {
    PrintEntries(files, format);
    first = false;
  }
  for (const auto& [path, entries] : folders) {
    if (headings) out_ << (first ? "" : "\n") << EscapeForTerminal(path) << ":\n";
    first = false;
    PrintEntries(entries, format);
  }
  return result;
}

Status CommandRunner::Stat(const std::vector<std::string>& args) {
  if (args.size() < 2) return Usage("stat");
  auto paths = ExpandRemote(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!paths.ok()) return paths.status();
  Status result = Status::Ok();
  bool first = true;
  for (const std::string& path : *paths) {
    auto reply = connection().Call<protocol::StatReply>(protocol::StatRequest{path});
    if (!reply.ok()) {
      if (!connection().connected()) return reply.status();
      std::cerr << "ferry: " << EscapeForTerminal(reply.status().message()) << "\n";  // as stat(1): go on
      result = Partial(Status(reply.status().code(), "some of the paths could not be read"), paths->size() > 1);
      continue;
    }
    const DirectoryEntry& entry = reply->entry;
    const std::time_t t = entry.mtime;
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    char zone[16];
    std::strftime(zone, sizeof zone, "%z", &tm);
    const std::string_view type = EntryTypeName(entry.type);
    // A blank line between entries, so several read apart.
    out_ << (first ? "" : "\n")
         << fmt::format("  File: {}\n  Type: {}\n  Size: {}\n  Mode: {:04o} ({})\n Links: {}\nModify: {}.{:09} {}\n",
                        EscapeForTerminal(path) + (entry.target.empty() ? "" : " -> " + EscapeForTerminal(entry.target)),
                        type, entry.size, entry.mode, FormatMode(type, entry.mode),
                        entry.nlink, when, entry.mtime_nsec, zone);
    first = false;
  }
  return result;
}

Status CommandRunner::MakeDir(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "p", flags, paths); !s.ok()) return s;
  if (paths.empty()) return Usage("mkdir");
  for (const auto& path : paths) {
    auto reply = connection().Call(protocol::MkdirRequest{path, flags.count('p') > 0}.Encode());
    if (!reply.ok()) return reply.status();
  }
  return Status::Ok();
}

Status CommandRunner::RemoveDir(const std::vector<std::string>& args) {
  if (args.size() < 2) return Usage("rmdir");
  auto paths = ExpandRemote(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!paths.ok()) return paths.status();
  for (const std::string& path : *paths) {
    auto reply = connection().Call(protocol::RmdirRequest{path}.Encode());
    if (!reply.ok()) return reply.status();
  }
  return Status::Ok();
}

Status CommandRunner::Remove(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "rRf", flags, paths); !s.ok()) return s;
  if (paths.empty()) return Usage("rm");
  const bool recursive = flags.count('r') > 0 || flags.count('R') > 0;
  auto expanded = ExpandRemote(paths);
  if (!expanded.ok()) return expanded.status();
  for (const auto& path : *expanded) {
    auto reply = connection().Call(protocol::RmRequest{path, recursive}.Encode());
    if (!reply.ok() && !(flags.count('f') > 0 && reply.status().code() == ErrorCode::kNotFound)) {
      return reply.status();
    }
  }
  return Status::Ok();
}

Status CommandRunner::Move(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "f", flags, paths); !s.ok()) return s;
  if (paths.size() != 2) return Usage("mv");
  const bool overwrite = flags.count('f') > 0;
  auto reply = connection().Call(protocol::MvRequest{paths[0], paths[1], overwrite}.Encode());
  if (reply.ok()) return Status::Ok();
  // The server speaks of the file system; the flag that changes the answer is this client's to name.
  if (reply.status().code() == ErrorCode::kExists && !overwrite) {
    return Status(ErrorCode::kExists, reply.status().message() + " (use -f to replace it)");
  }
  return reply.status();
}

Status CommandRunner::ChangeMode(const std::vector<std::string>& args) {
  if (args.size() < 3) return Usage("chmod");
  auto paths = ExpandRemote(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!paths.ok()) return paths.status();
  if (Status s = ParseChmodMode(args[1], 0, false).status(); !s.ok()) return s;  // a bad mode changes nothing
  Status result = Status::Ok();
  for (const std::string& path : *paths) {
    // A symbolic mode changes the bits the entry has now.
    std::uint32_t current = 0;
    bool is_directory = false;
    if (args[1].find_first_not_of("01234567") != std::string::npos) {
      auto reply = connection().Call<protocol::StatReply>(protocol::StatRequest{path});
      Status status = reply.status();
      if (reply.ok() && reply->entry.type == EntryType::kLink) {
        status = Status(ErrorCode::kInvalid, fmt::format("{}: a symbolic link: give its target, or an octal mode", path));
      }
      if (!status.ok()) {
        if (!connection().connected()) return status;
        std::cerr << "ferry: " << EscapeForTerminal(status.message()) << "\n";
        result = Partial(Status(status.code(), "some modes could not be changed"), paths->size() > 1);
        continue;
      }
      current = reply->entry.mode;
      is_directory = reply->entry.type == EntryType::kDirectory;
    }
    auto mode = ParseChmodMode(args[1], current, is_directory);
    if (!mode.ok()) return mode.status();
    auto reply = connection().Call(protocol::SetStatRequest{path, *mode, std::nullopt, 0}.Encode());
    if (!reply.ok()) {
      if (!connection().connected()) return reply.status();
      std::cerr << "ferry: " << EscapeForTerminal(reply.status().message()) << "\n";  // as chmod(1): go on
      result = Partial(Status(reply.status().code(), "some modes could not be changed"), paths->size() > 1);
    }
  }
  return result;
}

Status CommandRunner::Link(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "s", flags, paths); !s.ok()) return s;
  if (flags.count('s') == 0) {
    return Status(ErrorCode::kInvalid, "ln: only symbolic links (ln -s TARGET NAME): hard links are not made");
  }
  if (paths.empty() || paths.size() > 2) return Usage("ln");
  // As ln -s TARGET alone: a link of the target's name in the current folder.
  std::string name = paths.size() == 2 ? paths[1] : paths[0];
  if (paths.size() == 1) {
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    name = std::filesystem::path(name).filename().string();
    if (name.empty() || name == "." || name == ".." || name == "/") {
      return Status(ErrorCode::kInvalid, fmt::format("ln: '{}' has no name of its own: ln -s TARGET NAME", paths[0]));
    }
  }
  auto reply = connection().Call(protocol::SymlinkRequest{name, paths[0]}.Encode());
  if (!reply.ok()) return reply.status();
  return Status::Ok();
}

namespace {

// `path` made absolute against `cwd` and normalised lexically ("." and ".." resolved, as the server resolves them;
// ".." stops at the top).
std::string AbsoluteRemote(const std::string& cwd, const std::string& path) {
  std::vector<std::string> parts;
  bool absolute = false;
  for (const std::string& part : SplitPathParts(path.starts_with('/') ? path : cwd + "/" + path, absolute)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string joined;
  for (const std::string& part : parts) joined += "/" + part;
  return joined.empty() ? "/" : joined;
}

}  // namespace

Result<bool> CommandRunner::IsRemoteFolder(const std::string& path) {
  auto reply = connection().Call<protocol::StatReply>(protocol::StatRequest{path});
  if (!reply.ok()) {
    if (reply.status().code() == ErrorCode::kNotFound) return false;
    return reply.status();
  }
  if (reply->entry.type == EntryType::kDirectory) return true;
  if (reply->entry.type != EntryType::kLink) return false;
  // A link: a folder if a listing through it works (a pattern makes the server follow it).
  std::vector<DirectoryEntry> entries;
  bool is_file = true;
  if (!FetchListing(path, entries, &is_file, "*").ok()) {
    if (!connection().connected()) return Status(ErrorCode::kIo, "the connection was lost");
    return false;
  }
  return !is_file;
}

Status CommandRunner::Copy(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> words;
  if (Status s = ParseFlags(args, "rRpn", flags, words); !s.ok()) return s;
  if (words.size() < 2) return Usage("cp");
  const bool recursive = flags.count('r') > 0 || flags.count('R') > 0;
  const bool preserve = flags.count('p') > 0;
  const bool no_clobber = flags.count('n') > 0;
  auto destination = ExpandRemote(words.back());
  if (!destination.ok()) return destination.status();
  if (destination->size() != 1) {
    return Remote(Status(ErrorCode::kInvalid, fmt::format("cp: '{}' names {} paths; give one destination",
                                                          words.back(), destination->size())));
  }
  const std::string to = destination->front();
  auto sources = ExpandRemote(std::vector<std::string>(words.begin(), words.end() - 1));
  if (!sources.ok()) return sources.status();
  auto into_folder = IsRemoteFolder(to);
  if (!into_folder.ok()) return into_folder.status();
  if (sources->size() > 1 && !*into_folder) {
    return Remote(
        Status(ErrorCode::kNotDirectory, fmt::format("cp: copying several entries, but {} is not a folder", to)));
  }
  Status result = Status::Ok();
  auto report = [&](const Status& failure) {
    std::cerr << "ferry: " << EscapeForTerminal(failure.message()) << "\n";  // as cp(1): go on with the others
    result = Partial(Status(failure.code(), "some entries could not be copied"), sources->size() > 1);
  };
  for (const std::string& from : *sources) {
    Status copied = Status::Ok();
    auto entry = connection().Call<protocol::StatReply>(protocol::StatRequest{from});
    if (!entry.ok()) {
      copied = entry.status();
    } else if (entry->entry.type == EntryType::kDirectory && !recursive) {
      copied = Remote(Status(ErrorCode::kIsDirectory, fmt::format("cp: -r not given; omitting folder {}", from)));
    } else if (recursive && entry->entry.type != EntryType::kFile) {
      // As cp -r: a folder as a tree, a link as a link (not what it leads to).
      std::string target = to;
      if (*into_folder) {
        // The source's own name, as typed ("." and ".." have none).
        std::string name = from;
        while (name.size() > 1 && name.back() == '/') name.pop_back();
        name = name.substr(name.rfind('/') + 1);
        if (name.empty() || name == "." || name == ".." || name == "/") {
          copied = Remote(
              Status(ErrorCode::kInvalid, fmt::format("cp: '{}' has no name of its own: name the copy", from)));
        }
        target = JoinRemote(to, name);
      }
      if (copied.ok()) copied = CopyTree(from, entry->entry, target, preserve, no_clobber);
    } else {
      auto reply = connection().Call<protocol::CpReply>(protocol::CpRequest{from, to, preserve, no_clobber});
      copied = reply.status();
      if (no_clobber && copied.code() == ErrorCode::kExists) copied = Status::Ok();  // as cp -n: left as it is
    }
    if (!copied.ok()) {
      if (!connection().connected() || sources->size() == 1) return copied;
      report(copied);
    }
  }
  return result;
}

Status CommandRunner::CopyTree(const std::string& from, const DirectoryEntry& top, const std::string& to,
                               bool preserve, bool no_clobber) {
  if (top.type == EntryType::kLink) {
    Status made = connection().Call(protocol::SymlinkRequest{to, top.target}.Encode()).status();
    return no_clobber && made.code() == ErrorCode::kExists ? Status::Ok() : made;  // as cp -n: left as it is
  }
  if (top.type != EntryType::kDirectory) {
    return Remote(Status(ErrorCode::kInvalid, fmt::format("cp: {} is neither a file, a folder nor a link", from)));
  }
  // Compared as the paths read (the server resolves them the same way unless links intervene; the listing below is
  // whole before anything is made, so even then a copy cannot come to copy itself).
  const std::string absolute_source = AbsoluteRemote(remote_cwd_, from);
  const std::string absolute_target = AbsoluteRemote(remote_cwd_, to);
  if (absolute_target == absolute_source ||
      absolute_target.starts_with(absolute_source == "/" ? absolute_source : absolute_source + "/")) {
    return Remote(Status(ErrorCode::kInvalid, fmt::format("cp: cannot copy a folder, {}, into itself, {}", from, to)));
  }
  // The whole tree is listed before anything is made, so a copy can never come to copy itself.
  struct Item {
    std::string path;  // below the top, "a/b"
    DirectoryEntry entry;
  };
  std::vector<Item> items;
  std::vector<std::string> folders = {""};
  for (std::size_t i = 0; i < folders.size(); ++i) {
    std::vector<DirectoryEntry> entries;
    bool is_file = false;
    if (Status s = FetchListing(JoinRemote(from, folders[i]), entries, &is_file); !s.ok()) return s;
    for (DirectoryEntry& entry : entries) {
      if (entry.name == "." || entry.name == "..") continue;
      std::string path = JoinRemote(folders[i], entry.name);
      if (entry.type == EntryType::kDirectory) folders.push_back(path);
      items.push_back({std::move(path), std::move(entry)});
      if (items.size() > kMaxGlobMatches) {
        return Remote(
            Status(ErrorCode::kTooBig, fmt::format("cp: {} holds more than {} entries", from, kMaxGlobMatches)));
      }
    }
  }
  auto made = connection().Call(protocol::MkdirRequest{to, false}.Encode());
  if (!made.ok() && made.status().code() != ErrorCode::kExists) return made.status();
  if (!made.ok()) {
    connection().ForgetRefusal();
    auto folder = IsRemoteFolder(to);
    if (!folder.ok()) return folder.status();
    if (!*folder) {
      return Remote(Status(ErrorCode::kNotDirectory,
                           fmt::format("cp: cannot overwrite non-folder {} with folder {}", to, from)));
    }
  }
  Status result = Status::Ok();
  auto report = [&](const Status& failure) {
    std::cerr << "ferry: " << EscapeForTerminal(failure.message()) << "\n";
    result = Partial(Status(failure.code(), "some entries could not be copied"));
  };
  for (const Item& item : items) {
    const std::string from_path = JoinRemote(from, item.path);
    const std::string to_path = JoinRemote(to, item.path);
    Status done = Status::Ok();
    switch (item.entry.type) {
      case EntryType::kDirectory: {
        auto reply = connection().Call(protocol::MkdirRequest{to_path, false}.Encode());
        if (!reply.ok() && reply.status().code() != ErrorCode::kExists) done = reply.status();
        break;
      }
      case EntryType::kFile:
        done = connection()
                   .Call<protocol::CpReply>(protocol::CpRequest{from_path, to_path, preserve, no_clobber, true})
                   .status();
        if (no_clobber && done.code() == ErrorCode::kExists) done = Status::Ok();  // as cp -n: left as it is
        break;
      case EntryType::kLink:
        done = connection().Call(protocol::SymlinkRequest{to_path, item.entry.target}.Encode()).status();
        if (no_clobber && done.code() == ErrorCode::kExists) done = Status::Ok();
        break;
      default:
        done = Status(ErrorCode::kInvalid, fmt::format("cp: {}: not a file, folder or link; skipped", from_path));
    }
    if (!done.ok()) {
      if (!connection().connected()) return done;
      report(done);
    }
  }
  if (preserve) {
    // Folders last, deepest first: copying into them changed their times.
    std::vector<std::pair<std::string, const DirectoryEntry*>> dirs = {{to, &top}};
    for (const Item& item : items) {
      if (item.entry.type == EntryType::kDirectory) dirs.emplace_back(JoinRemote(to, item.path), &item.entry);
    }
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      auto reply = connection().Call(
          protocol::SetStatRequest{it->first, it->second->mode & 0777, it->second->mtime, it->second->mtime_nsec}
              .Encode());
      if (!reply.ok()) {
        if (!connection().connected()) return reply.status();
        report(reply.status());
      }
    }
  }
  return result;
}

Status CommandRunner::DiskFree(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "hk", flags, paths); !s.ok()) return s;
  if (!paths.empty()) return Usage("df");
  auto quota = connection().Call<protocol::QuotaReply>(protocol::QuotaRequest{});
  if (!quota.ok()) return quota.status();
  // The quota as a file system, as df(1) shows one (and as the server's SFTP statvfs reports it); without a limit
  // there is no size to show.
  const bool human = flags.count('h') > 0;
  const std::uint64_t used = quota->bytes + quota->bytes_reserved;
  const auto shown = [&](std::uint64_t bytes) {
    return human ? ShortSize(bytes) : std::to_string((bytes + 1023) / 1024);
  };
  std::string size = "-";
  std::string available = "-";
  std::string percent = "-";
  if (quota->max_bytes) {
    const std::uint64_t limit = *quota->max_bytes;
    size = shown(limit);
    available = shown(limit > used ? limit - used : 0);
    percent = limit == 0 ? "100%" : fmt::format("{}%", (used * 100 + limit - 1) / limit);
  }
  const Target& target = session_.parameters().target;
  const std::string filesystem = fmt::format("{}@{}", target.user, target.address.host);
  const std::size_t width = std::max<std::size_t>(filesystem.size(), 10);
  out_ << fmt::format("{:<{}} {:>10} {:>10} {:>10} {:>4} {}\n", "Filesystem", width, human ? "Size" : "1K-blocks",
                      "Used", "Available", "Use%", "Mounted on");
  out_ << fmt::format("{:<{}} {:>10} {:>10} {:>10} {:>4} {}\n", EscapeForTerminal(filesystem), width, size,
                      shown(used), available, percent, "/");
  return Status::Ok();
}

Status CommandRunner::LocalMakeDir(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "p", flags, paths); !s.ok()) return s;
  if (paths.empty()) return Usage("lmkdir");
  for (const std::string& given : paths) {
    const std::string path = ExpandTilde(given);
    std::error_code error;
    if (flags.count('p') > 0) {
      std::filesystem::create_directories(path, error);
      if (error) return Status(ErrorCode::kIo, fmt::format("{}: {}", given, error.message()));
    } else if (::mkdir(path.c_str(), 0777) != 0) {
      return Status::FromErrno(errno, given);
    }
  }
  return Status::Ok();
}

Status CommandRunner::LocalShell(const std::string& command) {
  partial_ = false;  // its failure is its own (a batch runs it without Run)
  remote_ = false;
  if (session_.connected()) connection().ForgetRefusal();
  out_.flush();
  std::cout.flush();
  const char* shell = std::getenv("SHELL");
  const std::string program = command.find_first_not_of(" \t") == std::string::npos
                                  ? std::string(shell != nullptr && *shell != '\0' ? shell : "/bin/sh")
                                  : "/bin/sh";
  const pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    // The child takes Ctrl-C as a shell does; the shell here only waits for it.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    if (program != "/bin/sh" || command.find_first_not_of(" \t") == std::string::npos) {
      ::execl(program.c_str(), program.c_str(), static_cast<char*>(nullptr));
    } else {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    }
    std::fprintf(stderr, "ferry: %s: %s\n", program.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  if (WIFSIGNALED(status)) {
    return Status(ErrorCode::kIo, fmt::format("!{}: ended by signal {}", command, WTERMSIG(status)));
  }
  return Status(ErrorCode::kIo, fmt::format("!{}: exit status {}", command, WEXITSTATUS(status)));
}

Status CommandRunner::LocalChangeDir(const std::vector<std::string>& args) {
  if (args.size() > 2) return Usage("lcd");
  std::string target;
  if (args.size() == 2) {
    const auto paths = ExpandLocal(args[1]);
    if (paths.size() > 1) return Status(ErrorCode::kInvalid, fmt::format("{}: matches more than one folder", args[1]));
    target = paths.front();
  } else {
    const char* home = std::getenv("HOME");
    target = home != nullptr ? home : "/";
  }
  if (::chdir(target.c_str()) != 0) return Status::FromErrno(errno, target);
  return Status::Ok();
}

Status CommandRunner::LocalList(const std::vector<std::string>& args) {
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "la1htSr", flags, paths); !s.ok()) return s;
  if (paths.size() > 1) return Usage("lls");
  const std::string path = paths.empty() ? "." : ExpandTilde(paths[0]);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, path);
  std::vector<DirectoryEntry> entries;
  if (!S_ISDIR(st.st_mode)) {
    entries.push_back(LocalEntry(path, st, S_ISLNK(st.st_mode) ? LocalLinkText(AT_FDCWD, path) : std::string()));
  } else {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Status::FromErrno(errno, path);
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || (name.starts_with('.') && flags.count('a') == 0)) continue;
      struct stat child {};
      if (::fstatat(::dirfd(dir), entry->d_name, &child, AT_SYMLINK_NOFOLLOW) != 0) continue;
      entries.push_back(
          LocalEntry(name, child, S_ISLNK(child.st_mode) ? LocalLinkText(::dirfd(dir), name) : std::string()));
    }
    ::closedir(dir);
  }
  PrintEntries(entries, ListFormatOf(flags));
  return Status::Ok();
}

namespace {

// Takes every "OPTION VALUE" / "OPTION=VALUE" out of `args`, in order; the values given.
std::vector<std::string> TakeValues(std::vector<std::string>& args, std::string_view option) {
  std::vector<std::string> values;
  const std::string attached = std::string(option) + "=";
  for (std::size_t i = 1; i < args.size();) {
    if (args[i] == option && i + 1 < args.size()) {
      values.push_back(args[i + 1]);
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    } else if (args[i].starts_with(attached)) {
      values.push_back(args[i].substr(attached.size()));
      args.erase(args.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  return values;
}

// Takes "--algo NAME" out of `args` (the last one given wins).
Result<transfer::ChecksumAlgorithm> TakeAlgorithm(std::vector<std::string>& args) {
  transfer::ChecksumAlgorithm algorithm = transfer::kDefaultChecksum;
  for (const std::string& name : TakeValues(args, "--algo")) {
    auto parsed = transfer::ParseChecksumName(name);
    if (!parsed.ok()) return parsed.status();
    algorithm = *parsed;
  }
  return algorithm;
}

// Takes "--limit-rate RATE" out of `args`: bytes a second as 500K, 2M (nullopt if absent).
Result<std::optional<std::uint64_t>> TakeLimitRate(std::vector<std::string>& args) {
  std::optional<std::uint64_t> rate;
  for (const std::string& text : TakeValues(args, "--limit-rate")) {
    auto parsed = ParseLimitRate(text);
    if (!parsed.ok()) return Status(ErrorCode::kInvalid, fmt::format("usage: {}", parsed.status().message()));
    rate = *parsed;
  }
  return rate;
}

// Takes every `flag` (a long option without a value) out of `args`; true if there was one.
bool TakeLongFlag(std::vector<std::string>& args, std::string_view flag) {
  const auto end = std::remove(args.begin() + 1, args.end(), flag);
  const bool found = end != args.end();
  args.erase(end, args.end());
  return found;
}

}  // namespace

Status CommandRunner::Transfer(const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  auto algorithm = TakeAlgorithm(args);
  if (!algorithm.ok()) return algorithm.status();
  auto limit_rate = TakeLimitRate(args);
  if (!limit_rate.ok()) return limit_rate.status();
  const bool checksum = TakeLongFlag(args, "--checksum");
  const bool delete_extra = TakeLongFlag(args, "--delete");
  const bool dry_run = TakeLongFlag(args, "--dry-run");
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "rRcqpn", flags, paths); !s.ok()) return s;
  const std::string& name = args[0];
  const bool upload = name == "put" || name == "mput" || name == "reput";
  const bool many = name == "mput" || name == "mget";
  if (paths.empty() || (name.starts_with("re") && paths.size() > 2)) return Usage(name);
  TransferOptions options;
  options.algorithm = *algorithm;
  options.recursive = flags.count('r') > 0 || flags.count('R') > 0;
  options.resume = flags.count('c') > 0 || name.starts_with("re");
  options.quiet = quiet_ || flags.count('q') > 0;
  options.checksum = checksum;
  options.limit_rate = limit_rate->value_or(limit_rate_);
  options.delete_extra = delete_extra;
  options.dry_run = dry_run || flags.count('n') > 0;
  if ((options.checksum || options.delete_extra || options.dry_run) && !options.recursive) {
    return Status(ErrorCode::kInvalid, fmt::format("{}: --checksum, --delete and --dry-run compare trees: use -r", name));
  }
  const auto one = [&](const std::string& from, const std::string& to) {
    return upload ? transfers_.Put(from, to, options) : transfers_.Get(from, to, options);
  };
  // The last of several arguments is where they go (not for mput/mget); the sources' patterns are expanded, remote
  // ones by the server, local ones here. A local destination may start with ~.
  const bool has_target = !many && paths.size() >= 2;
  std::string target;
  if (has_target) {
    target = paths.back();
    paths.pop_back();
    if (!upload) target = ExpandTilde(target);
  }
  std::vector<std::string> sources;
  if (upload) {
    for (const std::string& path : paths) {
      const auto matched = ExpandLocal(path);
      sources.insert(sources.end(), matched.begin(), matched.end());
    }
  } else {
    auto matched = ExpandRemote(paths);
    if (!matched.ok()) return matched.status();
    sources = std::move(matched).value();
  }
  if (!many && paths.size() == 1 && sources.size() == 1) {
    Status status = one(sources.front(), target);
    // A tree in which some entries failed (each reported as it came) failed in part.
    if (!status.ok() && options.recursive && transfers_.failed_in_part()) return Partial(std::move(status));
    return status;
  }
  // Several sources: each goes into a folder, the last argument's (or the current one's); as cp, a failure is
  // reported and the others still go, and the command fails at the end.
  paths = std::move(sources);
  std::string folder = target;
  if (has_target) {
    std::error_code error;
    if (!upload && !std::filesystem::is_directory(folder, error)) {
      return Status(ErrorCode::kNotDirectory, fmt::format("{}: not a folder (several files go into one)", folder));
    }
    if (upload && !folder.ends_with('/')) folder += '/';  // into it: Put checks that it is a folder
  }
  Status result = Status::Ok();
  std::size_t failed = 0;
  for (const std::string& path : paths) {
    Status status = one(path, folder);
    if (status.ok()) continue;
    if (!connection().connected()) return status;
    std::cerr << "ferry: " << EscapeForTerminal(status.message()) << "\n";
    ++failed;
    result = Partial(Status(status.code(), fmt::format("{} of {} could not be {}", failed, paths.size(),
                                                       upload ? "uploaded" : "downloaded")));
  }
  return result;
}

Status CommandRunner::Sum(const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  auto algorithm = TakeAlgorithm(args);
  if (!algorithm.ok()) return algorithm.status();
  if (args.size() < 2) return Usage("sum");
  auto paths = ExpandRemote(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!paths.ok()) return paths.status();
  for (const std::string& path : *paths) {
    auto reply = connection().Call<protocol::SumReply>(
        protocol::SumRequest{path, std::string(transfer::ChecksumName(*algorithm)), std::nullopt});
    if (!reply.ok()) return reply.status();
    // The sha256sum/md5sum format: digest, two spaces, name.
    out_ << reply->checksum << "  " << path << "\n";
  }
  return Status::Ok();
}

std::vector<std::string> CommandRunner::RemoteNames(const std::string& folder) {
  std::vector<DirectoryEntry> entries;
  if (!FetchListing(folder, entries, nullptr).ok()) return {};
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.name + (entry.type == EntryType::kDirectory ? "/" : ""));
  std::sort(names.begin(), names.end());
  return names;
}

std::string FormatQuota(const protocol::QuotaReply& quota) {
  std::string text;
  const std::uint64_t bytes = quota.bytes;
  const std::uint64_t reserved = quota.bytes_reserved;
  const auto& max_bytes = quota.max_bytes;
  if (max_bytes) {
    const std::uint64_t taken = bytes + reserved;
    text += fmt::format("space: {} used of {} ({} of {} bytes, {:.1f}%), {} free", HumanBytes(double(bytes)),
                        HumanBytes(double(*max_bytes)), GroupedDigits(bytes), GroupedDigits(*max_bytes),
                        *max_bytes > 0 ? 100.0 * double(bytes) / double(*max_bytes) : 100.0,
                        HumanBytes(double(taken < *max_bytes ? *max_bytes - taken : 0)));
  } else {
    text += fmt::format("space: {} used ({} bytes), no limit", HumanBytes(double(bytes)), GroupedDigits(bytes));
  }
  if (reserved > 0) text += fmt::format("; {} held for uploads in progress", HumanBytes(double(reserved)));
  text += "\n";
  const std::uint64_t files = quota.files;
  const auto& max_files = quota.max_files;
  if (max_files) {
    text += fmt::format("files: {} of {} (files, folders and links)\n", GroupedDigits(files), GroupedDigits(*max_files));
  } else {
    text += fmt::format("files: {} (files, folders and links), no limit\n", GroupedDigits(files));
  }
  return text;
}

std::string FormatMode(std::string_view type, std::uint32_t mode) {
  std::string out = "?---------";
  out[0] = type == "dir" ? 'd' : type == "link" ? 'l' : type == "file" ? '-' : '?';
  const char* letters = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if ((mode & (1u << (8 - i))) != 0) out[static_cast<std::size_t>(i) + 1] = letters[i];
  }
  if ((mode & 04000) != 0) out[3] = (mode & 0100) != 0 ? 's' : 'S';
  if ((mode & 02000) != 0) out[6] = (mode & 0010) != 0 ? 's' : 'S';
  if ((mode & 01000) != 0) out[9] = (mode & 0001) != 0 ? 't' : 'T';
  return out;
}

std::string FormatLongEntry(const DirectoryEntry& entry, std::int64_t now, bool human) {
  const std::string size = human ? ShortSize(entry.size) : std::to_string(entry.size);
  const std::string target = entry.type == EntryType::kLink && !entry.target.empty()
                                 ? " -> " + EscapeForTerminal(entry.target)
                                 : std::string();
  return fmt::format("{} {:>3} {:>12} {} {}{}", FormatMode(EntryTypeName(entry.type), entry.mode), entry.nlink, size,
                     HumanTime(entry.mtime, now), EscapeForTerminal(entry.name), target);
}

Result<std::uint64_t> ParseLimitRate(std::string_view text) {
  auto rate = ParseByteSize(text);
  if (!rate.ok() || *rate == 0) {
    return Status(ErrorCode::kInvalid,
                  fmt::format("--limit-rate '{}': a rate in bytes a second, as 500K, 2M or 1G", text));
  }
  return *rate;
}

std::string ShortSize(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes);
  constexpr std::string_view kUnits = "KMGTPE";
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  // As ls -h: rounded up, one decimal below 10.
  if (value < 10) {
    const double tenths = std::ceil(value * 10) / 10;
    if (tenths < 10) return fmt::format("{:.1f}{}", tenths, kUnits[unit]);
    value = tenths;
  }
  const double whole = std::ceil(value);
  if (whole >= 1024 && unit + 1 < kUnits.size()) return fmt::format("1.0{}", kUnits[unit + 1]);
  return fmt::format("{:.0f}{}", whole, kUnits[unit]);
}

Result<std::uint32_t> ParseChmodMode(std::string_view text, std::uint32_t current, bool is_directory) {
  const auto invalid = [&] { return Status(ErrorCode::kInvalid, fmt::format("chmod: invalid mode: '{}'", text)); };
  // The server keeps the permission bits only (no setuid, setgid or sticky bit in a home).
  const auto only_permissions = [&] {
    return Status(ErrorCode::kInvalid, fmt::format("chmod: '{}': only permission bits (up to 777) can be set", text));
  };
  if (text.empty()) return invalid();
  if (text.find_first_not_of("01234567") == std::string_view::npos) {
    const auto mode = static_cast<std::uint32_t>(std::stoul(std::string(text), nullptr, 8));
    if (text.size() > 4 || mode > 0777) return only_permissions();
    return mode;
  }
  std::uint32_t mode = current & 0777;
  std::size_t i = 0;
  while (true) {
    // Who: u g o a (none: all, as chmod does without a umask).
    std::uint32_t who = 0;
    for (; i < text.size() && std::string_view("ugoa").find(text[i]) != std::string_view::npos; ++i) {
      who |= text[i] == 'u' ? 0700 : text[i] == 'g' ? 0070 : text[i] == 'o' ? 0007 : 0777;
    }
    if (who == 0) who = 0777;
    if (i >= text.size() || std::string_view("+-=").find(text[i]) == std::string_view::npos) return invalid();
    while (i < text.size() && std::string_view("+-=").find(text[i]) != std::string_view::npos) {
      const char op = text[i++];
      std::uint32_t bits = 0;
      if (i < text.size() && (text[i] == 's' || text[i] == 't')) return only_permissions();
      for (; i < text.size() && std::string_view("rwxX").find(text[i]) != std::string_view::npos; ++i) {
        switch (text[i]) {
          case 'r': bits |= 0444; break;
          case 'w': bits |= 0222; break;
          case 'x': bits |= 0111; break;
          case 'X': if (is_directory || (mode & 0111) != 0) bits |= 0111; break;
        }
      }
      bits &= who;
      if (op == '+') mode |= bits;
      if (op == '-') mode &= ~bits;
      if (op == '=') mode = (mode & ~who) | bits;
    }
    if (i == text.size()) return mode;
    if (text[i] != ',') return invalid();
    ++i;
  }
}

}  // namespace ferry::client
