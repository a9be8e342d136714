// What a bind mount of a folder reveals: the folder's path within its file system.
//
// The kernel prints every mount in /proc/self/mountinfo with the path of the mount's root within its file system
// (field 4). A bind mount of /srv/data/homes/alice, however it is made (a path, a descriptor, a detached tree), is
// printed as "/srv/data/homes/alice" to anyone inside the mount namespace it is in: only the file system's own root
// prints as "/". So a program run in a sandbox learns where its home lives, unless the data root is the top of a file
// system of its own; this is how the server finds out which case it is in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry::storage {

struct MountEntry {
  std::string root;         // the mount's root within its file system (field 4), unescaped
  std::string mount_point;  // where it is mounted (field 5), unescaped
};

// The mounts listed in mountinfo `text`, in its order (later entries are mounted over earlier ones). Lines that do not
// parse are left out.
std::vector<MountEntry> ParseMountInfo(std::string_view text);

// The path within its file system of `path` (absolute, with no symlinks, "." or ".." in it), as a bind mount of it
// would be shown: the root of the topmost mount `path` is under, joined with the rest of `path` below that mount's
// mount point. "" if no mount covers it.
std::string PathWithinFileSystem(const std::vector<MountEntry>& mounts, std::string_view path);

// The same for an existing `path`, resolved with realpath(3), against this process's /proc/self/mountinfo.
Result<std::string> PathWithinFileSystem(const std::string& path);

}  // namespace ferry::storage
