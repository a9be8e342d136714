// WalkTree at depths far past PATH_MAX and recursion's comfort, and when a folder moves under it.
#include "storage/tree_walk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "storage/file_ops.h"
#include "storage/home_dir.h"
#include "storage/quota_ledger.h"
#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

// Makes `depth` nested folders named "dd" under `top`, each holding a file of `file_bytes` bytes. Built by
// descriptors, since the path of the deepest is far longer than PATH_MAX.
void MakeDeepTree(int top, int depth, std::size_t file_bytes) {
  UniqueFd current(::openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(current.valid());
  const std::string bytes(file_bytes, 'x');
  for (int level = 0; level < depth; ++level) {
    ASSERT_EQ(::mkdirat(current.get(), "dd", 0700), 0) << "level " << level;
    UniqueFd child(::openat(current.get(), "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(child.valid());
    UniqueFd file(::openat(child.get(), "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(file.valid());
    ASSERT_EQ(::write(file.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    current = std::move(child);
  }
}

class TreeWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(home_path_.c_str(), 0700), 0);
    home_fd_.Reset(::open(home_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(home_fd_.valid());
  }

  ferry::testing::TempDir temp_;
  std::string home_path_ = temp_.path() + "/home";
  UniqueFd home_fd_;
};

// 3000 levels: a path of 9000 bytes, well past the 256 levels usage used to stop at.
constexpr int kDeep = 3000;

TEST_F(TreeWalkTest, MeasureUsageCountsEveryLevelOfAVeryDeepTree) {
  MakeDeepTree(home_fd_.get(), kDeep, 100);
  auto usage = MeasureUsage(home_fd_.get(), -1);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_EQ(usage->bytes, std::uint64_t{kDeep} * 100);
  EXPECT_EQ(usage->entries, std::uint64_t{kDeep} * 2);  // each level: a folder and its file
}

TEST_F(TreeWalkTest, RecursiveRemovalRemovesAVeryDeepTree) {
  ASSERT_EQ(::mkdir((home_path_ + "/top").c_str(), 0700), 0);
  UniqueFd top(::open((home_path_ + "/top").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  MakeDeepTree(top.get(), kDeep, 10);
  auto home = HomeDir::Open(home_path_);
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  SpaceChange change;
  const Status removed = RemovePath(*home, "/top", true, &change);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_EQ(::access((home_path_ + "/top").c_str(), F_OK), -1);
  EXPECT_EQ(change.bytes, -std::int64_t{kDeep} * 10);
  EXPECT_EQ(change.entries, -(std::int64_t{kDeep} * 2 + 1));
}

TEST_F(TreeWalkTest, VisitsEachEntryOnceAndLeavesEachFolderOnce) {
  MakeDeepTree(home_fd_.get(), 5, 1);
  ASSERT_EQ(::mkdir((home_path_ + "/side").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(temp_.path().c_str(), (home_path_ + "/out").c_str()), 0);  // never followed
  int entries = 0;
  std::vector<std::string> left;
  TreeVisitor visitor;
  visitor.on_entry = [&](int, const char*, const struct stat& st) -> Result<TreeVisitor::Next> {
    ++entries;
    return S_ISDIR(st.st_mode) ? TreeVisitor::Next::kDescend : TreeVisitor::Next::kSkip;
  };
  visitor.on_leave = [&](int, const char* name) {
    left.emplace_back(name);
    return Status::Ok();
  };
  ASSERT_TRUE(WalkTree(home_fd_.get(), "home", visitor).ok());
  EXPECT_EQ(entries, 5 * 2 + 2);  // five levels of folder + file, side, the link
  EXPECT_EQ(left.size(), 6u);     // five "dd" and side, each once
}

// A folder moved while the walk is inside it: climbing back through ".." would land elsewhere, so the walk stops
// with an error rather than go on from a place it never came down to.
TEST_F(TreeWalkTest, AFolderMovedDuringTheWalkEndsItWithAnError) {
  ASSERT_EQ(::mkdir((home_path_ + "/a").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((home_path_ + "/a/b").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((home_path_ + "/a/b/c").c_str(), 0700), 0);
  bool moved = false;
  TreeVisitor visitor;
  visitor.on_entry = [&](int, const char* name, const struct stat& st) -> Result<TreeVisitor::Next> {
    if (std::string_view(name) == "c" && !moved) {
      // Now inside a/b: move b up beside a, so b's ".." is the home, not a.
      moved = ::rename((home_path_ + "/a/b").c_str(), (home_path_ + "/b").c_str()) == 0;
    }
    return S_ISDIR(st.st_mode) ? TreeVisitor::Next::kDescend : TreeVisitor::Next::kSkip;
  };
  const Status walked = WalkTree(home_fd_.get(), "home", visitor);
  ASSERT_TRUE(moved);
  EXPECT_EQ(walked.code(), ErrorCode::kBusy) << walked.ToString();
}

}  // namespace
}  // namespace ferry::storage
