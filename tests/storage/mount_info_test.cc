// ParseMountInfo and PathWithinFileSystem on mountinfo text like the kernel's, and on this process's own.
#include "storage/mount_info.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

constexpr std::string_view kMounts =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:25 / /proc rw,nosuid - proc proc rw\n"
    "41 22 254:1 / /srv/ferry rw,relatime shared:20 - xfs /dev/vdb rw\n"
    "42 22 254:0 /var/lib/data /var/lib/ferry rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "43 22 254:2 /my\\040disk /mnt/with\\040space rw - ext4 /dev/vdc rw\n"
    "44 41 0:40 / /srv/ferry rw - tmpfs tmpfs rw\n"
    "truncated line\n";

TEST(MountInfoTest, ParsesBothPathsAndUnescapesThem) {
  const auto mounts = ParseMountInfo(kMounts);
  ASSERT_EQ(mounts.size(), 6u);
  EXPECT_EQ(mounts[0].root, "/");
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[3].root, "/var/lib/data");
  EXPECT_EQ(mounts[3].mount_point, "/var/lib/ferry");
  EXPECT_EQ(mounts[4].root, "/my disk");
  EXPECT_EQ(mounts[4].mount_point, "/mnt/with space");
}

TEST(MountInfoTest, APathIsShownWithinTheFileSystemOfTheTopmostMountItIsUnder) {
  const auto mounts = ParseMountInfo(kMounts);
  // A plain folder of the root file system: its whole path.
  EXPECT_EQ(PathWithinFileSystem(mounts, "/tmp/x/homes/alice"), "/tmp/x/homes/alice");
  // The top of a file system of its own (a tmpfs mounted over an xfs): only what is below it.
  EXPECT_EQ(PathWithinFileSystem(mounts, "/srv/ferry/homes/alice"), "/homes/alice");
  EXPECT_EQ(PathWithinFileSystem(mounts, "/srv/ferry"), "/");
  // A bind mount shows where its source lives.
  EXPECT_EQ(PathWithinFileSystem(mounts, "/var/lib/ferry/homes/alice"), "/var/lib/data/homes/alice");
  // Whole components only: /srv/ferry2 is not below /srv/ferry.
  EXPECT_EQ(PathWithinFileSystem(mounts, "/srv/ferry2/homes"), "/srv/ferry2/homes");
  EXPECT_EQ(PathWithinFileSystem(mounts, "/mnt/with space/a"), "/my disk/a");
  EXPECT_EQ(PathWithinFileSystem({}, "/a"), "");
}

TEST(MountInfoTest, ThisProcessSeesItsOwnFoldersOnTheirFileSystems) {
  ferry::testing::TempDir dir;
  const auto shown = PathWithinFileSystem(dir.path());
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  // However the temporary folder is mounted, what is shown ends with the folder's own name.
  const std::string name = dir.path().substr(dir.path().rfind('/'));
  EXPECT_EQ(shown->substr(shown->size() - name.size()), name);
  EXPECT_FALSE(PathWithinFileSystem(dir.path() + "/absent").ok());
}

}  // namespace
}  // namespace ferry::storage
