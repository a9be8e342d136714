// Reading secrets from the terminal without echo.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

// Prints `prompt` to the controlling terminal and reads one line from it with echo off. Fails (ENOTTY-like
// EINVAL) when there is no terminal, so scripts get an error instead of a hang.
Result<std::string> ReadSecretFromTerminal(std::string_view prompt);

// The first line of `path` (the newline removed), for --password-file. EACCES-like EINVAL when the file may be
// read by its group or others (as ssh refuses such a private key), or is not a regular file; EINVAL when empty.
Result<std::string> ReadPasswordFile(const std::string& path);

// Reads one line from `fd` (the trailing newline removed). For --password-stdin. EINVAL when the input ends before
// anything was read (Ctrl-D at a prompt): that is no password, not an empty one.
Result<std::string> ReadLineFromFd(int fd);

}  // namespace ferry
