#include "frontends/ftp/ftp_command.h"

#include <arpa/inet.h>
#include <time.h>

#include <cctype>
#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace ferry::frontends::ftp {
namespace {

constexpr unsigned char kIac = 255;  // telnet "interpret as command"

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

Status Syntax(std::string_view what) { return Status(ErrorCode::kInvalid, std::string(what)); }

Result<unsigned> ParseNumber(std::string_view text, unsigned max) {
  unsigned value = 0;
  if (text.empty() || text.size() > 10) return Syntax("not a number");
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return Syntax("not a number");
  return value;
}

}  // namespace

std::string UpperCase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

std::string OneLineName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = '?';
  }
  return out;
}

void CommandReader::Append(std::string_view bytes) {
  buffer_.append(bytes);
  // The line still without its end must fit.
  const std::size_t last_end = buffer_.rfind('\n');
  const std::size_t pending = last_end == std::string::npos ? buffer_.size() : buffer_.size() - last_end - 1;
  if (pending > kMaxCommandLine) {
    // The lines before it are still answered; the rest of this one is never kept.
    too_long_ = true;
    buffer_.resize(buffer_.size() - pending);
  }
}

std::optional<Command> CommandReader::Next() {
  const std::size_t end = buffer_.find('\n');
  if (end == std::string::npos) return std::nullopt;
  if (end + 1 > kMaxCommandLine) {
    too_long_ = true;
    buffer_.clear();
    return std::nullopt;
  }
  std::string line;
  line.reserve(end);
  for (std::size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(buffer_[i]);
    if (c == kIac && i + 1 < end) {
      // IAC IAC is a literal 255; IAC followed by a command byte (IP, DM, ...) is dropped with its option byte.
      const auto next = static_cast<unsigned char>(buffer_[i + 1]);
      if (next == kIac) {
        line += static_cast<char>(kIac);
      } else if (next >= 251 && next <= 254 && i + 2 < end) {
        ++i;  // WILL/WONT/DO/DONT carry one more byte
      }
      ++i;
      continue;
    }
    if (c == kIac) continue;
    line += static_cast<char>(c);
  }
  buffer_.erase(0, end + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  Command command;
  std::string_view rest = line;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const std::size_t space = rest.find(' ');
  const std::string_view verb = rest.substr(0, space);
  command.verb = UpperCase(verb);
  // The argument is kept as sent after exactly one space: file names may begin or end with spaces.
  if (space != std::string_view::npos) command.argument = std::string(rest.substr(space + 1));
  return command;
}

void AppendReply(std::string& out, int code, std::string_view text) {
  // Nearly every reply is one line of plain text: written straight into `out`, with no line list.
  const auto digits = [&out](int value, char separator) {
    const fmt::format_int number(value);
    out.append(number.data(), number.size());
    out += separator;
  };
  if (text.find_first_of("\r\n") == std::string_view::npos) {
    digits(code, ' ');
    out += text;
    out += "\r\n";
    return;
  }
  std::vector<std::string_view> lines;
  while (true) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  while (lines.size() > 1 && lines.back().empty()) lines.pop_back();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string line;
    for (char c : lines[i]) {
      if (c != '\r') line += c;
    }
    if (lines.size() == 1 || i + 1 == lines.size()) {
      digits(code, ' ');
    } else if (i == 0) {
      digits(code, '-');
    } else if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
      // A continuation line must not look like the last one ("CODE "): such lines get a leading space.
      out += ' ';
    }
    out += line;
    out += "\r\n";
  }
}

std::string FormatReply(int code, std::string_view text) {
  std::string out;
  AppendReply(out, code, text);
  return out;
}

std::string QuotePath(std::string_view path) {
  std::string out = "\"";
  for (char c : path) {
    if (c == '"') out += '"';
    if (c == '\n') {
      out += '\0';  // RFC 959: a newline in a path name is sent as NUL
      continue;
    }
    if (c == '\r') continue;
    out += c;
  }
  return out + "\"";
}

Result<HostPort> ParsePortArgument(std::string_view argument) {
  unsigned parts[6];
  std::string_view rest = Trim(argument);
  for (int i = 0; i < 6; ++i) {
    const std::size_t comma = rest.find(',');
    if ((comma == std::string_view::npos) != (i == 5)) return Syntax("PORT wants h1,h2,h3,h4,p1,p2");
    auto number = ParseNumber(Trim(rest.substr(0, comma)), 255);
    if (!number.ok()) return Syntax("PORT wants h1,h2,h3,h4,p1,p2");
    parts[i] = *number;
    if (comma != std::string_view::npos) rest.remove_prefix(comma + 1);
  }
  return HostPort{fmt::format("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[3]),
                  static_cast<std::uint16_t>(parts[4] * 256 + parts[5])};
}

Result<HostPort> ParseEprtArgument(std::string_view argument) {
  const std::string_view text = Trim(argument);
  if (text.size() < 7) return Syntax("EPRT wants |protocol|address|port|");
  const char delimiter = text.front();
  if (delimiter < 33 || delimiter > 126 || text.back() != delimiter) return Syntax("EPRT wants |protocol|address|port|");
  std::string_view fields[3];
  std::string_view rest = text.substr(1, text.size() - 2);
  for (int i = 0; i < 3; ++i) {
    const std::size_t at = rest.find(delimiter);
    if ((at == std::string_view::npos) != (i == 2)) return Syntax("EPRT wants |protocol|address|port|");
    fields[i] = rest.substr(0, at);
    if (at != std::string_view::npos) rest.remove_prefix(at + 1);
  }
  const auto port = ParseNumber(fields[2], 65535);
  if (!port.ok() || *port == 0) return Syntax("EPRT: bad port");
  const std::string address(fields[1]);
  unsigned char bytes[16];
  if (fields[0] == "1") {
    if (::inet_pton(AF_INET, address.c_str(), bytes) != 1) return Syntax("EPRT: bad IPv4 address");
  } else if (fields[0] == "2") {
    if (::inet_pton(AF_INET6, address.c_str(), bytes) != 1) return Syntax("EPRT: bad IPv6 address");
  } else {
    return Status(ErrorCode::kNotSupported, "EPRT: network protocol not supported, use (1,2)");
  }
  return HostPort{address, static_cast<std::uint16_t>(*port)};
}

std::string FormatPasvReply(std::string_view ipv4, std::uint16_t port) {
  std::string numbers(ipv4);
  for (char& c : numbers) {
    if (c == '.') c = ',';
  }
  return fmt::format("Entering Passive Mode ({},{},{}).", numbers, port / 256, port % 256);
}

std::string FormatEpsvReply(std::uint16_t port) { return fmt::format("Entering Extended Passive Mode (|||{}|).", port); }

Result<std::uint64_t> ParseRestOffset(std::string_view argument) {
  const std::string_view text = Trim(argument);
  std::uint64_t value = 0;
  if (text.empty() || text.size() > 19) return Syntax("REST wants a byte offset");
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > static_cast<std::uint64_t>(INT64_MAX)) {
    return Syntax("REST wants a byte offset");
  }
  return value;
}

Result<bool> ParseTypeIsAscii(std::string_view argument) {
  const std::string text = UpperCase(Trim(argument));
  if (text == "A" || text == "A N") return true;
  if (text == "I" || text == "L 8" || text == "L8") return false;
  return Status(ErrorCode::kNotSupported, "only TYPE A (non-print) and TYPE I are supported");
}

std::string FormatTimeVal(std::int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  struct tm parts {};
  ::gmtime_r(&t, &parts);
  char text[32];
  ::strftime(text, sizeof text, "%Y%m%d%H%M%S", &parts);
  return text;
}

Result<std::int64_t> ParseTimeVal(std::string_view text) {
  text = Trim(text);
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  if (whole.size() != 14) return Syntax("the time must be YYYYMMDDHHMMSS");
  for (char c : text.substr(0, dot)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return Syntax("the time must be YYYYMMDDHHMMSS");
  }
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 9) return Syntax("the time must be YYYYMMDDHHMMSS");
    for (char c : fraction) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Syntax("the time must be YYYYMMDDHHMMSS");
    }
  }
  auto field = [&](std::size_t at, std::size_t length) {
    unsigned value = 0;
    std::from_chars(whole.data() + at, whole.data() + at + length, value);
    return static_cast<int>(value);
  };
  struct tm parts {};
  parts.tm_year = field(0, 4) - 1900;
  parts.tm_mon = field(4, 2) - 1;
  parts.tm_mday = field(6, 2);
  parts.tm_hour = field(8, 2);
  parts.tm_min = field(10, 2);
  parts.tm_sec = field(12, 2);
  if (parts.tm_mon < 0 || parts.tm_mon > 11 || parts.tm_mday < 1 || parts.tm_mday > 31 || parts.tm_hour > 23 ||
      parts.tm_min > 59 || parts.tm_sec > 60 || parts.tm_year < 0) {
    return Syntax("the time is out of range");
  }
  return static_cast<std::int64_t>(::timegm(&parts));
}

std::string FormatListLine(const service::FileInfo& info, std::string_view owner, std::int64_t now) {
  char type = '-';
  if (info.type == service::FileType::kDirectory) type = 'd';
  if (info.type == service::FileType::kSymlink) type = 'l';
  if (info.type == service::FileType::kOther) type = 'p';
  std::string mode(1, type);
  const char* letters = "rwxrwxrwx";
  for (int bit = 8; bit >= 0; --bit) mode += (info.mode & (1u << bit)) ? letters[8 - bit] : '-';
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t t = static_cast<time_t>(info.mtime);
  struct tm parts {};
  ::gmtime_r(&t, &parts);
  constexpr std::int64_t kSixMonths = 180 * 24 * 3600;
  const bool recent = info.mtime <= now + 3600 && now - info.mtime < kSixMonths;
  const std::string when = recent ? fmt::format("{:02}:{:02}", parts.tm_hour, parts.tm_min)
                                  : fmt::format("{:>5}", parts.tm_year + 1900);
  const std::string name = OneLineName(info.name);
  return fmt::format("{} {:>3} {} {} {:>12} {} {:>2} {} {}\r\n", mode, info.nlink == 0 ? 1 : info.nlink, owner, owner,
                     info.size, kMonths[parts.tm_mon], parts.tm_mday, when, name);
}

std::string_view FactType(const service::FileInfo& info) {
  switch (info.type) {
    case service::FileType::kDirectory:
      return "dir";
    case service::FileType::kFile:
      return "file";
    case service::FileType::kSymlink:
      return "OS.unix=symlink";
    default:
      return "OS.unix=special";
  }
}

std::string FormatFacts(const service::FileInfo& info, std::string_view type, bool writable, std::string_view name) {
  std::string facts = fmt::format("type={};", type);
  if (info.type == service::FileType::kFile) facts += fmt::format("size={};", info.size);
  facts += fmt::format("modify={};", FormatTimeVal(info.mtime));
  // RFC 3659 7.5.5: a append, c create, d delete, e enter, f rename, l list, m mkdir, p purge, r retrieve, w store.
  std::string perm;
  if (info.type == service::FileType::kDirectory) {
    perm = writable ? "flcdmpe" : "le";
    if (type == "cdir" && writable) perm = "flcdmpe";
  } else if (info.type == service::FileType::kFile) {
    perm = writable ? "adfrw" : "r";
  } else {
    perm = writable ? "df" : "";
  }
  facts += fmt::format("perm={};", perm);
  if (info.inode != 0) facts += fmt::format("unique={:x}g{:x};", info.device, info.inode);
  facts += fmt::format("UNIX.mode={:04o}; ", info.mode & 07777);
  facts += OneLineName(name);
  return facts;
}

}  // namespace ferry::frontends::ftp
