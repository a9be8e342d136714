// The FTP control connection's text: command lines in, replies out, and the few arguments with a syntax of their own
// (PORT/EPRT addresses, TYPE, REST), with listings in the formats clients parse (LIST as `ls -l`, MLSD/MLST facts).
// Pure functions over strings: no socket, no file system, so each is tested and fuzzed alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "service/paths.h"

namespace ferry::frontends::ftp {

// The longest command line accepted, CRLF included. Paths are at most PATH_MAX (4096) bytes, so 4 KiB plus a verb.
inline constexpr std::size_t kMaxCommandLine = 4096 + 64;

struct Command {
  std::string verb;      // upper-cased ("RETR")
  std::string argument;  // everything after the first space, as sent ("" for none)
};

// Collects control-connection bytes into command lines. Lines end with CRLF; a bare LF is accepted too (clients and
// people typing at telnet send it). Telnet IAC sequences are dropped (an ABOR is often sent as IAC IP IAC DM ABOR).
// Memory is bounded by kMaxCommandLine.
class CommandReader {
 public:
  // Appends received bytes. REQUIRES: !too_long().
  void Append(std::string_view bytes);
  // The next complete command, if one has arrived. A line that is empty or only spaces yields a Command with an empty
  // verb (answered as a syntax error).
  std::optional<Command> Next();
  // A line has passed kMaxCommandLine: the connection must answer and close once the complete lines before it are
  // answered (Next returns those, then nothing).
  bool too_long() const { return too_long_; }
  // Bytes received and not yet returned as commands (after AUTH TLS, anything here came unprotected and is dropped).
  std::size_t buffered() const { return buffer_.size(); }
  void Clear() { buffer_.clear(); }

 private:
  std::string buffer_;
  bool too_long_ = false;
};

// `text` in upper case (ASCII): verbs and keywords are case-insensitive.
std::string UpperCase(std::string_view text);
// A file name as one line of a listing or reply: CR and LF become '?', so no name can end a line early.
std::string OneLineName(std::string_view name);

// One reply: "CODE text\r\n", or a multi-line reply ("CODE-first\r\n line\r\nCODE last\r\n") when `text` has several
// lines. CR and LF inside a line (from a file name) cannot break the reply: a line break starts a new reply line and
// a bare CR is dropped.
std::string FormatReply(int code, std::string_view text);
// The same, appended to `out`.
void AppendReply(std::string& out, int code, std::string_view text);

// A path as a 257 reply quotes it: inside double quotes, with each quote doubled (RFC 959, appendix II).
std::string QuotePath(std::string_view path);

struct HostPort {
  std::string address;  // numeric, "a.b.c.d" or an IPv6 address
  std::uint16_t port = 0;
};

// "h1,h2,h3,h4,p1,p2" (PORT).
Result<HostPort> ParsePortArgument(std::string_view argument);
// "|1|a.b.c.d|port|" or "|2|::1|port|" (EPRT; any delimiter character from 33 to 126).
Result<HostPort> ParseEprtArgument(std::string_view argument);
// The 227 reply's text: "Entering Passive Mode (h1,h2,h3,h4,p1,p2)." REQUIRES: an IPv4 address.
std::string FormatPasvReply(std::string_view ipv4, std::uint16_t port);
// The 229 reply's text: "Entering Extended Passive Mode (|||port|)."
std::string FormatEpsvReply(std::uint16_t port);

// REST's byte offset: decimal digits only, no sign, at most 2^63 - 1.
Result<std::uint64_t> ParseRestOffset(std::string_view argument);

// TYPE's argument: "A", "A N", "I", "L 8" (any case). True for ASCII, false for image; EINVAL for the rest (EBCDIC,
// other byte sizes, other format controls).
Result<bool> ParseTypeIsAscii(std::string_view argument);

// MDTM's and MFMT's time: "YYYYMMDDHHMMSS" with an optional ".sss" fraction, in UTC.
std::string FormatTimeVal(std::int64_t seconds);
Result<std::int64_t> ParseTimeVal(std::string_view text);

// One line of a LIST reply for `info`, as `ls -l` prints it (what FileZilla, lftp and curl users see and what their
// parsers expect): "-rw-r--r-- 1 owner owner SIZE Mon DD HH:MM NAME", the year instead of the time for entries
// older than six months or in the future. `now` is the current time in seconds. Ends with CRLF.
std::string FormatListLine(const service::FileInfo& info, std::string_view owner, std::int64_t now);

// MLSD/MLST facts for `info` (RFC 3659 section 7): "type=file;size=N;modify=YYYYMMDDHHMMSS;perm=...;unique=...;
// UNIX.mode=0644; NAME". `type` is "cdir" for the folder MLSD lists and "dir"/"file"/"OS.unix=symlink" otherwise.
// `writable`: whether the user may change things (perm facts). `unique` is the device and inode in hex, when known.
// No CRLF: MLSD adds it; MLST puts a space before it.
std::string FormatFacts(const service::FileInfo& info, std::string_view type, bool writable, std::string_view name);
// The RFC 3659 "type" fact of an entry.
std::string_view FactType(const service::FileInfo& info);

}  // namespace ferry::frontends::ftp
