// PartialStore: one lock per upload target, and the sweep of partials nobody finished.
#include "service/partial_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::service {
namespace {

using ferry::testing::Names;
using ferry::testing::TempDir;

class PartialStoreTest : public ::testing::Test {
 protected:
  PartialStore OpenStore(const std::string& user) {
    auto store = PartialStore::Open(root_, user);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
  // Writes `bytes` bytes into a locked partial and dates its last change `age_seconds` back.
  static void Fill(const PartialStore& store, const PartialStore::Locked& locked, std::size_t bytes,
                   std::time_t age_seconds) {
    const std::string data(bytes, 'p');
    ASSERT_EQ(::write(locked.file.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    const timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - age_seconds, 0}};
    ASSERT_EQ(::utimensat(store.fd(), locked.name.c_str(), times, 0), 0);
  }

  TempDir temp_;
  std::string root_ = temp_ / "partials";
};

TEST_F(PartialStoreTest, OpenMakesAPrivateFolderPerUser) {
  PartialStore store = OpenStore("alice");
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/alice").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Opening it again (a second session) is fine.
  EXPECT_TRUE(PartialStore::Open(root_, "alice").ok());
}

TEST_F(PartialStoreTest, LockingATargetTwiceIsBusy) {
  PartialStore store = OpenStore("alice");
  PartialStore other_session = OpenStore("alice");
  auto first = store.Lock("/docs/a.txt");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = store.Lock("/docs/a.txt");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kBusy);
  EXPECT_EQ(other_session.Lock("/docs/a.txt").status().code(), ErrorCode::kBusy);
  // Another target is another partial.
  auto different = store.Lock("/docs/b.txt");
  ASSERT_TRUE(different.ok());
  EXPECT_NE(different->name, first->name);
  // Released with its descriptor; the same target finds the same partial again.
  const std::string name = first->name;
  first = Status(ErrorCode::kIo, "released");
  auto after = other_session.Lock("/docs/a.txt");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->name, name);
}

TEST_F(PartialStoreTest, SizeIsWhatThePartialOfATargetHolds) {
  PartialStore store = OpenStore("alice");
  EXPECT_EQ(store.Size("/docs/a.txt").status().code(), ErrorCode::kNotFound);
  auto locked = store.Lock("/docs/a.txt");
  ASSERT_TRUE(locked.ok());
  Fill(store, *locked, 1234, 0);
  auto size = store.Size("/docs/a.txt");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 1234u);
  EXPECT_EQ(store.Size("/docs/b.txt").status().code(), ErrorCode::kNotFound);
}

TEST_F(PartialStoreTest, RemoveDeletesByName) {
  PartialStore store = OpenStore("alice");
  auto locked = store.Lock("/a");
  ASSERT_TRUE(locked.ok());
  EXPECT_EQ(Names(root_ + "/alice").size(), 1u);
  store.Remove(locked->name);
  EXPECT_TRUE(Names(root_ + "/alice").empty());
}

TEST_F(PartialStoreTest, RemoveStaleRemovesOldUnlockedPartialsAndSkipsLockedOnes) {
  PartialStore alice = OpenStore("alice");
  PartialStore bob = OpenStore("bob");
  std::string old_name, held_name, fresh_name, bob_name;
  {
    auto old_one = alice.Lock("/old");
    ASSERT_TRUE(old_one.ok());
    ASSERT_NO_FATAL_FAILURE(Fill(alice, *old_one, 100, 7200));
    old_name = old_one->name;
    auto fresh = alice.Lock("/fresh");
    ASSERT_TRUE(fresh.ok());
    ASSERT_NO_FATAL_FAILURE(Fill(alice, *fresh, 10, 0));
    fresh_name = fresh->name;
    auto bobs = bob.Lock("/old");
    ASSERT_TRUE(bobs.ok());
    ASSERT_NO_FATAL_FAILURE(Fill(bob, *bobs, 50, 7200));
    bob_name = bobs->name;
  }  // unlocked: their uploads ended
  auto held = alice.Lock("/held");
  ASSERT_TRUE(held.ok());
  ASSERT_NO_FATAL_FAILURE(Fill(alice, *held, 30, 7200));
  held_name = held->name;

  std::multiset<std::pair<std::string, std::uint64_t>> removed;
  const int count = PartialStore::RemoveStale(root_, 3600, [&](const std::string& user, std::uint64_t bytes) {
    removed.emplace(user, bytes);
  });
  EXPECT_EQ(count, 2);
  EXPECT_EQ(removed, (std::multiset<std::pair<std::string, std::uint64_t>>{{"alice", 100}, {"bob", 50}}));
  const auto left = Names(root_ + "/alice");
  EXPECT_EQ(std::set<std::string>(left.begin(), left.end()), (std::set<std::string>{fresh_name, held_name}));
  EXPECT_TRUE(Names(root_ + "/bob").empty());
  // The held one goes once its upload lets go of it.
  held = Status(ErrorCode::kIo, "released");
  EXPECT_EQ(PartialStore::RemoveStale(root_, 3600), 1);
  EXPECT_EQ(Names(root_ + "/alice"), std::vector<std::string>{fresh_name});
}

TEST_F(PartialStoreTest, RemoveStaleOfAMissingFolderRemovesNothing) {
  EXPECT_EQ(PartialStore::RemoveStale(temp_ / "nowhere", 0), 0);
}

// Abandoned uploads cannot pile up: past the bound, a new partial deletes those written to least recently, and
// says how many bytes went; one an upload holds is never deleted.
TEST_F(PartialStoreTest, ANewPartialPastTheBoundDeletesTheOldestUnheld) {
  auto opened = PartialStore::Open(root_, "alice", 3);
  ASSERT_TRUE(opened.ok());
  const PartialStore& store = *opened;
  auto held = store.Lock("/held");  // the oldest of all, but in use
  ASSERT_TRUE(held.ok());
  Fill(store, *held, 1, 1000);
  std::uint64_t evicted = 0;
  for (int i = 0; i < 10; ++i) {
    auto locked = store.Lock("/file" + std::to_string(i));
    ASSERT_TRUE(locked.ok()) << locked.status().ToString();
    Fill(store, *locked, 10, 900 - i * 10);  // each newer than the one before
    evicted += locked->evicted_bytes;
  }  // each lock goes as its upload is abandoned
  const auto listed = Names(root_ + "/alice");
  const std::set<std::string> names(listed.begin(), listed.end());
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(evicted, 8u * 10);  // file0 to file7
  EXPECT_TRUE(names.count(held->name));
  // Resuming one that is kept adds nothing and deletes nothing.
  auto again = store.Lock("/file9");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->evicted_bytes, 0u);
  EXPECT_EQ(Names(root_ + "/alice").size(), 3u);
}

}  // namespace
}  // namespace ferry::service
