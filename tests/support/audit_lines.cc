#include "support/audit_lines.h"

#include <sstream>

#include "support/temp_dir.h"

namespace ferry::testing {

std::vector<protocol::Json> ReadAuditLines(const std::string& path) {
  std::vector<protocol::Json> lines;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) lines.push_back(protocol::Json::parse(line, nullptr, /*allow_exceptions=*/false));
  return lines;
}

}  // namespace ferry::testing
