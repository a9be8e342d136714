#include "common/escape.h"

#include <cstdint>

#include <fmt/format.h>

namespace ferry {

std::size_t DecodeUtf8(std::string_view text, char32_t& code_point) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(0);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    code_point = lead & 0x1fu;
    min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    code_point = lead & 0x0fu;
    min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    code_point = lead & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0u) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3fu);
  }
  if (code_point < min || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return 0;
  return length;
}

bool PrintsAsIs(char32_t c) {
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
  if (c == 0x2028 || c == 0x2029 || c == 0x200e || c == 0x200f) return false;
  if (c >= 0x202a && c <= 0x202e) return false;
  if (c >= 0x2066 && c <= 0x2069) return false;
  return true;
}

std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    char32_t c = 0;
    std::size_t length = DecodeUtf8(text, c);
    if (length == 0) {
      length = 1;  // not UTF-8: this one byte, then look again from the next
      out += fmt::format("\\x{:02x}", static_cast<std::uint8_t>(text[0]));
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (PrintsAsIs(c)) {
      out.append(text.substr(0, length));
    } else {
      for (std::size_t i = 0; i < length; ++i) out += fmt::format("\\x{:02x}", static_cast<std::uint8_t>(text[i]));
    }
    text.remove_prefix(length);
  }
  return out;
}

}  // namespace ferry
