// The path jail: whatever a client names — "..", absolute paths, symlinks planted in its home or swapped in while a
// request runs, /proc magic links — HomeDir and the file operations never reach another user's home or anything
// else outside the client's own.
#include "storage/home_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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

#include "storage/file_ops.h"
#include "support/temp_dir.h"

namespace ferry::storage {
namespace {

namespace fs = std::filesystem;

using ferry::testing::Exists;
using ferry::testing::ReadFile;
using ferry::testing::WriteFile;

std::string ReadFd(int fd) {
  std::string content;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) content.append(buffer, static_cast<std::size_t>(n));
  return content;
}

using FileId = std::pair<dev_t, ino_t>;

std::optional<FileId> IdOfPath(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

FileId IdOfFd(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return {st.st_dev, st.st_ino};
}

// A fresh temporary tree: homes "alice" and "bob", and an "outside" folder, each holding something worth stealing.
// Tests act as alice through `home()`; everything but alice's home must come out unchanged.
class JailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/ferry-jail-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    alice_ = root_ + "/alice";
    bob_ = root_ + "/bob";
    outside_ = root_ + "/outside";
    for (const std::string& dir : {alice_, bob_, outside_}) ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    WriteFile(bob_ + "/bob-file.txt", "bob's data");
    WriteFile(bob_ + "/x", "bob's x");
    WriteFile(outside_ + "/secret", "outside secret");
    WriteFile(outside_ + "/x", "outside x");
    WriteFile(outside_ + "/victim", "must survive");
    WriteFile(root_ + "/x", "root x");
    WriteFile(alice_ + "/mine.txt", "alice's data");
    auto home = HomeDir::Open(alice_);
    ASSERT_TRUE(home.ok()) << home.status().ToString();
    home_.emplace(std::move(home).value());
    // Tests run as root may write through absolute and ".." paths; a jail that does not even root them at the
    // home would write into the real file system, so stop before any test starts.
    ASSERT_NO_FATAL_FAILURE(AssertRootedAtTheHome());
    // Files that a jailed operation must never open, wherever a path leads.
    for (const std::string& path : {root_, bob_, bob_ + "/bob-file.txt", bob_ + "/x", outside_, outside_ + "/secret",
                                    outside_ + "/x", outside_ + "/victim", root_ + "/x", std::string("/"),
                                    std::string("/etc"), std::string("/etc/passwd"), std::string("/proc")}) {
      if (auto id = IdOfPath(path)) forbidden_.insert(*id);
    }
    Snapshot(others_before_);
  }

  void TearDown() override {
    home_.reset();
    if (!root_.empty()) {
      std::error_code error;
      fs::remove_all(root_, error);
      EXPECT_FALSE(error) << error.message();
    }
  }

  const HomeDir& home() const { return *home_; }

  void AssertRootedAtTheHome() const {
    for (const std::string path : {"/", "/..", "../../..", "/../.."}) {
      auto fd = home_->OpenPath(path, O_PATH | O_DIRECTORY);
      ASSERT_TRUE(fd.ok()) << path << ": " << fd.status().ToString();
      ASSERT_EQ(IdOfFd(fd->get()), *IdOfPath(alice_)) << path << " is not the home: the jail is broken";
    }
  }

  // Plants a symlink in alice's home, as someone with shell access on the server might.
  void Plant(const std::string& target, const std::string& name) {
    ASSERT_EQ(::symlink(target.c_str(), (alice_ + "/" + name).c_str()), 0) << name;
  }

  // Every entry outside alice's home, with its type and content or link target.
  void Snapshot(std::map<std::string, std::string>& out) const {
    out.clear();
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(root_, error); !error && it != fs::recursive_directory_iterator();
         it.increment(error)) {
      if (it->path() == alice_) {
        it.disable_recursion_pending();
        continue;
      }
      const std::string path = it->path().string();
      std::string description;
      if (it->is_symlink()) {
        description = "link:" + fs::read_symlink(it->path()).string();
      } else if (it->is_directory()) {
        description = "dir";
      } else {
        description = "file:" + ReadFile(path);
      }
      out[path] = description;
    }
    ASSERT_FALSE(error) << error.message();
  }

  // Bob's home and the outside folder are exactly as SetUp left them.
  void ExpectOthersUntouched() const {
    std::map<std::string, std::string> now;
    Snapshot(now);
    EXPECT_EQ(now, others_before_);
    EXPECT_EQ(ReadFile(bob_ + "/bob-file.txt"), "bob's data");
    EXPECT_EQ(ReadFile(outside_ + "/secret"), "outside secret");
  }

  // An open descriptor a jailed call handed out must be of something in alice's home.
  void ExpectInsideHome(int fd, const std::string& what) const {
    EXPECT_EQ(forbidden_.count(IdOfFd(fd)), 0U) << what << " opened something outside the home";
  }

  std::string root_;
  std::string alice_;
  std::string bob_;
  std::string outside_;
  std::optional<HomeDir> home_;
  std::set<FileId> forbidden_;
  std::map<std::string, std::string> others_before_;
};

// Names a listing must never show: they exist only outside alice's home.
const std::set<std::string> kOutsideNames = {"bob-file.txt", "secret", "victim", "passwd", "alice", "bob", "outside"};

// Lists `path`; on success, checks no name from outside the home shows up.
void ExpectListingStaysInside(const HomeDir& home, const std::string& path) {
  const Status status = ListDirectory(home, path, 100, [&](std::vector<FileInfo>&& batch) {
    for (const FileInfo& info : batch) EXPECT_EQ(kOutsideNames.count(info.name), 0U) << path << " lists " << info.name;
  });
  (void)status;  // failing is fine; leaking is not
}

TEST(HomeDirPaths, JoinIsLexical) {
  EXPECT_EQ(HomeDir::Join("/", ""), "/");
  EXPECT_EQ(HomeDir::Join("/a", ""), "/a");
  EXPECT_EQ(HomeDir::Join("/", "b"), "/b");
  EXPECT_EQ(HomeDir::Join("/a", "b"), "/a/b");
  EXPECT_EQ(HomeDir::Join("/a/", "b/c"), "/a/b/c");
  EXPECT_EQ(HomeDir::Join("/a", "/b"), "/b");
  EXPECT_EQ(HomeDir::Join("/a", "/"), "/");
  EXPECT_EQ(HomeDir::Join("/a", ".."), "/a/..");
  EXPECT_EQ(HomeDir::Join("/a", "./b"), "/a/./b");
}

// Collapses repeated slashes and drops a trailing one, to compare parents lexically.
std::string Collapse(const std::string& path) {
  std::string out;
  for (const char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

TEST(HomeDirPaths, SplitLastHandlesEdgeCases) {
  struct Case {
    std::string path;
    std::string parent;
    std::string name;
  };
  const std::vector<Case> cases = {
      {"", ".", ""},      {"/", "/", ""},        {".", ".", ""},    {"./", ".", ""},       {"///", "/", ""},
      {"/.", "/", ""},    {"a", ".", "a"},       {"/a", "/", "a"},  {"/a/b/", "/a", "b"},  {"/a/b///", "/a", "b"},
      {"a/./", ".", "a"}, {"a/b/.", "a", "b"},   {"a/.", ".", "a"}, {"a/..", "a", ".."},   {"..", ".", ".."},
      {"/..", "/", ".."}, {"//a//b", "/a", "b"}, {"./a", ".", "a"}, {"a/b/c", "a/b", "c"}, {"a/...", "a", "..."},
  };
  for (const Case& c : cases) {
    const auto [parent, name] = HomeDir::SplitLast(c.path);
    EXPECT_EQ(name, c.name) << '"' << c.path << '"';
    EXPECT_EQ(Collapse(parent), c.parent) << '"' << c.path << "\" gave parent \"" << parent << '"';
  }
}

TEST_F(JailTest, OpenGivesTheHomeAsRoot) {
  auto root = home().VirtualPathOf(home().fd());
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(*root, "/");
  EXPECT_EQ(IdOfFd(home().fd()), *IdOfPath(alice_));
}

TEST(HomeDirPaths, IsRootRecognisesOnlyTheHomeItself) {
  for (const char* root : {"", "/", ".", "/.", "//", "/./.", "./", "/./"}) EXPECT_TRUE(HomeDir::IsRoot(root)) << root;
  for (const char* other : {"a", "/a", "/..", "..", "/./a/", "/a/..", "./..", "/ ."}) {
    EXPECT_FALSE(HomeDir::IsRoot(other)) << other;
  }
}

TEST_F(JailTest, TopLevelNamesUseTheHomesOwnDescriptor) {
  for (const std::string path : {"/mine.txt", "mine.txt", "/./mine.txt", "./new-name"}) {
    auto parent = home().OpenParent(path);
    ASSERT_TRUE(parent.ok()) << path << ": " << parent.status().ToString();
    EXPECT_EQ(parent->parent.get(), home().fd()) << path;
    // A descriptor of its own is a duplicate of the home's, which stays open.
    UniqueFd owned = parent->parent.TakeOwned();
    ASSERT_TRUE(owned.valid()) << path;
    EXPECT_NE(owned.get(), home().fd());
    EXPECT_EQ(IdOfFd(owned.get()), *IdOfPath(alice_));
    EXPECT_EQ(IdOfFd(home().fd()), *IdOfPath(alice_));
  }
  // Anything deeper, or climbing, is resolved by the kernel and owned.
  ASSERT_EQ(::mkdir((alice_ + "/sub").c_str(), 0755), 0);
  for (const std::string path : {"/sub/x", "/../x", "/sub/../x"}) {
    auto parent = home().OpenParent(path);
    ASSERT_TRUE(parent.ok()) << path << ": " << parent.status().ToString();
    EXPECT_NE(parent->parent.get(), home().fd()) << path;
  }
  auto info = StatPath(home(), "/.");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "/");
  EXPECT_EQ(info->type, FileType::kDirectory);
}

TEST_F(JailTest, OpenRefusesWhatIsNotAFolder) {
  EXPECT_EQ(HomeDir::Open(alice_ + "/mine.txt").status().code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(HomeDir::Open(root_ + "/nobody").status().code(), ErrorCode::kNotFound);
  ASSERT_EQ(::symlink(bob_.c_str(), (root_ + "/carol").c_str()), 0);
  EXPECT_FALSE(HomeDir::Open(root_ + "/carol").ok()) << "a home that is a symlink must not be followed";
}

TEST_F(JailTest, DotDotChainsStopAtTheHome) {
  ASSERT_EQ(::mkdir((alice_ + "/a").c_str(), 0755), 0);
  for (const std::string path : {"..", "../..", "/../../..", "a/../../../", "/a/../..", "..//..//.", "../alice/.."}) {
    auto fd = home().OpenPath(path, O_PATH | O_DIRECTORY);
    if (!fd.ok()) continue;  // refusing is as good as staying
    ExpectInsideHome(fd->get(), path);
    EXPECT_EQ(IdOfFd(fd->get()), IdOfFd(home().fd())) << path;
    auto virtual_path = home().VirtualPathOf(fd->get());
    ASSERT_TRUE(virtual_path.ok()) << path << ": " << virtual_path.status().ToString();
    EXPECT_EQ(*virtual_path, "/") << path;
  }
  EXPECT_EQ(*ResolveDirectory(home(), "/../../.."), "/");
  EXPECT_EQ(*ResolveDirectory(home(), "a/../../../"), "/");
}

TEST_F(JailTest, DotDotChainsNeverReachOutsideFiles) {
  ASSERT_EQ(::mkdir((alice_ + "/a").c_str(), 0755), 0);
  for (const std::string path :
       {"../outside/secret", "../../outside/secret", "/../outside/secret", "a/../../../outside/secret",
        "../bob/bob-file.txt", "../x", "../../../../etc/passwd"}) {
    auto fd = home().OpenPath(path, O_RDONLY);
    EXPECT_FALSE(fd.ok()) << path << " opened";
    if (fd.ok()) ExpectInsideHome(fd->get(), path);
    EXPECT_FALSE(StatPath(home(), path).ok()) << path;
  }
  ExpectListingStaysInside(home(), "..");
  ExpectListingStaysInside(home(), "../../outside");
  ExpectOthersUntouched();
}

TEST_F(JailTest, AbsolutePathsStartAtTheHome) {
  WriteFile(alice_ + "/secret", "alice's secret");
  auto fd = home().OpenPath("/secret", O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadFd(fd->get()), "alice's secret");
  for (const std::string& path :
       {std::string("/etc/passwd"), bob_ + "/bob-file.txt", outside_ + "/secret", alice_ + "/mine.txt"}) {
    EXPECT_EQ(home().OpenPath(path, O_RDONLY).status().code(), ErrorCode::kNotFound) << path;
  }
}

TEST_F(JailTest, CreatingAboveTheHomeCreatesInIt) {
  auto fd = home().OpenPath("/../../new.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_TRUE(Exists(alice_ + "/new.txt"));
  EXPECT_FALSE(Exists(root_ + "/new.txt"));
  EXPECT_TRUE(MakeDirectory(home(), "../made", false).ok());
  EXPECT_TRUE(Exists(alice_ + "/made"));
  ExpectOthersUntouched();
}

// Symlinks an attacker with shell access could leave in alice's home. Only those leading into the temporary tree
// are ever written through; links to /etc and /proc are only read through, so even a broken jail cannot harm the
// machine the tests run on.
class PlantedLinksTest : public JailTest {
 protected:
  void SetUp() override {
    JailTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(::mkdir((alice_ + "/sub").c_str(), 0755), 0);
    Plant("/etc", "to-etc");
    Plant("/etc/passwd", "to-passwd");
    Plant(bob_, "to-bob-abs");
    Plant("../bob", "to-bob-rel");
    Plant(outside_, "to-outside-abs");
    Plant("../outside", "to-outside-rel");
    Plant("../outside/secret", "to-secret");
    ASSERT_EQ(::symlink("../../outside/secret", (alice_ + "/sub/to-secret").c_str()), 0);
    Plant("chain-2", "chain-1");  // chain-1 -> chain-2 -> sub/../chain-3 -> ../../outside
    Plant("sub/../chain-3", "chain-2");
    Plant("../outside", "chain-3");
    Plant("/proc/self/root", "proc-root");
    Plant("/proc/self/cwd", "proc-cwd");
    Plant("..", "up");
    Plant("../../..", "up-3");
  }

  // Links whose targets lie outside the home and inside the temporary tree: writes through them would land
  // there if they escaped. Links to /etc and /proc are only ever read through.
  const std::vector<std::string> writable_escapes_ = {"to-bob-abs", "to-bob-rel",    "to-outside-abs", "to-outside-rel",
                                                      "chain-1",    "sub/to-secret", "to-secret"};
  const std::vector<std::string> read_only_escapes_ = {"to-etc", "to-passwd", "proc-root", "proc-cwd"};
  // Links that climb above the home, and so lead to the home itself.
  const std::vector<std::string> upward_links_ = {"up", "up-3"};

  std::vector<std::string> AllLinks() const {
    std::vector<std::string> all = writable_escapes_;
    all.insert(all.end(), read_only_escapes_.begin(), read_only_escapes_.end());
    all.insert(all.end(), upward_links_.begin(), upward_links_.end());
    return all;
  }
};

TEST_F(PlantedLinksTest, StatReportsTheLinkItself) {
  for (const std::string& link : AllLinks()) {
    auto info = StatPath(home(), link);
    ASSERT_TRUE(info.ok()) << link << ": " << info.status().ToString();
    EXPECT_EQ(info->type, FileType::kSymlink) << link;
    EXPECT_EQ(FileTypeName(info->type), "link");
  }
}

TEST_F(PlantedLinksTest, OpeningThroughLinksStaysInTheHome) {
  for (const std::string& link : AllLinks()) {
    for (const std::string suffix : {"", "/", "/.", "/x", "/secret", "/bob-file.txt", "/passwd", "/etc/passwd",
                                     "/outside/secret", "/../outside/secret"}) {
      const std::string path = link + suffix;
      for (const int flags : {O_RDONLY, O_PATH, O_RDONLY | O_DIRECTORY}) {
        auto fd = home().OpenPath(path, flags);
        if (fd.ok()) ExpectInsideHome(fd->get(), path);
      }
      if (auto info = StatPath(home(), path); info.ok() && !suffix.empty()) {
        EXPECT_EQ(kOutsideNames.count(info->name), 0U) << path;
      }
      if (auto resolved = ResolveDirectory(home(), path); resolved.ok()) {
        auto fd = home().OpenPath(*resolved, O_PATH | O_DIRECTORY);
        ASSERT_TRUE(fd.ok());
        ExpectInsideHome(fd->get(), path);
      }
      ExpectListingStaysInside(home(), path);
    }
  }
  ExpectOthersUntouched();
}

TEST_F(PlantedLinksTest, LinksUpwardsLeadToTheHomeItself) {
  for (const std::string& link : upward_links_) {
    auto resolved = ResolveDirectory(home(), link);
    ASSERT_TRUE(resolved.ok()) << link << ": " << resolved.status().ToString();
    EXPECT_EQ(*resolved, "/") << link;
    auto fd = home().OpenPath(link + "/mine.txt", O_RDONLY);
    ASSERT_TRUE(fd.ok()) << fd.status().ToString();
    EXPECT_EQ(ReadFd(fd->get()), "alice's data");
  }
}

TEST_F(PlantedLinksTest, AbsoluteLinksAreRootedAtTheHome) {
  ASSERT_EQ(::mkdir((alice_ + "/etc").c_str(), 0755), 0);
  WriteFile(alice_ + "/etc/passwd", "alice's own passwd");
  auto fd = home().OpenPath("to-passwd", O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadFd(fd->get()), "alice's own passwd");
  EXPECT_EQ(*ResolveDirectory(home(), "to-etc"), "/etc");
}

TEST_F(PlantedLinksTest, WritesThroughLinksNeverLandOutside) {
  for (const std::string& link : writable_escapes_) {
    SCOPED_TRACE(link);
    EXPECT_FALSE(home().OpenPath(link + "/planted", O_WRONLY | O_CREAT | O_EXCL, 0644).ok());
    EXPECT_FALSE(home().OpenPath(link + "/x", O_WRONLY | O_TRUNC).ok());
    EXPECT_FALSE(MakeDirectory(home(), link + "/new", false).ok());
    EXPECT_FALSE(MakeDirectory(home(), link + "/new/deeper", true).ok());
    EXPECT_FALSE(RemovePath(home(), link + "/x", true).ok());
    EXPECT_FALSE(RemovePath(home(), link + "/victim", false).ok());
    EXPECT_FALSE(RemovePath(home(), link + "/bob-file.txt", false).ok());
    EXPECT_FALSE(RemoveDirectory(home(), link + "/.").ok());
    EXPECT_FALSE(Rename(home(), link + "/x", "y", false).ok());
    EXPECT_FALSE(Rename(home(), link + "/secret", "stolen", true).ok());
    EXPECT_FALSE(Rename(home(), "mine.txt", link + "/x", true).ok());
    EXPECT_FALSE(Rename(home(), "mine.txt", link + "/mine.txt", false).ok());
    EXPECT_TRUE(Exists(alice_ + "/mine.txt"));
    ExpectOthersUntouched();
  }
  EXPECT_FALSE(Exists(alice_ + "/y"));
  EXPECT_FALSE(Exists(alice_ + "/stolen"));
}

TEST_F(PlantedLinksTest, RenamingOntoALinkReplacesTheLinkNotItsTarget) {
  WriteFile(alice_ + "/a.txt", "a");
  WriteFile(alice_ + "/b.txt", "b");
  EXPECT_EQ(Rename(home(), "a.txt", "to-bob-abs", false).code(), ErrorCode::kExists);
  EXPECT_TRUE(Rename(home(), "a.txt", "to-bob-abs", true).ok());
  EXPECT_EQ(ReadFile(alice_ + "/to-bob-abs"), "a");
  EXPECT_TRUE(Rename(home(), "b.txt", "to-outside-rel", true).ok());
  EXPECT_EQ(ReadFile(alice_ + "/to-outside-rel"), "b");
  ExpectOthersUntouched();
}

TEST_F(PlantedLinksTest, MovingALinkMovesOnlyTheLink) {
  EXPECT_TRUE(Rename(home(), "to-bob-abs", "sub", false).ok());
  auto info = StatPath(home(), "sub/to-bob-abs");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->type, FileType::kSymlink);
  ExpectOthersUntouched();
}

TEST_F(PlantedLinksTest, RemovingALinkRemovesOnlyTheLink) {
  EXPECT_TRUE(RemovePath(home(), "to-bob-abs", false).ok());
  EXPECT_TRUE(RemovePath(home(), "to-bob-rel", true).ok());
  EXPECT_TRUE(RemovePath(home(), "to-outside-abs/", true).ok());
  for (const std::string name : {"to-bob-abs", "to-bob-rel", "to-outside-abs"}) {
    EXPECT_FALSE(Exists(alice_ + "/" + name)) << name;
  }
  EXPECT_EQ(RemoveDirectory(home(), "to-outside-rel").code(), ErrorCode::kNotDirectory);
  EXPECT_TRUE(Exists(alice_ + "/to-outside-rel"));
  ExpectOthersUntouched();
}

TEST_F(PlantedLinksTest, RecursiveRemovalRemovesLinksNotTargets) {
  ASSERT_EQ(::mkdir((alice_ + "/tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((alice_ + "/tree/deeper").c_str(), 0755), 0);
  WriteFile(alice_ + "/tree/file", "f");
  for (const std::string dir : {"/tree/", "/tree/deeper/"}) {
    ASSERT_EQ(::symlink(outside_.c_str(), (alice_ + dir + "outside-abs").c_str()), 0);
    ASSERT_EQ(::symlink("../../outside", (alice_ + dir + "outside-rel").c_str()), 0);
    ASSERT_EQ(::symlink("../../../outside", (alice_ + dir + "outside-rel-2").c_str()), 0);
    ASSERT_EQ(::symlink(bob_.c_str(), (alice_ + dir + "bob").c_str()), 0);
  }
  const Status status = RemovePath(home(), "tree", true);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_FALSE(Exists(alice_ + "/tree"));
  ExpectOthersUntouched();
}

TEST_F(PlantedLinksTest, ProcLinksInTheHomeDoNotReachTheRealRoot) {
  for (const std::string path : {"proc-root", "proc-root/etc/passwd", "proc-root/proc", "proc-cwd", "proc-cwd/x"}) {
    EXPECT_FALSE(home().OpenPath(path, O_RDONLY).ok()) << path;
    EXPECT_FALSE(home().OpenPath(path, O_PATH).ok()) << path;
    EXPECT_FALSE(ResolveDirectory(home(), path).ok()) << path;
    EXPECT_FALSE(ListDirectory(home(), path, 10, [](std::vector<FileInfo>&&) {}).ok()) << path;
  }
  EXPECT_FALSE(home().OpenPath("/proc/self/root/etc/passwd", O_RDONLY).ok());
}

// A home that does contain /proc's magic links (here: this process's /proc entry, opened read-only) still refuses
// to follow them: they would lead anywhere at all.
TEST_F(JailTest, MagicLinksAreRefusedEvenWhenReachable) {
  auto proc_home = HomeDir::Open("/proc/" + std::to_string(::getpid()));
  ASSERT_TRUE(proc_home.ok()) << proc_home.status().ToString();
  const std::string home_fd = "fd/" + std::to_string(home().fd());
  for (const std::string& path :
       std::vector<std::string>{"root", "root/etc/passwd", "cwd", "exe", home_fd, home_fd + "/mine.txt"}) {
    auto fd = proc_home->OpenPath(path, O_RDONLY);
    EXPECT_FALSE(fd.ok()) << path;
    if (fd.ok()) ExpectInsideHome(fd->get(), path);
    EXPECT_FALSE(proc_home->OpenPath(path, O_PATH).ok()) << path;
  }
}

// A second thread keeps exchanging a real folder and a symlink that leads outside under the name "swap" while
// requests go through it. Whatever the interleaving, nothing outside the home is opened, listed or changed.
TEST_F(JailTest, SymlinkSwappedInMidRequestStaysInside) {
  ASSERT_EQ(::mkdir((alice_ + "/swap").c_str(), 0755), 0);
  WriteFile(alice_ + "/swap/x", "inside x");
  Plant("../outside", "decoy");  // escapes if resolved naively from alice's home
  const FileId inside_x = *IdOfPath(alice_ + "/swap/x");
  const int home_fd = home().fd();

  std::atomic<bool> stop = false;
  std::atomic<int> swaps = 0;
  std::thread swapper([&] {
    while (!stop.load()) {
      if (::renameat2(home_fd, "swap", home_fd, "decoy", RENAME_EXCHANGE) == 0) swaps.fetch_add(1);
    }
  });
  while (swaps.load() == 0) std::this_thread::yield();  // make sure the race is on before measuring it

  // At least kIterations rounds, and on until both states of "swap" have been met: on a loaded machine the two
  // threads may share one core, and the swapper can then sit still in one state for a whole time slice of ours.
  int opened_inside = 0;
  int refused = 0;
  constexpr int kIterations = 2000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kIterations || opened_inside == 0 || refused == 0; ++i) {
    if (std::chrono::steady_clock::now() > deadline) break;
    if (auto fd = home().OpenPath("swap/x", O_RDONLY); fd.ok()) {
      EXPECT_EQ(IdOfFd(fd->get()), inside_x);
      ++opened_inside;
    } else {
      ++refused;
    }
    if (auto dir = home().OpenPath("swap", O_RDONLY | O_DIRECTORY); dir.ok()) {
      ExpectInsideHome(dir->get(), "swap");
      auto virtual_path = home().VirtualPathOf(dir->get());
      if (virtual_path.ok()) {
        EXPECT_TRUE(*virtual_path == "/swap" || *virtual_path == "/decoy") << *virtual_path;
      }
    }
    ExpectListingStaysInside(home(), "swap");
    if (auto info = StatPath(home(), "swap/secret"); info.ok()) ADD_FAILURE() << "stat reached the outside secret";
    (void)RemovePath(home(), "swap/victim", false);
    (void)MakeDirectory(home(), "swap/made", false);
    (void)Rename(home(), "swap/secret", "stolen", false);
    if (HasFailure()) break;
  }
  stop = true;
  swapper.join();

  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(opened_inside, 0) << "the real folder was never seen; the race did not exercise the jail";
  EXPECT_GT(refused, 0) << "the symlink was never seen; the race did not exercise the jail";
  EXPECT_FALSE(Exists(alice_ + "/stolen"));
  ExpectOthersUntouched();
}

}  // namespace
}  // namespace ferry::storage
