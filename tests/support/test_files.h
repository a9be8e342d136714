// Small helpers for tests that make and inspect files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::testing {

// `size` bytes from a generator seeded with `seed`: the same seed always gives the same content.
std::string RandomBytes(std::size_t size, std::uint64_t seed);
// The XXH3-128 hex digest of `bytes`, as Ferry computes it.
std::string Xxh3(std::string_view bytes);
// The names in `folder`, sorted.
std::vector<std::string> Names(const std::string& folder);
// The path of the one file in `folder`, or "" when there is none or several.
std::string OnlyFileIn(const std::string& folder);
// The size of the file at `path` (links followed), or 0 when it cannot be read.
std::uint64_t FileSize(const std::string& path);
// The permission bits (07777) of `path` (links followed), or 0 when it cannot be read.
mode_t ModeOf(const std::string& path);
// Whether files in `folder` take user extended attributes, where a whole file's checksum is remembered (tmpfs took
// none before Linux 6.6).
bool UserAttributesWork(const std::string& folder);

}  // namespace ferry::testing
