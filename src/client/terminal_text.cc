#include "client/terminal_text.h"

#include <cstddef>
#include <cstdint>

#include "common/escape.h"

namespace ferry::client {
namespace {

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
        if (PrintsAsIs(c)) {
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
