// File operations on virtual paths: stat, batched listings, cd resolution, mkdir, rmdir, rm and mv, with the
// error codes clients see.
#include "storage/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "storage/home_dir.h"
#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

namespace fs = std::filesystem;

using ferry::testing::Exists;
using ferry::testing::ReadFile;
using ferry::testing::WriteFile;

// A fresh temporary tree with homes "alice" and "bob" and an "outside" folder; tests act as alice through `home()`
// and name her files with `Real()`.
class FileOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/ferry-ops-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    alice_ = root_ + "/alice";
    for (const std::string dir : {"/alice", "/bob", "/outside"}) ASSERT_EQ(::mkdir((root_ + dir).c_str(), 0755), 0);
    WriteFile(root_ + "/bob/bob-file.txt", "bob's data");
    WriteFile(root_ + "/outside/secret", "outside secret");
    auto home = HomeDir::Open(alice_);
    ASSERT_TRUE(home.ok()) << home.status().ToString();
    home_.emplace(std::move(home).value());
    // These tests write through absolute paths as root: make sure the jail roots them at the home before any does.
    struct stat home_st {};
    ASSERT_EQ(::stat(alice_.c_str(), &home_st), 0);
    for (const std::string path : {"/", "/..", "/../.."}) {
      auto fd = home_->OpenPath(path, O_PATH | O_DIRECTORY);
      ASSERT_TRUE(fd.ok()) << path << ": " << fd.status().ToString();
      struct stat st {};
      ASSERT_EQ(::fstat(fd->get(), &st), 0);
      ASSERT_TRUE(st.st_dev == home_st.st_dev && st.st_ino == home_st.st_ino) << path << ": the jail is broken";
    }
  }

  void TearDown() override {
    // Nothing here may have reached bob or the outside folder.
    EXPECT_EQ(ReadFile(root_ + "/bob/bob-file.txt"), "bob's data");
    EXPECT_EQ(ReadFile(root_ + "/outside/secret"), "outside secret");
    home_.reset();
    if (!root_.empty()) {
      std::error_code error;
      fs::remove_all(root_, error);
      EXPECT_FALSE(error) << error.message();
    }
  }

  const HomeDir& home() const { return *home_; }
  // The server path of a virtual path of alice's.
  std::string Real(const std::string& virtual_path) const { return alice_ + "/" + virtual_path; }

  void MakeDir(const std::string& virtual_path) const {
    ASSERT_EQ(::mkdir(Real(virtual_path).c_str(), 0755), 0) << virtual_path;
  }
  void MakeFile(const std::string& virtual_path, const std::string& content) const {
    WriteFile(Real(virtual_path), content);
  }

  // Every listed entry of `path`, in batches as delivered.
  std::vector<std::vector<FileInfo>> Batches(const std::string& path, std::size_t batch_size, Status* status) const {
    std::vector<std::vector<FileInfo>> batches;
    *status = ListDirectory(home(), path, batch_size,
                            [&](std::vector<FileInfo>&& batch) { batches.push_back(std::move(batch)); });
    return batches;
  }

  std::string root_;
  std::string alice_;
  std::optional<HomeDir> home_;
};

TEST(FileTypeName, UsesTheWireNames) {
  EXPECT_EQ(FileTypeName(FileType::kFile), "file");
  EXPECT_EQ(FileTypeName(FileType::kDirectory), "dir");
  EXPECT_EQ(FileTypeName(FileType::kSymlink), "link");
  EXPECT_EQ(FileTypeName(FileType::kOther), "other");
}

TEST_F(FileOpsTest, StatDescribesAFile) {
  MakeDir("d");
  MakeFile("d/f.txt", "12345");
  ASSERT_EQ(::chmod(Real("d/f.txt").c_str(), 0640), 0);
  const timespec times[2] = {{1000, 0}, {1234567890, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Real("d/f.txt").c_str(), times, 0), 0);
  for (const std::string path : {"d/f.txt", "/d/f.txt", "d/../d/./f.txt", "../d/f.txt"}) {
    auto info = StatPath(home(), path);
    ASSERT_TRUE(info.ok()) << path << ": " << info.status().ToString();
    EXPECT_EQ(info->name, "f.txt");
    EXPECT_EQ(info->type, FileType::kFile);
    EXPECT_EQ(info->size, 5U);
    EXPECT_EQ(info->mode, 0640U);
    EXPECT_EQ(info->mtime, 1234567890);
    EXPECT_EQ(info->mtime_nsec, 123456789U);
    EXPECT_EQ(info->nlink, 1U);
  }
}

TEST_F(FileOpsTest, StatDescribesFoldersAndTheHome) {
  MakeDir("d");
  MakeDir("d/sub");
  auto dir = StatPath(home(), "d/");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->name, "d");
  EXPECT_EQ(dir->type, FileType::kDirectory);
  for (const std::string path : {"/", "", ".", "d/..", "/..", "../..", "//"}) {
    auto root = StatPath(home(), path);
    ASSERT_TRUE(root.ok()) << path << ": " << root.status().ToString();
    EXPECT_EQ(root->name, "/") << '"' << path << '"';
    EXPECT_EQ(root->type, FileType::kDirectory);
  }
  auto parent = StatPath(home(), "d/sub/..");
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  EXPECT_EQ(parent->name, "d");
}

TEST_F(FileOpsTest, StatReportsLinksWithoutFollowing) {
  MakeFile("target", "0123456789");
  ASSERT_EQ(::symlink("target", Real("link").c_str()), 0);
  ASSERT_EQ(::symlink("missing", Real("dangling").c_str()), 0);
  for (const std::string path : {"link", "dangling"}) {
    auto info = StatPath(home(), path);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->type, FileType::kSymlink) << path;
    EXPECT_EQ(info->name, path);
  }
}

// "link/." and "link/" name the folder the link leads to, as they do for stat(1) and ls -ld.
TEST_F(FileOpsTest, StatOfALinkFollowedBySlashDotDescribesItsTarget) {
  MakeDir("folder");
  MakeFile("file", "x");
  ASSERT_EQ(::symlink("folder", Real("to-folder").c_str()), 0);
  ASSERT_EQ(::symlink("file", Real("to-file").c_str()), 0);
  for (const std::string path : {"to-folder/.", "to-folder/", "/to-folder/./", "to-folder/./."}) {
    auto info = StatPath(home(), path);
    ASSERT_TRUE(info.ok()) << path << ": " << info.status().ToString();
    EXPECT_EQ(info->type, FileType::kDirectory) << path;
    EXPECT_EQ(info->name, "to-folder") << path;
  }
  EXPECT_EQ(StatPath(home(), "to-folder")->type, FileType::kSymlink);
  EXPECT_EQ(StatPath(home(), "to-file/.").status().code(), ErrorCode::kNotDirectory);
}

TEST_F(FileOpsTest, StatErrors) {
  MakeFile("f", "x");
  EXPECT_EQ(StatPath(home(), "missing").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(StatPath(home(), "missing/x").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(StatPath(home(), "f/x").status().code(), ErrorCode::kNotDirectory);
  const Status status = StatPath(home(), "no/such").status();
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_NE(status.message().find("no/such"), std::string::npos)
      << "errors name the path as given: " << status.message();
}

TEST_F(FileOpsTest, ListDirectoryDeliversBatches) {
  MakeDir("d");
  std::set<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "entry-" + std::to_string(i);
    if (i % 3 == 0) {
      MakeDir("d/" + name);
    } else {
      MakeFile("d/" + name, name);
    }
    expected.insert(name);
  }
  Status status;
  const auto batches = Batches("d", 3, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::vector<std::size_t> sizes;
  std::multiset<std::string> names;
  for (const auto& batch : batches) {
    sizes.push_back(batch.size());
    for (const FileInfo& info : batch) {
      names.insert(info.name);
      const int i = std::stoi(info.name.substr(6));
      EXPECT_EQ(info.type, i % 3 == 0 ? FileType::kDirectory : FileType::kFile) << info.name;
      if (info.type == FileType::kFile) {
        EXPECT_EQ(info.size, info.name.size());
      }
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 3, 1}));
  EXPECT_EQ(names, std::multiset<std::string>(expected.begin(), expected.end()));
}

TEST_F(FileOpsTest, ListDirectoryEndsWithAShortBatch) {
  MakeDir("nine");
  for (int i = 0; i < 9; ++i) MakeFile("nine/" + std::to_string(i), "");
  Status status;
  auto batches = Batches("nine", 3, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::vector<std::size_t> sizes;
  for (const auto& batch : batches) sizes.push_back(batch.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 3, 0}));

  MakeDir("empty");
  batches = Batches("empty", 3, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(batches.size(), 1U);
  EXPECT_TRUE(batches[0].empty());
}

TEST_F(FileOpsTest, ListDirectoryShowsLinksAsLinks) {
  ASSERT_EQ(::symlink("/etc", Real("to-etc").c_str()), 0);
  MakeFile("plain", "p");
  Status status;
  const auto batches = Batches("/", 100, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::map<std::string, FileType> types;
  for (const auto& batch : batches) {
    for (const FileInfo& info : batch) types[info.name] = info.type;
  }
  EXPECT_EQ(types, (std::map<std::string, FileType>{{"to-etc", FileType::kSymlink}, {"plain", FileType::kFile}}));
}

TEST_F(FileOpsTest, ListDirectoryErrors) {
  MakeFile("f", "x");
  Status status;
  Batches("f", 3, &status);
  EXPECT_EQ(status.code(), ErrorCode::kNotDirectory);
  Batches("missing", 3, &status);
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_EQ(DirectoryLister::Open(home(), "f").status().code(), ErrorCode::kNotDirectory);
}

TEST_F(FileOpsTest, DirectoryListerReadsInPieces) {
  MakeDir("d");
  for (int i = 0; i < 5; ++i) MakeFile("d/" + std::to_string(i), "");
  auto lister = DirectoryLister::Open(home(), "/d/");
  ASSERT_TRUE(lister.ok()) << lister.status().ToString();
  std::set<std::string> names;
  for (int round = 0; round < 10; ++round) {  // bounded: 5 entries at 2 a time end by the fourth call
    auto batch = lister->Next(2);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_LE(batch->size(), 2U);
    if (batch->empty()) break;
    for (const FileInfo& info : *batch) EXPECT_TRUE(names.insert(info.name).second) << "repeated " << info.name;
  }
  EXPECT_EQ(names, (std::set<std::string>{"0", "1", "2", "3", "4"}));
  auto after_end = lister->Next(2);
  ASSERT_TRUE(after_end.ok());
  EXPECT_TRUE(after_end->empty());
}

TEST_F(FileOpsTest, ResolveDirectoryGivesVirtualPaths) {
  MakeDir("a");
  MakeDir("a/b");
  ASSERT_EQ(::symlink("a", Real("to-a").c_str()), 0);
  ASSERT_EQ(::symlink("/a", Real("to-a-abs").c_str()), 0);
  ASSERT_EQ(::symlink("../b", Real("a/b/to-b").c_str()), 0);
  const std::map<std::string, std::string> cases = {
      {"a/b", "/a/b"},
      {"/a/b/", "/a/b"},
      {"a//b/.", "/a/b"},
      {"a/b/../..", "/"},
      {"", "/"},
      {"/", "/"},
      {"..", "/"},
      {"to-a", "/a"},
      {"to-a-abs", "/a"},
      {"to-a/b", "/a/b"},
      {"to-a-abs/b/..", "/a"},
      {"a/b/to-b", "/a/b"},
  };
  for (const auto& [path, expected] : cases) {
    auto resolved = ResolveDirectory(home(), path);
    ASSERT_TRUE(resolved.ok()) << path << ": " << resolved.status().ToString();
    EXPECT_EQ(*resolved, expected) << path;
  }
}

TEST_F(FileOpsTest, ResolveDirectoryErrors) {
  MakeFile("f", "x");
  EXPECT_EQ(ResolveDirectory(home(), "f").status().code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(ResolveDirectory(home(), "missing").status().code(), ErrorCode::kNotFound);
}

TEST_F(FileOpsTest, MakeDirectoryCreatesOnce) {
  ASSERT_TRUE(MakeDirectory(home(), "new", false).ok());
  auto info = StatPath(home(), "new");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kDirectory);
  EXPECT_EQ(MakeDirectory(home(), "new", false).code(), ErrorCode::kExists);
  EXPECT_TRUE(MakeDirectory(home(), "/new/inner/", false).ok());
  EXPECT_TRUE(Exists(Real("new/inner")));
  EXPECT_EQ(MakeDirectory(home(), "missing/new", false).code(), ErrorCode::kNotFound);
  MakeFile("f", "x");
  EXPECT_EQ(MakeDirectory(home(), "f", false).code(), ErrorCode::kExists);
  EXPECT_EQ(MakeDirectory(home(), "f/new", false).code(), ErrorCode::kNotDirectory);
  for (const std::string path : {"/", ".", "..", "new/.."}) {
    EXPECT_EQ(MakeDirectory(home(), path, false).code(), ErrorCode::kInvalid) << path;
  }
}

TEST_F(FileOpsTest, MakeDirectoryWithParentsCreatesAncestors) {
  const Status deep = MakeDirectory(home(), "p/q/r/s/t", true);
  ASSERT_TRUE(deep.ok()) << deep.ToString();
  EXPECT_TRUE(fs::is_directory(Real("p/q/r/s/t")));
  EXPECT_TRUE(MakeDirectory(home(), "p/q/r/s/t", true).ok()) << "existing folders are fine with parents";
  EXPECT_TRUE(MakeDirectory(home(), "p/q", true).ok());
  EXPECT_TRUE(MakeDirectory(home(), "/abs//deep/", true).ok());
  EXPECT_TRUE(fs::is_directory(Real("abs/deep")));
  EXPECT_TRUE(MakeDirectory(home(), "x", true).ok());
  EXPECT_TRUE(MakeDirectory(home(), "/", true).ok());
}

TEST_F(FileOpsTest, MakeDirectoryWithParentsStopsAtAFile) {
  MakeDir("p");
  MakeFile("p/f", "keep");
  for (const std::string path : {"p/f", "p/f/x", "p/f/x/y"}) {
    const Status status = MakeDirectory(home(), path, true);
    EXPECT_FALSE(status.ok()) << path;
    EXPECT_EQ(status.code(), ErrorCode::kNotDirectory) << path << ": " << status.ToString();
  }
  EXPECT_EQ(ReadFile(Real("p/f")), "keep");
}

TEST_F(FileOpsTest, RemoveDirectoryRemovesOnlyEmptyFolders) {
  MakeDir("empty");
  MakeDir("full");
  MakeFile("full/f", "x");
  MakeFile("file", "x");
  EXPECT_TRUE(RemoveDirectory(home(), "empty/").ok());
  EXPECT_FALSE(Exists(Real("empty")));
  EXPECT_EQ(RemoveDirectory(home(), "full").code(), ErrorCode::kNotEmpty);
  EXPECT_TRUE(Exists(Real("full/f")));
  EXPECT_EQ(RemoveDirectory(home(), "file").code(), ErrorCode::kNotDirectory);
  EXPECT_TRUE(Exists(Real("file")));
  EXPECT_EQ(RemoveDirectory(home(), "missing").code(), ErrorCode::kNotFound);
  for (const std::string path : {"/", ".", "..", "full/..", ""}) {
    EXPECT_EQ(RemoveDirectory(home(), path).code(), ErrorCode::kInvalid) << '"' << path << '"';
  }
}

TEST_F(FileOpsTest, RemovePathRemovesAFile) {
  MakeFile("f", "x");
  MakeFile("g", "keep");
  EXPECT_TRUE(RemovePath(home(), "/f", false).ok());
  EXPECT_FALSE(Exists(Real("f")));
  EXPECT_TRUE(Exists(Real("g")));
  EXPECT_EQ(RemovePath(home(), "f", false).code(), ErrorCode::kNotFound);
}

TEST_F(FileOpsTest, RemovePathNeedsRecursiveForFolders) {
  MakeDir("d");
  MakeDir("empty");
  MakeFile("d/f", "x");
  EXPECT_EQ(RemovePath(home(), "d", false).code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(RemovePath(home(), "empty", false).code(), ErrorCode::kIsDirectory);
  EXPECT_TRUE(Exists(Real("d/f")));
  EXPECT_TRUE(RemovePath(home(), "empty", true).ok());
  EXPECT_FALSE(Exists(Real("empty")));
}

TEST_F(FileOpsTest, RemovePathRecursiveRemovesATree) {
  std::string path = "tree";
  for (int level = 0; level < 5; ++level) {
    MakeDir(path);
    MakeFile(path + "/a", "a");
    MakeFile(path + "/b", "b");
    ASSERT_EQ(::symlink("a", Real(path + "/link").c_str()), 0);
    path += "/level" + std::to_string(level + 1);
  }
  MakeDir("tree-sibling");
  MakeFile("tree-sibling/keep", "k");
  const Status status = RemovePath(home(), "tree", true);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_FALSE(Exists(Real("tree")));
  EXPECT_EQ(ReadFile(Real("tree-sibling/keep")), "k");
}

// Entries that vanish while a tree is being removed (another session deleting them) are already gone, which is
// what the removal wanted: it must still succeed.
TEST_F(FileOpsTest, RemovePathRecursiveToleratesEntriesRemovedMeanwhile) {
  constexpr int kRounds = 12;
  constexpr int kFiles = 300;
  int failures = 0;
  for (int round = 0; round < kRounds; ++round) {
    MakeDir("tree");
    MakeDir("tree/sub");
    for (int i = 0; i < kFiles; ++i) MakeFile("tree/sub/" + std::to_string(i), "");
    std::atomic<bool> started = false;
    std::thread other_session([&] {
      started = true;
      for (int i = kFiles - 1; i >= 0; --i) ::unlink(Real("tree/sub/" + std::to_string(i)).c_str());
    });
    while (!started.load()) std::this_thread::yield();
    const Status status = RemovePath(home(), "tree", true);
    other_session.join();
    if (!status.ok()) {
      ++failures;
      ADD_FAILURE() << "round " << round << ": " << status.ToString();
      fs::remove_all(Real("tree"));
    }
    ASSERT_FALSE(Exists(Real("tree")));
    if (failures > 2) break;
  }
}

TEST_F(FileOpsTest, TheHomeCannotBeRemoved) {
  MakeDir("d");
  MakeFile("f", "x");
  for (const std::string path : {"/", ".", "..", "", "//", "/.", "d/..", "/..", "../..", "./"}) {
    for (const bool recursive : {false, true}) {
      EXPECT_EQ(RemovePath(home(), path, recursive).code(), ErrorCode::kInvalid) << '"' << path << '"';
    }
  }
  EXPECT_TRUE(Exists(Real("d")));
  EXPECT_TRUE(Exists(Real("f")));
  EXPECT_TRUE(fs::is_directory(alice_));
}

TEST_F(FileOpsTest, RenameMovesAFile) {
  MakeFile("f", "content");
  EXPECT_TRUE(Rename(home(), "f", "g", false).ok());
  EXPECT_FALSE(Exists(Real("f")));
  EXPECT_EQ(ReadFile(Real("g")), "content");
  EXPECT_EQ(Rename(home(), "f", "h", false).code(), ErrorCode::kNotFound);
  MakeDir("d");
  EXPECT_TRUE(Rename(home(), "/g", "/d/renamed", false).ok());
  EXPECT_EQ(ReadFile(Real("d/renamed")), "content");
}

TEST_F(FileOpsTest, RenameIntoAnExistingFolderKeepsTheName) {
  MakeFile("f", "content");
  MakeDir("d");
  MakeDir("e");
  EXPECT_TRUE(Rename(home(), "f", "d", false).ok());
  EXPECT_EQ(ReadFile(Real("d/f")), "content");
  EXPECT_TRUE(Rename(home(), "e", "d/", false).ok());
  EXPECT_TRUE(fs::is_directory(Real("d/e")));
  MakeFile("f", "second");
  EXPECT_EQ(Rename(home(), "f", "d", false).code(), ErrorCode::kExists);
  EXPECT_EQ(ReadFile(Real("f")), "second");
  EXPECT_EQ(ReadFile(Real("d/f")), "content");
}

// Into a folder, errors name the entry that is in the way, not the folder; a name already in that folder is the
// same file, whatever -f says.
TEST_F(FileOpsTest, RenameIntoAFolderNamesTheEntryInTheWay) {
  MakeFile("afile", "A");
  MakeDir("d");
  MakeFile("d/afile", "D");
  const Status in_the_way = Rename(home(), "/afile", "/d", false);
  EXPECT_EQ(in_the_way.code(), ErrorCode::kExists);
  EXPECT_EQ(in_the_way.message(), "target exists: /d/afile");
  for (const bool overwrite : {false, true}) {
    const Status same = Rename(home(), "/afile", "/", overwrite);
    EXPECT_EQ(same.code(), ErrorCode::kInvalid) << same.ToString();
    EXPECT_EQ(same.message(), "'/afile' and '/afile' are the same file");
  }
  EXPECT_EQ(ReadFile(Real("afile")), "A");
  EXPECT_EQ(ReadFile(Real("d/afile")), "D");
}

TEST_F(FileOpsTest, RenameRefusesToReplaceWithoutOverwrite) {
  MakeFile("a", "A");
  MakeFile("b", "B");
  const Status status = Rename(home(), "a", "b", false);
  EXPECT_EQ(status.code(), ErrorCode::kExists);
  EXPECT_NE(status.message().find('b'), std::string::npos) << status.message();
  EXPECT_EQ(ReadFile(Real("a")), "A");
  EXPECT_EQ(ReadFile(Real("b")), "B");
}

TEST_F(FileOpsTest, RenameWithOverwriteReplaces) {
  MakeFile("a", "A");
  MakeFile("b", "B");
  EXPECT_TRUE(Rename(home(), "a", "b", true).ok());
  EXPECT_FALSE(Exists(Real("a")));
  EXPECT_EQ(ReadFile(Real("b")), "A");
}

TEST_F(FileOpsTest, RenameRefusesToMoveAFolderIntoItself) {
  MakeDir("d");
  MakeDir("d/sub");
  MakeFile("d/sub/f", "x");
  for (const std::string to : {"d/sub", "d/sub/inner", "d", "d/"}) {
    const Status status = Rename(home(), "d", to, false);
    EXPECT_FALSE(status.ok()) << to;
    EXPECT_EQ(status.code(), ErrorCode::kInvalid) << to << ": " << status.ToString();
  }
  EXPECT_EQ(ReadFile(Real("d/sub/f")), "x");
}

TEST_F(FileOpsTest, RenameRefusesTheHome) {
  MakeDir("d");
  for (const std::string from : {"/", ".", "..", "d/.."}) {
    EXPECT_EQ(Rename(home(), from, "d/home", false).code(), ErrorCode::kInvalid) << from;
  }
  EXPECT_FALSE(Exists(Real("d/home")));
}

}  // namespace
}  // namespace ferry::storage

namespace ferry::storage {
namespace {

TEST_F(FileOpsTest, ChangesReportTheSpaceTheyTookAndGaveBack) {
  SpaceChange made;
  ASSERT_TRUE(MakeDirectory(home(), "/a/b/c", true, &made).ok());
  EXPECT_EQ(made.entries, 3);
  EXPECT_EQ(made.bytes, 0);
  MakeFile("a/b/c/f1", std::string(100, 'x'));
  MakeFile("a/b/f2", std::string(50, 'y'));
  ASSERT_EQ(::symlink("f2", Real("a/b/link").c_str()), 0);

  SpaceChange replaced;
  MakeFile("other", std::string(7, 'o'));
  ASSERT_TRUE(Rename(home(), "/other", "/a/b/f2", true, &replaced).ok());
  EXPECT_EQ(replaced.bytes, -50);
  EXPECT_EQ(replaced.entries, -1);

  SpaceChange removed;
  ASSERT_TRUE(RemovePath(home(), "/a", true, &removed).ok());
  EXPECT_EQ(removed.bytes, -107);
  EXPECT_EQ(removed.entries, -6);  // a, b, c, f1, f2, link
}

TEST_F(FileOpsTest, MakeDirectoryStopsAtItsBudget) {
  SpaceChange made;
  MakeDir("x");
  const Status status = MakeDirectory(home(), "/x/y/z", true, &made, 1);
  EXPECT_EQ(status.code(), ErrorCode::kQuota) << status.ToString();
  EXPECT_EQ(made.entries, 1);
  EXPECT_TRUE(Exists(Real("x/y")));
  EXPECT_FALSE(Exists(Real("x/y/z")));
  EXPECT_EQ(MakeDirectory(home(), "/new", false, nullptr, 0).code(), ErrorCode::kQuota);
  EXPECT_FALSE(Exists(Real("new")));
  EXPECT_EQ(ComponentCount("/x//y/z/"), 3u);
  EXPECT_EQ(ComponentCount("/"), 0u);
}

TEST_F(FileOpsTest, RenamingOntoItselfGivesNothingBack) {
  MakeFile("same", "12345");
  ASSERT_EQ(::link(Real("same").c_str(), Real("twin").c_str()), 0);
  SpaceChange change;
  ASSERT_TRUE(Rename(home(), "/same", "/twin", true, &change).ok());
  EXPECT_EQ(change.bytes, 0);
  EXPECT_EQ(change.entries, 0);
}

TEST(LinkText, KeepsTargetsRelativeToTheLinksFolderAndInsideTheHome) {
  const auto text = [](std::string_view folder, std::string_view target) {
    auto result = LinkText(folder, target);
    return result.ok() ? *result : "error: " + result.status().message();
  };
  EXPECT_EQ(text("/", "/a/b"), "a/b");
  EXPECT_EQ(text("/d", "/a/b"), "../a/b");
  EXPECT_EQ(text("/d/e", "/d/f"), "../f");
  EXPECT_EQ(text("/d/e", "x"), "x");
  EXPECT_EQ(text("/d/e", "./x/../y"), "y");
  EXPECT_EQ(text("/d/e", "../../a"), "../../a");
  EXPECT_EQ(text("/d", "/d"), ".");
  EXPECT_EQ(text("/d", "/"), "..");
  for (const auto& [folder, target] : std::vector<std::pair<std::string, std::string>>{
           {"/", ".."}, {"/d", "../../x"}, {"/", "/../x"}, {"/d/e", "a/../../../../b"}}) {
    auto result = LinkText(folder, target);
    ASSERT_FALSE(result.ok()) << folder << " " << target;
    EXPECT_EQ(result.status().code(), ErrorCode::kAccessDenied);
  }
  EXPECT_FALSE(LinkText("/", "").ok());
  EXPECT_FALSE(LinkText("/", std::string("a\0b", 3)).ok());
}

}  // namespace
}  // namespace ferry::storage
