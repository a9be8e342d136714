#include "common/words.h"

#include <fmt/format.h>

namespace ferry {

namespace {

// Characters a shell would act on where they stand unquoted: with them a command line means more than its words.
constexpr std::string_view kShellOperators = "|&;<>()$`";

Result<std::vector<std::string>> Split(std::string_view line, bool refuse_operators) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (refuse_operators && c == '\n') {
      return Status(ErrorCode::kInvalid, "a line break needs a shell, and commands here run without one");
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (refuse_operators && !in_word && c == '~' && (i + 1 == line.size() || line[i + 1] == '/' || line[i + 1] == ' ')) {
      // A leading ~ is the home, where commands run: "~/bk" is "./bk" (as rsync's host:~/bk/ means).
      in_word = true;
      word += '.';
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
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\')) {
          ++j;
        } else if (refuse_operators && (line[j] == '$' || line[j] == '`')) {  // a shell expands these in "..."
          return Status(ErrorCode::kInvalid,
                        fmt::format("'{}' needs a shell, and commands here run without one", line[j]));
        }
        word += line[j];
      }
      if (j >= line.size()) return Status(ErrorCode::kInvalid, "unclosed double quote");
      i = j;
    } else {
      if (refuse_operators && kShellOperators.find(c) != std::string_view::npos) {
        return Status(ErrorCode::kInvalid, fmt::format("'{}' needs a shell, and commands here run without one", c));
      }
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace

Result<std::vector<std::string>> SplitWords(std::string_view line) { return Split(line, false); }

Result<std::vector<std::string>> SplitCommand(std::string_view line) { return Split(line, true); }

std::string QuoteWord(std::string_view word) {
  if (word.empty()) return "''";
  std::string out;
  for (const char c : word) {
    if (c == ' ' || c == '\t' || c == '\\' || c == '\'' || c == '"' || c == '\n') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace ferry
