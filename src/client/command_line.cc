#include "client/command_line.h"

#include <fmt/format.h>

namespace ferry::client {

Result<Target> ParseTarget(std::string_view text, std::uint16_t default_port) {
  Target target;
  const auto at = text.rfind('@');
  if (at != std::string_view::npos) {
    target.user = std::string(text.substr(0, at));
    if (target.user.empty()) return Status(ErrorCode::kInvalid, fmt::format("empty user name in '{}'", text));
    text.remove_prefix(at + 1);
  }
  auto address = ParseHostPort(text, default_port);
  if (!address.ok()) return address.status();
  target.address = std::move(address).value();
  return target;
}

}  // namespace ferry::client
