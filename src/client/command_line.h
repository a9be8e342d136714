// Parsing what the user types: shell-like words, and the [USER@]HOST[:PORT] target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "common/words.h"

namespace ferry::client {

using ferry::QuoteWord;
using ferry::SplitWords;

struct Target {
  std::string user;  // empty when not given
  HostPort address;
};

// "[USER@]HOST[:PORT]", with IPv6 hosts in brackets: "alice@[::1]:7021"; `default_port` when no port is given.
Result<Target> ParseTarget(std::string_view text, std::uint16_t default_port = kDefaultPort);

}  // namespace ferry::client
