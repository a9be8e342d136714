#include "common/json_text.h"

#include <charconv>
#include <iterator>

#include <nlohmann/json.hpp>

namespace ferry {
namespace {

// True for text nlohmann writes as it is: printable ASCII other than the quote and the backslash.
bool IsPlainAscii(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

template <typename Integer>
void AppendInteger(std::string& out, Integer value) {
  char digits[24];
  const auto [end, error] = std::to_chars(std::begin(digits), std::end(digits), value);
  out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  if (IsPlainAscii(text)) {
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  // Escapes, UTF-8 and its validation (file names need not be valid UTF-8: bad bytes are replaced rather than fail
  // the whole text) are nlohmann's.
  out.append(nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void AppendJsonInteger(std::string& out, std::uint64_t value) { AppendInteger(out, value); }
void AppendJsonInteger(std::string& out, std::int64_t value) { AppendInteger(out, value); }

}  // namespace ferry
