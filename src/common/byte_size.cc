#include "common/byte_size.h"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

namespace ferry {

Result<std::uint64_t> ParseByteSize(std::string_view text, std::uint64_t max) {
  const auto invalid = [&] {
    return Status(ErrorCode::kInvalid,
                  fmt::format("invalid size '{}': use a number of bytes, or one with a unit K, M, G, T or P "
                              "(powers of 1024), like 500M or 2G",
                              text));
  };
  std::size_t i = 0;
  std::uint64_t whole = 0;
  std::size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    if (whole > (max / 10) + 1) return Status(ErrorCode::kInvalid, fmt::format("size '{}' is too large", text));
    whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
    ++digits;
  }
  double fraction = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    double scale = 0.1;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i, ++digits, scale /= 10) {
      fraction += scale * (text[i] - '0');
    }
  }
  if (digits == 0) return invalid();
  std::string unit(text.substr(i));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static constexpr std::string_view kUnits = "KMGTP";
  int power = 0;
  if (!unit.empty() && kUnits.find(unit.front()) != std::string_view::npos) {
    power = static_cast<int>(kUnits.find(unit.front())) + 1;
    unit.erase(0, 1);
    if (unit == "IB" || unit == "B") unit.clear();
  } else if (unit == "B") {
    unit.clear();
  }
  if (!unit.empty()) return invalid();
  if (power == 0 && fraction != 0) return invalid();  // a fraction of a byte
  const long double value = (static_cast<long double>(whole) + fraction) * std::pow(1024.0L, power);
  if (value > static_cast<long double>(max)) {
    return Status(ErrorCode::kInvalid, fmt::format("size '{}' is too large (at most {} bytes)", text, max));
  }
  return static_cast<std::uint64_t>(std::llround(value));
}

std::string HumanBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 5) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string GroupedDigits(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

}  // namespace ferry
