// What front ends need to speak of files and paths without reaching into storage: the entry type every listing and
// stat answers with, and joining a client's path to its current folder.
#pragma once

#include <string>
#include <string_view>

#include "storage/file_ops.h"
#include "storage/home_dir.h"

namespace ferry::service {

using FileInfo = storage::FileInfo;
using FileType = storage::FileType;

// `path` joined to the current folder `cwd` (a virtual absolute path), without touching the file system: an absolute
// `path` replaces cwd, an empty one means cwd itself.
inline std::string JoinPath(std::string_view cwd, std::string_view path) { return storage::HomeDir::Join(cwd, path); }

}  // namespace ferry::service
