// Fuzzes the FTP control connection's text handling: CommandReader with the stream cut at arbitrary points, and
// every parser and formatter on the commands it yields.
//
// Input: 1 byte seeding the cut points, then the stream. Invariants checked:
//   - the commands, and whether a line was too long, do not depend on where the stream was cut;
//   - memory is bounded: after draining, at most one command line is buffered;
//   - a reply built from any text is well formed: CRLF-terminated lines with no CR or LF inside, the last one
//     "CODE text", no other line that a client could take for the last;
//   - parsed PORT/EPRT addresses, REST offsets and times are within their ranges, and times round-trip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frontends/ftp/ftp_command.h"
#include "fuzz_check.h"

namespace {

using ferry::frontends::ftp::Command;
using ferry::frontends::ftp::CommandReader;
using ferry::frontends::ftp::kMaxCommandLine;

struct Outcome {
  std::vector<std::string> commands;  // "VERB argument"
  bool too_long = false;
};

// Feeds `stream` in pieces whose sizes come from `seed` (0: all at once), draining after each, as a session does.
Outcome Read(std::string_view stream, std::uint8_t seed) {
  Outcome outcome;
  CommandReader reader;
  std::uint32_t state = seed * 2654435761u + 1;
  while (!stream.empty() && !reader.too_long()) {
    std::size_t piece = stream.size();
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      piece = std::min<std::size_t>(stream.size(), 1 + (state >> 16) % 700);
    }
    reader.Append(stream.substr(0, piece));
    stream.remove_prefix(piece);
    while (auto command = reader.Next()) outcome.commands.push_back(command->verb + " " + command->argument);
    FUZZ_CHECK(reader.buffered() <= kMaxCommandLine);
  }
  outcome.too_long = reader.too_long();
  return outcome;
}

void CheckReply(int code, std::string_view text) {
  const std::string reply = ferry::frontends::ftp::FormatReply(code, text);
  const std::string prefix_last = std::to_string(code) + " ";
  FUZZ_CHECK(reply.size() >= 6 && reply.substr(reply.size() - 2) == "\r\n");
  std::size_t start = 0;
  std::vector<std::string_view> lines;
  while (start < reply.size()) {
    const std::size_t end = reply.find("\r\n", start);
    FUZZ_CHECK(end != std::string::npos);
    const std::string_view line(reply.data() + start, end - start);
    FUZZ_CHECK(line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos);
    lines.push_back(line);
    start = end + 2;
  }
  FUZZ_CHECK(lines.back().substr(0, 4) == prefix_last);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) FUZZ_CHECK(lines[i].substr(0, 4) != prefix_last);
}

void CheckParsers(const std::string& argument) {
  using namespace ferry::frontends::ftp;
  if (auto port = ParsePortArgument(argument); port.ok()) FUZZ_CHECK(!port->address.empty());
  if (auto eprt = ParseEprtArgument(argument); eprt.ok()) FUZZ_CHECK(eprt->port > 0);
  if (auto rest = ParseRestOffset(argument); rest.ok()) FUZZ_CHECK(*rest <= static_cast<std::uint64_t>(INT64_MAX));
  (void)ParseTypeIsAscii(argument);
  if (auto time = ParseTimeVal(argument); time.ok() && *time >= 0 && *time < 253402300800) {
    FUZZ_CHECK(*ParseTimeVal(FormatTimeVal(*time)) == *time);
  }
  const std::string quoted = QuotePath(argument);
  FUZZ_CHECK(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"');
  CheckReply(550, argument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t seed = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const Outcome whole = Read(stream, 0);
  const Outcome cut = Read(stream, seed == 0 ? 1 : seed);
  FUZZ_CHECK(whole.commands == cut.commands);
  FUZZ_CHECK(whole.too_long == cut.too_long);
  for (const std::string& command : whole.commands) {
    const std::size_t space = command.find(' ');
    CheckParsers(command.substr(space + 1));
  }
  return 0;
}
