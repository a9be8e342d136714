#include "client/host_config.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "client/local_paths.h"
#include "common/glob.h"
#include "common/words.h"

namespace ferry::client {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower;
}

// As ssh: the host matches some pattern and no negated one.
bool HostMatches(const std::vector<std::string>& patterns, const std::string& alias) {
  bool matched = false;
  for (const std::string& pattern : patterns) {
    if (pattern.starts_with('!')) {
      if (GlobMatches(Lower(pattern.substr(1)), Lower(alias))) return false;
    } else if (GlobMatches(Lower(pattern), Lower(alias))) {
      matched = true;
    }
  }
  return matched;
}

}  // namespace

std::string DefaultHostConfigPath() { return ExpandTilde("~/.ferry/config"); }

Result<HostConfig> LookupHostConfig(const std::string& path, const std::string& alias, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (!required && errno == ENOENT) return HostConfig{};
    return Status::FromErrno(errno, path);
  }
  HostConfig config;
  bool applies = true;  // keywords before the first Host apply to every host
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto bad = [&](std::string_view what) {
      return Status(ErrorCode::kInvalid, fmt::format("{}:{}: {}", path, number, what));
    };
    const std::size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    // "Keyword value" or "Keyword=value".
    std::size_t end = line.find_first_of(" \t=", start);
    const std::string keyword = Lower(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    std::string_view rest = end == std::string::npos ? std::string_view() : std::string_view(line).substr(end);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() == '=') rest.remove_prefix(1);
    auto words = SplitWords(rest);
    if (!words.ok()) return bad(words.status().message());
    if (words->empty()) return bad(fmt::format("{} needs a value", keyword));
    if (keyword == "host") {
      applies = HostMatches(*words, alias);
      continue;
    }
    if (keyword == "match") return bad("Match blocks are not supported: use Host");
    if (words->size() != 1) return bad(fmt::format("{} takes one value", keyword));
    const std::string& value = words->front();
    const auto yes_no = [&](std::optional<bool>& field) -> Status {
      const std::string lower = Lower(value);
      if (lower != "yes" && lower != "no") return bad(fmt::format("{} is yes or no, not '{}'", keyword, value));
      if (applies && !field) field = lower == "yes";
      return Status::Ok();
    };
    const auto text = [&](std::optional<std::string>& field, bool path_value) {
      if (applies && !field) field = path_value ? ExpandTilde(value) : value;
    };
    if (keyword == "hostname") {
      text(config.host_name, false);
    } else if (keyword == "user") {
      text(config.user, false);
    } else if (keyword == "port") {
      char* end_of_number = nullptr;
      const long port = std::strtol(value.c_str(), &end_of_number, 10);
      if (*end_of_number != '\0' || port < 1 || port > 65535) return bad(fmt::format("bad port '{}'", value));
      if (applies && !config.port) config.port = static_cast<std::uint16_t>(port);
    } else if (keyword == "identityfile") {
      text(config.identity_file, true);
    } else if (keyword == "userknownhostsfile") {
      text(config.known_hosts_file, true);
    } else if (keyword == "passwordfile") {
      text(config.password_file, true);
    } else if (keyword == "plain") {
      if (Status s = yes_no(config.plain); !s.ok()) return s;
    } else if (keyword == "acceptnewhost") {
      if (Status s = yes_no(config.accept_new_host); !s.ok()) return s;
    } else {
      return bad(fmt::format("unknown keyword '{}'", keyword));
    }
  }
  return config;
}

}  // namespace ferry::client
