#include "client/command_line.h"

#include <fmt/format.h>

namespace ferry::client {

Result<std::vector<std::string>> SplitWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 >= line.size()) return Status(ErrorCode::kInvalid, "trailing backslash");
      word += line[++i];
    } else if (c == '\'') {
      const auto close = line.find('\'', i + 1);
      if (close == std::string_view::npos) return Status(ErrorCode::kInvalid, "unclosed single quote");
      word.append(line.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\')) ++j;
        word += line[j];
      }
      if (j >= line.size()) return Status(ErrorCode::kInvalid, "unclosed double quote");
      i = j;
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string QuoteWord(std::string_view word) {
  if (word.empty()) return "''";
  std::string out;
  for (const char c : word) {
    if (c == ' ' || c == '\t' || c == '\\' || c == '\'' || c == '"' || c == '\n') out += '\\';
    out += c;
  }
  return out;
}

Result<Target> ParseTarget(std::string_view text) {
  Target target;
  const auto at = text.rfind('@');
  if (at != std::string_view::npos) {
    target.user = std::string(text.substr(0, at));
    if (target.user.empty()) return Status(ErrorCode::kInvalid, fmt::format("empty user name in '{}'", text));
    text.remove_prefix(at + 1);
  }
  auto address = ParseHostPort(text);
  if (!address.ok()) return address.status();
  target.address = std::move(address).value();
  return target;
}

}  // namespace ferry::client
