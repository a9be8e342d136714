// File helpers the fuzz targets share to put a home back as every input finds it.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "fuzz_check.h"

namespace ferry::fuzz {

// Gives the owner back every permission on the folders under path, so that it can be removed: an input may have set
// a folder's mode to 0 (chmod through the protocol). Links are not followed.
inline void OpenFolders(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  FUZZ_CHECK(::chmod(path.c_str(), 0700) == 0);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) OpenFolders(entry.path().string());
  FUZZ_CHECK(!ec);
}

// Removes path and everything under it, whatever modes an input left on its folders.
inline void RemoveTree(const std::string& path) {
  OpenFolders(path);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  FUZZ_CHECK(!ec);
}

}  // namespace ferry::fuzz
