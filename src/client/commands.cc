#include "client/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>
#include <dirent.h>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "common/byte_size.h"
#include "client/terminal_text.h"

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

DirectoryEntry LocalEntry(const std::string& name, const struct stat& st) {
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
                        static_cast<std::uint64_t>(st.st_nlink)};
}

}  // namespace

const std::vector<CommandInfo>& AllCommands() {
  static const std::vector<CommandInfo> commands = {
      {"help", "help [COMMAND]", "Show commands, or how to use one", false},
      {"pwd", "pwd", "Print the remote folder", false},
      {"cd", "cd [PATH]", "Change the remote folder (default: the home, /)", true},
      {"ls", "ls [-l] [-a] [PATH...]", "List remote files (-l: long format, -a: include dot files)", true},
      {"stat", "stat PATH...", "Show a remote entry's type, size, mode and modification time", true},
      {"mkdir", "mkdir [-p] PATH...", "Create remote folders (-p: with missing parents, no error if present)", true},
      {"rmdir", "rmdir PATH...", "Remove empty remote folders", true},
      {"rm", "rm [-r] [-f] PATH...", "Remove remote files (-r: folders and their contents, -f: ignore missing)",
       true},
      {"mv", "mv [-f] FROM TO", "Rename or move a remote entry (-f: replace an existing file)", true},
      {"put", "put [-r] [-c] [-q] [--algo A] LOCAL... [REMOTE]",
       "Upload (-r: a folder tree, -c: continue an interrupted upload, -q: no progress; several into a folder)",
       true},
      {"get", "get [-r] [-c] [-q] [--algo A] REMOTE... [LOCAL]",
       "Download (-r: a folder tree, -c: continue an interrupted download, -q: no progress; several into a folder)",
       true},
      {"mput", "mput [-r] [-c] [-q] LOCAL...", "Upload each file into the remote folder (as sftp's mput)", false},
      {"mget", "mget [-r] [-c] [-q] REMOTE...", "Download each file into the local folder (as sftp's mget)", true},
      {"reput", "reput [-r] [-q] LOCAL [REMOTE]", "Continue an interrupted upload (put -c)", false},
      {"reget", "reget [-r] [-q] REMOTE [LOCAL]", "Continue an interrupted download (get -c)", true},
      {"sum", "sum [--algo xxh3|sha256|md5] REMOTE...", "Print the server's checksum of files (as sha256sum does)",
       true},
      {"whoami", "whoami", "Print the user you are logged in as", false},
      {"quota", "quota", "Show the space and number of files you use, and your limits", false},
      {"exec", "exec [-i] [--shell] PROGRAM [ARGS...]",
       "Run a program on the server in the remote folder (-i: give it this stdin; --shell: a command line for sh)",
       false},
      {"lcd", "lcd [PATH]", "Change the local folder (default: $HOME)", false},
      {"lpwd", "lpwd", "Print the local folder", false},
      {"lls", "lls [-l] [-a] [PATH]", "List local files", false},
      {"quit", "quit", "Leave (also: exit, bye)", false},
  };
  return commands;
}

CommandRunner::CommandRunner(ClientSession& session, std::ostream& out)
    : session_(session), out_(out), transfers_(session, [this] { return remote_cwd_; }) {}

Status CommandRunner::Run(const std::vector<std::string>& words) {
  if (words.empty()) return Status::Ok();
  const std::string& name = words[0];
  if (name == "help" || name == "?") return Help(words);
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
  if (name == "lcd") return LocalChangeDir(words);
  if (name == "lpwd") {
    char buffer[PATH_MAX];
    if (::getcwd(buffer, sizeof buffer) == nullptr) return Status::FromErrno(errno, "lpwd");
    out_ << buffer << "\n";
    return Status::Ok();
  }
  if (name == "lls") return LocalList(words);
  if (name == "put" || name == "get" || name == "mput" || name == "mget" || name == "reput" || name == "reget") {
    return Transfer(words);
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
  }
  return Status::Ok();
}

Status CommandRunner::ChangeDir(const std::vector<std::string>& args) {
  if (args.size() > 2) return Usage("cd");
  auto reply = connection().Call<protocol::CdReply>(protocol::CdRequest{args.size() == 2 ? args[1] : "/"});
  if (!reply.ok()) return reply.status();
  remote_cwd_ = std::move(reply->path);
  return Status::Ok();
}

Status CommandRunner::FetchListing(const std::string& path, std::vector<DirectoryEntry>& entries, bool* is_file) {
  entries.clear();
  return connection().CallStream(protocol::ListRequest{path}.Encode(), [&](const protocol::Frame& frame) {
    auto batch = protocol::ListReply::Parse(frame.header, frame.body);
    if (!batch.ok()) return batch.status();
    if (is_file != nullptr) *is_file = batch->file;
    std::move(batch->entries.begin(), batch->entries.end(), std::back_inserter(entries));
    return Status::Ok();
  });
}

void CommandRunner::PrintEntries(const std::vector<DirectoryEntry>& entries, bool long_format) {
  std::vector<const DirectoryEntry*> sorted;
  for (const auto& entry : entries) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const DirectoryEntry* a, const DirectoryEntry* b) { return a->name < b->name; });
  if (long_format) {
    const std::int64_t now = std::time(nullptr);
    for (const DirectoryEntry* entry : sorted) out_ << FormatLongEntry(*entry, now) << "\n";
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
  if (Status s = ParseFlags(args, "la1", flags, paths); !s.ok()) return s;
  if (paths.empty()) paths.push_back("");
  Status result = Status::Ok();
  // As ls(1): the files named go first, together and under the names given; then each folder, with a heading when
  // there is more than one thing to show.
  std::vector<DirectoryEntry> files;
  std::vector<std::pair<std::string, std::vector<DirectoryEntry>>> folders;
  for (const std::string& path : paths) {
    std::vector<DirectoryEntry> entries;
    bool is_file = false;
    if (Status s = FetchListing(path, entries, &is_file); !s.ok()) {
      if (!connection().connected()) return s;
      std::cerr << "ferry: " << EscapeForTerminal(s.message()) << "\n";  // report, go on, fail at the end
      result = Status(s.code(), "some of the paths could not be listed");
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
    PrintEntries(files, flags.count('l') > 0);
    first = false;
  }
  for (const auto& [path, entries] : folders) {
    if (headings) out_ << (first ? "" : "\n") << EscapeForTerminal(path) << ":\n";
    first = false;
    PrintEntries(entries, flags.count('l') > 0);
  }
  return result;
}

Status CommandRunner::Stat(const std::vector<std::string>& args) {
  if (args.size() < 2) return Usage("stat");
  Status result = Status::Ok();
  bool first = true;
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto reply = connection().Call<protocol::StatReply>(protocol::StatRequest{args[i]});
    if (!reply.ok()) {
      if (!connection().connected()) return reply.status();
      std::cerr << "ferry: " << EscapeForTerminal(reply.status().message()) << "\n";  // as stat(1): go on
      result = Status(reply.status().code(), "some of the paths could not be read");
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
                        EscapeForTerminal(args[i]), type, entry.size, entry.mode, FormatMode(type, entry.mode),
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
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto reply = connection().Call(protocol::RmdirRequest{args[i]}.Encode());
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
  for (const auto& path : paths) {
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

Status CommandRunner::LocalChangeDir(const std::vector<std::string>& args) {
  if (args.size() > 2) return Usage("lcd");
  std::string target;
  if (args.size() == 2) {
    target = args[1];
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
  if (Status s = ParseFlags(args, "la1", flags, paths); !s.ok()) return s;
  if (paths.size() > 1) return Usage("lls");
  const std::string path = paths.empty() ? "." : paths[0];
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, path);
  std::vector<DirectoryEntry> entries;
  if (!S_ISDIR(st.st_mode)) {
    entries.push_back(LocalEntry(path, st));
  } else {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Status::FromErrno(errno, path);
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || (name.starts_with('.') && flags.count('a') == 0)) continue;
      struct stat child {};
      if (::fstatat(::dirfd(dir), entry->d_name, &child, AT_SYMLINK_NOFOLLOW) != 0) continue;
      entries.push_back(LocalEntry(name, child));
    }
    ::closedir(dir);
  }
  PrintEntries(entries, flags.count('l') > 0);
  return Status::Ok();
}

namespace {

// Takes "--algo NAME" / "--algo=NAME" out of `args`.
Result<transfer::ChecksumAlgorithm> TakeAlgorithm(std::vector<std::string>& args) {
  transfer::ChecksumAlgorithm algorithm = transfer::kDefaultChecksum;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string name;
    if (args[i] == "--algo" && i + 1 < args.size()) {
      name = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    } else if (args[i].starts_with("--algo=")) {
      name = args[i].substr(7);
      args.erase(args.begin() + static_cast<long>(i));
    } else {
      continue;
    }
    auto parsed = transfer::ParseChecksumName(name);
    if (!parsed.ok()) return parsed.status();
    algorithm = *parsed;
    --i;
  }
  return algorithm;
}

}  // namespace

Status CommandRunner::Transfer(const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  auto algorithm = TakeAlgorithm(args);
  if (!algorithm.ok()) return algorithm.status();
  std::set<char> flags;
  std::vector<std::string> paths;
  if (Status s = ParseFlags(args, "rRcqp", flags, paths); !s.ok()) return s;
  const std::string& name = args[0];
  const bool upload = name == "put" || name == "mput" || name == "reput";
  const bool many = name == "mput" || name == "mget";
  if (paths.empty() || (name.starts_with("re") && paths.size() > 2)) return Usage(name);
  TransferOptions options;
  options.algorithm = *algorithm;
  options.recursive = flags.count('r') > 0 || flags.count('R') > 0;
  options.resume = flags.count('c') > 0 || name.starts_with("re");
  options.quiet = quiet_ || flags.count('q') > 0;
  const auto one = [&](const std::string& from, const std::string& to) {
    return upload ? transfers_.Put(from, to, options) : transfers_.Get(from, to, options);
  };
  if (!many && paths.size() <= 2) return one(paths[0], paths.size() == 2 ? paths[1] : "");
  // Several sources: each goes into a folder, the last argument's (or, for mget/mput, the current one's); as cp,
  // a failure is reported and the others still go, and the command fails at the end.
  std::string folder;
  if (!many) {
    folder = paths.back();
    paths.pop_back();
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
    result = Status(status.code(), fmt::format("{} of {} could not be {}", failed, paths.size(),
                                               upload ? "uploaded" : "downloaded"));
  }
  return result;
}

Status CommandRunner::Sum(const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  auto algorithm = TakeAlgorithm(args);
  if (!algorithm.ok()) return algorithm.status();
  if (args.size() < 2) return Usage("sum");
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto reply = connection().Call<protocol::SumReply>(
        protocol::SumRequest{args[i], std::string(transfer::ChecksumName(*algorithm)), std::nullopt});
    if (!reply.ok()) return reply.status();
    // The sha256sum/md5sum format: digest, two spaces, name.
    out_ << reply->checksum << "  " << args[i] << "\n";
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

std::string FormatLongEntry(const DirectoryEntry& entry, std::int64_t now) {
  return fmt::format("{} {:>3} {:>12} {} {}", FormatMode(EntryTypeName(entry.type), entry.mode), entry.nlink,
                     entry.size, HumanTime(entry.mtime, now), EscapeForTerminal(entry.name));
}

}  // namespace ferry::client
