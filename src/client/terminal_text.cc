#include "client/terminal_text.h"

#include <cstddef>
#include <cstdint>

namespace ferry::client {
namespace {

// The length of the valid UTF-8 sequence at the start of `text` (1 to 4), and its code point; 0 if it is not one.
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

bool Printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
  if (c == 0x2028 || c == 0x2029 || c == 0x200e || c == 0x200f) return false;
  if (c >= 0x202a && c <= 0x202e) return false;
  if (c >= 0x2066 && c <= 0x2069) return false;
  return true;
}

void AppendOctal(std::string& out, std::uint8_t byte) {
  out += '\\';
  out += static_cast<char>('0' + (byte >> 6));
  out += static_cast<char>('0' + ((byte >> 3) & 7));
  out += static_cast<char>('0' + (byte & 7));
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    char32_t c = 0;
    const std::size_t length = DecodeUtf8(text, c);
    if (length == 0) {  // not UTF-8: this one byte, then look again from the next
      AppendOctal(out, static_cast<std::uint8_t>(text[0]));
      text.remove_prefix(1);
      continue;
    }
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (Printable(c)) {
          out.append(text.substr(0, length));
        } else {
          for (std::size_t i = 0; i < length; ++i) AppendOctal(out, static_cast<std::uint8_t>(text[i]));
        }
    }
    text.remove_prefix(length);
  }
  return out;
}

}  // namespace ferry::client
