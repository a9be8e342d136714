// Command-line errors reported the way Unix tools report them: "PROGRAM: what is wrong", a pointer to --help, and
// exit status 2 (CLI11 alone prints the bare message and exits 106).
#pragma once

#include <iostream>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ferry {

// Prints "PROGRAM: message" and the pointer to --help; returns 2.
inline int UsageError(std::string_view program, std::string_view message) {
  std::cerr << program << ": " << message << "\nTry '" << program << " --help' for more information.\n";
  return 2;
}

// Parses argv into `app`. nullopt: go on. Otherwise the program's exit status: 0 once --help or --version has been
// printed, 2 after a usage error (printed to stderr).
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv, std::string_view program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    return UsageError(program, e.what());
  }
  return std::nullopt;
}

}  // namespace ferry
