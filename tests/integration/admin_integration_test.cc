// ferryd's administration commands: init, user add/del/passwd/list, and config validation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "support/ftp_control.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/test_files.h"
#include "support/test_server.h"
#include "support/upload_frames.h"

namespace ferry::testing {
namespace {

class AdminIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "root";
    const auto init = RunProcess({FerrydPath(), "init", root_});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  ProcessResult Ferryd(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                       const std::string& input = "") {
    std::vector<std::string> argv = {FerrydPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, env, input);
  }

  // Serves root_ on a loopback port (plain TCP) until the test ends.
  void Serve() {
    server_ = std::make_unique<Subprocess>(
        std::vector<std::string>{FerrydPath(), "serve", "--root", root_, "--listen", "127.0.0.1:0", "--plain"});
    const auto line = server_->WaitForStderrLine("listening on ", std::chrono::seconds(30));
    ASSERT_TRUE(line);
    const std::string address = line->substr(line->find("listening on ") + 13);
    target_ = "alice@" + address.substr(0, address.find(' '));
  }
  // Exit code of `ferry pwd` logged in to the served root as alice with `password`.
  int LoginAsAlice(const std::string& password) {
    return RunProcess({FerryPath(), "--plain", target_, "pwd"},
                      {{"FERRY_PASSWORD", password}, {"HOME", client_home_.path()}})
        .exit_code;
  }

  TempDir dir_;
  std::string root_;
  TempDir client_home_;
  std::unique_ptr<Subprocess> server_;
  std::string target_;
};

TEST_F(AdminIntegration, InitCreatesTheLayoutWithPrivateKey) {
  EXPECT_TRUE(Exists(root_ + "/ferry.db"));
  EXPECT_TRUE(Exists(root_ + "/homes"));
  EXPECT_TRUE(Exists(root_ + "/tls/cert.pem"));
  EXPECT_EQ(ModeOf(root_ + "/tls/key.pem"), 0600u);
  EXPECT_NE(ReadFile(root_ + "/ferryd.toml").find("# listen = \"127.0.0.1:7021\""), std::string::npos);
  // A second init is refused and leaves the data root as it was.
  const std::string key = ReadFile(root_ + "/tls/key.pem");
  const auto again = Ferryd({"init", root_});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_EQ(ReadFile(root_ + "/tls/key.pem"), key);
}

// What `ssh-keygen -lf PATH` prints, without its newline.
std::string KeygenFingerprint(const std::string& path) {
  auto result = RunProcess({"/usr/bin/ssh-keygen", "-lf", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out.substr(0, result.out.find('\n'));
}

TEST_F(AdminIntegration, InitMakesAnSshHostKeyAndPrintsItsFingerprintAsSshKeygenDoes) {
  EXPECT_EQ(ModeOf(root_ + "/ssh"), 0700u);
  EXPECT_EQ(ModeOf(root_ + "/ssh/host_ed25519_key"), 0600u);
  const std::string expected = KeygenFingerprint(root_ + "/ssh/host_ed25519_key");
  EXPECT_THAT(expected, ::testing::MatchesRegex("256 SHA256:[A-Za-z0-9+/]{43} .*\\(ED25519\\)"));

  TempDir other;
  const auto init = Ferryd({"init", other / "root"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("SSH host key: " + KeygenFingerprint(other / "root/ssh/host_ed25519_key")),
            std::string::npos)
      << init.out;
}

TEST_F(AdminIntegration, ADataRootWithoutAHostKeyGetsOneAtServeWhichLogsIt) {
  ASSERT_EQ(::unlink((root_ + "/ssh/host_ed25519_key").c_str()), 0);
  ASSERT_EQ(::unlink((root_ + "/ssh/host_ed25519_key.pub").c_str()), 0);
  Serve();
  ASSERT_TRUE(Exists(root_ + "/ssh/host_ed25519_key"));
  EXPECT_EQ(ModeOf(root_ + "/ssh/host_ed25519_key"), 0600u);
  const std::string fingerprint = KeygenFingerprint(root_ + "/ssh/host_ed25519_key");
  const std::string hash = fingerprint.substr(fingerprint.find("SHA256:"), 50);
  EXPECT_NE(server_->stderr_so_far().find("created the SSH host key 256 " + hash), std::string::npos)
      << server_->stderr_so_far();
}

TEST_F(AdminIntegration, KeysAreAddedListedAndRemovedWithSshKeygenFingerprints) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "alice"}, {}, "pw1\n").exit_code, 0);
  TempDir keys;
  for (const std::string type : {"ed25519", "ecdsa", "rsa"}) {
    const auto made = RunProcess({"/usr/bin/ssh-keygen", "-q", "-t", type, "-N", "", "-C", "alice " + type, "-f",
                                  keys / type});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  const std::string ed25519 = KeygenFingerprint(keys / "ed25519.pub");
  const std::string ecdsa = KeygenFingerprint(keys / "ecdsa.pub");
  const std::string rsa = KeygenFingerprint(keys / "rsa.pub");

  // From a file, and several lines from stdin.
  auto added = Ferryd({"user", "key", "add", "--root", root_, "alice", keys / "ed25519.pub"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(added.out, "Added key " + ed25519 + "\n");
  added = Ferryd({"user", "key", "add", "--root", root_, "alice", "-"}, {},
                 "# from stdin\n" + ReadFile(keys / "ecdsa.pub") + ReadFile(keys / "rsa.pub") +
                     ReadFile(keys / "ed25519.pub"));
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(added.out,
            "Added key " + ecdsa + "\nAdded key " + rsa + "\nKey already present: " + ed25519 + "\n");

  auto listed = Ferryd({"user", "key", "list", "--root", root_, "alice"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, ed25519 + "\n" + ecdsa + "\n" + rsa + "\n");

  // By fingerprint, with or without "SHA256:".
  const std::string ecdsa_hash = ecdsa.substr(ecdsa.find("SHA256:") + 7, 43);
  auto removed = Ferryd({"user", "key", "del", "--root", root_, "alice", ecdsa_hash});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "Removed key SHA256:" + ecdsa_hash + " of alice\n");
  removed = Ferryd({"user", "key", "del", "--root", root_, "alice", "SHA256:" + ecdsa_hash});
  EXPECT_EQ(removed.exit_code, 1);
  EXPECT_NE(removed.err.find("has no key SHA256:" + ecdsa_hash), std::string::npos) << removed.err;
  EXPECT_EQ(Ferryd({"user", "key", "list", "--root", root_, "alice"}).out, ed25519 + "\n" + rsa + "\n");
}

TEST_F(AdminIntegration, BadKeysAndUnknownUsersAreRefusedAddingNothing) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "alice"}, {}, "pw1\n").exit_code, 0);
  TempDir keys;
  ASSERT_EQ(RunProcess({"/usr/bin/ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", keys / "small"})
                .exit_code,
            0);
  ASSERT_EQ(RunProcess({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / "good"}).exit_code, 0);

  // One bad line refuses the whole file, naming the line.
  auto refused = Ferryd({"user", "key", "add", "--root", root_, "alice", "-"}, {},
                        ReadFile(keys / "good.pub") + ReadFile(keys / "small.pub"));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("line 2: RSA keys need at least 2048 bits"), std::string::npos) << refused.err;
  refused = Ferryd({"user", "key", "add", "--root", root_, "alice", keys / "good"});  // the private key
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not an OpenSSH public key"), std::string::npos) << refused.err;
  refused = Ferryd({"user", "key", "add", "--root", root_, "alice", keys / "missing.pub"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("missing.pub"), std::string::npos) << refused.err;
  EXPECT_EQ(Ferryd({"user", "key", "list", "--root", root_, "alice"}).out, "");

  refused = Ferryd({"user", "key", "add", "--root", root_, "nobody", keys / "good.pub"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("no such user 'nobody'"), std::string::npos) << refused.err;
  refused = Ferryd({"user", "key", "del", "--root", root_, "alice", "not-a-fingerprint"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("is not a key fingerprint"), std::string::npos) << refused.err;
}

TEST_F(AdminIntegration, UsersAreAddedListedAndRemoved) {
  EXPECT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "pw1\n").exit_code, 0);
  EXPECT_EQ(Ferryd({"user", "add", "--root", root_, "dave"}, {{"FERRY_PASSWORD", "pw2"}}).exit_code, 0);
  EXPECT_EQ(ModeOf(root_ + "/homes/carol"), 0700u);
  const auto listed = Ferryd({"user", "list", "--root", root_}).out;
  EXPECT_THAT(listed, ::testing::MatchesRegex("NAME +ACCESS +EXEC +QUOTA +MAX-FILES\n"
                                              "carol +read-write +no-exec +none +none\n"
                                              "dave +read-write +no-exec +none +none\n"));

  // Refused as EEXIST by the user store (UserStore.AddingAnExistingUserFailsWithExists).
  const auto duplicate = Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "x\n");
  EXPECT_EQ(duplicate.exit_code, 1) << duplicate.err;
  const auto bad_name = Ferryd({"user", "add", "--root", root_, "--password-stdin", "../evil"}, {}, "x\n");
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_FALSE(Exists(root_ + "/evil"));

  // No password source and no terminal: an error, not a hang.
  const auto no_password = Ferryd({"user", "add", "--root", root_, "erin"}, {{"FERRY_PASSWORD", ""}});
  EXPECT_NE(no_password.exit_code, 0);
  EXPECT_FALSE(no_password.timed_out);

  EXPECT_EQ(Ferryd({"user", "del", "--root", root_, "dave"}).exit_code, 0);
  EXPECT_TRUE(Exists(root_ + "/homes/dave"));  // kept without --remove-home
  EXPECT_EQ(Ferryd({"user", "del", "--root", root_, "--remove-home", "carol"}).exit_code, 0);
  EXPECT_FALSE(Exists(root_ + "/homes/carol"));
  EXPECT_EQ(Ferryd({"user", "list", "--root", root_}).out, "");
  EXPECT_NE(Ferryd({"user", "del", "--root", root_, "nobody"}).exit_code, 0);
}

TEST_F(AdminIntegration, ADatabaseThatFailsIsReportedNotTakenForNoUsers) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "pw\n").exit_code, 0);
  // Break the users table as a damaged or foreign database would: the file opens, every query of it fails.
  const auto exec_sql = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((root_ + "/ferry.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  };
  ASSERT_NO_FATAL_FAILURE(exec_sql("ALTER TABLE users RENAME TO users_elsewhere"));

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"user", "list", "--root", root_},
        std::vector<std::string>{"user", "passwd", "--root", root_, "--password-stdin", "carol"},
        std::vector<std::string>{"user", "add", "--root", root_, "--password-stdin", "dave"},
        std::vector<std::string>{"user", "set-quota", "--root", root_, "carol", "1M"}}) {
    const auto result = Ferryd(args, {}, "new\n");
    EXPECT_EQ(result.exit_code, 1) << args[1];
    EXPECT_EQ(result.out, "") << args[1];
    EXPECT_THAT(result.err, ::testing::HasSubstr("user database")) << args[1];
    EXPECT_THAT(result.err, ::testing::Not(::testing::HasSubstr("no such user"))) << args[1];
  }
  EXPECT_FALSE(Exists(root_ + "/homes/dave")) << "a failed add must leave no home behind";

  ASSERT_NO_FATAL_FAILURE(exec_sql("ALTER TABLE users_elsewhere RENAME TO users"));
  EXPECT_THAT(Ferryd({"user", "list", "--root", root_}).out,
              ::testing::MatchesRegex("NAME +ACCESS +EXEC +QUOTA +MAX-FILES\ncarol +read-write +no-exec +none +none\n"));
}

TEST_F(AdminIntegration, PasswordChangeTakesEffect) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "alice"}, {}, "old\n").exit_code, 0);
  ASSERT_EQ(Ferryd({"user", "passwd", "--root", root_, "--password-stdin", "alice"}, {}, "new\n").exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(Serve());
  EXPECT_NE(LoginAsAlice("old"), 0);
  EXPECT_EQ(LoginAsAlice("new"), 0);
}

TEST_F(AdminIntegration, PasswordChangedWhileServingStopsTheRememberedPasswordAtOnce) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "alice"}, {}, "old\n").exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(Serve());
  // Twice: the second login is answered from the server's verified-password cache.
  ASSERT_EQ(LoginAsAlice("old"), 0);
  ASSERT_EQ(LoginAsAlice("old"), 0);
  ASSERT_EQ(Ferryd({"user", "passwd", "--root", root_, "--password-stdin", "alice"}, {}, "new\n").exit_code, 0);
  EXPECT_NE(LoginAsAlice("old"), 0);
  EXPECT_EQ(LoginAsAlice("new"), 0);
  ASSERT_EQ(Ferryd({"user", "del", "--root", root_, "alice"}).exit_code, 0);
  EXPECT_NE(LoginAsAlice("new"), 0);
}

TEST_F(AdminIntegration, InvalidConfigIsRefusedNamingKeyAndLine) {
  WriteFile(root_ + "/ferryd.toml", "[server]\nthreads = 2\nlisen = \"127.0.0.1:0\"\n");
  const auto result = Ferryd({"serve", "--root", root_});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("server.lisen"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("line 3"), std::string::npos) << result.err;

  WriteFile(root_ + "/ferryd.toml", "[server]\nthreads = \"many\"\n");
  const auto wrong_type = Ferryd({"serve", "--root", root_});
  EXPECT_NE(wrong_type.exit_code, 0);
  EXPECT_NE(wrong_type.err.find("server.threads"), std::string::npos) << wrong_type.err;

  WriteFile(root_ + "/ferryd.toml", "[server\n");
  EXPECT_NE(Ferryd({"serve", "--root", root_}).exit_code, 0);
}

TEST_F(AdminIntegration, AFailedAddLeavesNoHomeAndAnOldHomeIsGivenOnlyWithAdoptHome) {
  // An empty password: refused before anything is made.
  const auto empty = Ferryd({"user", "add", "--root", root_, "--password-stdin", "bob"}, {}, "\n");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_EQ(empty.err, "ferryd: the password must not be empty\n");
  EXPECT_FALSE(Exists(root_ + "/homes/bob"));
  EXPECT_EQ(Ferryd({"user", "list", "--root", root_}).out, "");

  // The home of a removed user is not handed to the next user of that name unless asked.
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "pw1\n").exit_code, 0);
  WriteFile(root_ + "/homes/carol/old.txt", "left behind");
  ASSERT_EQ(Ferryd({"user", "del", "--root", root_, "carol"}).exit_code, 0);
  const auto again = Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "pw2\n");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, ::testing::HasSubstr("homes/carol exists already"));
  EXPECT_THAT(again.err, ::testing::HasSubstr("--adopt-home"));
  EXPECT_EQ(Ferryd({"user", "list", "--root", root_}).out, "");
  EXPECT_EQ(ReadFile(root_ + "/homes/carol/old.txt"), "left behind");
  const auto adopted = Ferryd({"user", "add", "--root", root_, "--password-stdin", "--adopt-home", "carol"}, {}, "pw2\n");
  EXPECT_EQ(adopted.exit_code, 0) << adopted.err;
  EXPECT_EQ(ReadFile(root_ + "/homes/carol/old.txt"), "left behind");

  // --adopt-home is for folders: a file in the home's place is refused, and left.
  WriteFile(root_ + "/homes/dave", "not a folder");
  const auto file = Ferryd({"user", "add", "--root", root_, "--password-stdin", "--adopt-home", "dave"}, {}, "pw\n");
  EXPECT_EQ(file.exit_code, 1);
  EXPECT_THAT(file.err, ::testing::HasSubstr("is not a folder"));
  EXPECT_EQ(ReadFile(root_ + "/homes/dave"), "not a folder");
}

TEST_F(AdminIntegration, QuotasAndPermissionsAreReportedAsSetAndAFlaglessSetPermIsAUsageError) {
  ASSERT_EQ(Ferryd({"user", "add", "--root", root_, "--password-stdin", "carol"}, {}, "pw1\n").exit_code, 0);
  EXPECT_EQ(Ferryd({"user", "set-quota", "--root", root_, "carol", "4G"}).out,
            "Quota of carol: 4.0 GiB, no file limit\n");
  EXPECT_EQ(Ferryd({"user", "set-quota", "--root", root_, "carol", "none", "--max-files", "10"}).out,
            "Quota of carol: no byte limit, 10 files\n");
  EXPECT_EQ(Ferryd({"user", "set-quota", "--root", root_, "carol", "--max-files", "none"}).out,
            "Quota of carol: none\n");

  const auto nothing = Ferryd({"user", "set-perm", "--root", root_, "carol"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_THAT(nothing.err, ::testing::StartsWith("ferryd user set-perm: give the permissions to set"));
  EXPECT_EQ(nothing.out, "");
  EXPECT_EQ(Ferryd({"user", "set-perm", "--root", root_, "carol", "--read-only", "--exec"}).out,
            "Permissions of carol: read-only, exec\n");
  EXPECT_EQ(Ferryd({"user", "set-perm", "--root", root_, "carol", "--no-exec"}).out,
            "Permissions of carol: read-only, no-exec\n");

  // passwd takes one name, and its usage says so.
  const auto help = Ferryd({"user", "passwd", "--help"});
  EXPECT_THAT(help.out, ::testing::HasSubstr("passwd [OPTIONS] NAME\n"));
  EXPECT_EQ(Ferryd({"user", "passwd", "--root", root_, "--password-stdin", "carol", "dave"}, {}, "x\n").exit_code, 2);
}

TEST_F(AdminIntegration, TheDataRootComesFromRootElseFerryRootAndUnknownOptionsComeFirst) {
  ASSERT_EQ(Ferryd({"user", "add", "--password-stdin", "carol"}, {{"FERRY_ROOT", root_}}, "pw1\n").exit_code, 0);
  EXPECT_TRUE(Exists(root_ + "/homes/carol"));
  EXPECT_THAT(Ferryd({"user", "list"}, {{"FERRY_ROOT", root_}}).out, ::testing::StartsWith("NAME"));
  // --root wins over the environment.
  EXPECT_THAT(Ferryd({"user", "list", "--root", root_}, {{"FERRY_ROOT", dir_ / "elsewhere"}}).out,
              ::testing::HasSubstr("carol"));
  const auto bogus = Ferryd({"serve", "--bogus"}, {{"FERRY_ROOT", dir_ / "elsewhere"}});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_THAT(bogus.err, ::testing::StartsWith("ferryd: The following argument was not expected: --bogus\n"));
  EXPECT_THAT(Ferryd({"serve", "--help"}).out, ::testing::HasSubstr("$FERRY_ROOT, else /var/lib/ferry"));
}

TEST_F(AdminIntegration, InitMakesMissingParentFolders) {
  const auto init = Ferryd({"init", dir_ / "a/b/root"});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  EXPECT_TRUE(Exists(dir_ / "a/b/root/ferry.db"));
  EXPECT_EQ(ModeOf(dir_ / "a/b/root"), 0700u);
}

// Run as root on a data root that belongs to the service's user, init and user act as that user: what they make is
// that user's, so the server running as it can use it, and a link planted in the data root leads nowhere root could
// write.
TEST_F(AdminIntegration, AsRootInitAndUserCommandsActAsTheDataRootsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  constexpr uid_t kOwner = 65534;  // nobody
  constexpr gid_t kGroup = 65534;
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);  // the owner must reach its data root, as in /var/lib
  const std::string root = dir_ / "service-root";
  ASSERT_EQ(::mkdir(root.c_str(), 0750), 0);
  ASSERT_EQ(::chown(root.c_str(), kOwner, kGroup), 0);
  const auto init = Ferryd({"init", root});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ASSERT_EQ(Ferryd({"user", "add", "--root", root, "--password-stdin", "carol"}, {}, "pw1\n").exit_code, 0);
  for (const std::string made : {"ferry.db", "ferryd.toml", "homes", "partials", "tls", "tls/key.pem",
                                 "ssh/host_ed25519_key", "homes/carol"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((root + "/" + made).c_str(), &st), 0) << made;
    EXPECT_EQ(st.st_uid, kOwner) << made;
    EXPECT_EQ(st.st_gid, kGroup) << made;
  }
  EXPECT_FALSE(Exists(root + "/ferry.db-wal"));
  // The data root's owner replaced homes/ by a link to a folder only root may write (a decoy this test made): the
  // new home is not made there.
  const std::string decoy = dir_ / "decoy";
  ASSERT_EQ(::mkdir(decoy.c_str(), 0755), 0);
  ASSERT_EQ(::rename((root + "/homes").c_str(), (root + "/homes-moved").c_str()), 0);
  ASSERT_EQ(::symlink(decoy.c_str(), (root + "/homes").c_str()), 0);
  const auto planted = Ferryd({"user", "add", "--root", root, "--password-stdin", "dave"}, {}, "pw2\n");
  EXPECT_EQ(planted.exit_code, 1);
  EXPECT_THAT(planted.err, ::testing::HasSubstr("ermission denied")) << planted.err;
  EXPECT_FALSE(Exists(decoy + "/dave"));
  // A data root of root's own stays root's.
  struct stat own {};
  ASSERT_EQ(::stat((root_ + "/ferry.db").c_str(), &own), 0);
  EXPECT_EQ(own.st_uid, ::geteuid());
}

TEST_F(AdminIntegration, ServeOnMissingDataRootExplains) {
  const auto result = Ferryd({"serve", "--root", dir_ / "nothing-here"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("ferryd init"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

using protocol::Json;

TEST(Permissions, ReadOnlyUserCanListAndDownloadButNotChangeAnything) {
  TestServerOptions options;
  options.users = {{"alice", "alice-secret"}};
  TestServer server(options);
  ASSERT_TRUE(server.started());
  const auto add = RunProcess({FerrydPath(), "user", "add", "--root", server.root(), "--read-only", "--password-stdin",
                               "reader"},
                              {}, "reader-secret\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server.root()}).out,
              ::testing::HasSubstr("reader"));
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server.root()}).out,
              ::testing::ContainsRegex("reader +read-only"));
  WriteFile(server.home("reader") + "/given.txt", "given");
  TempDir local;
  WriteFile(local / "new.txt", "new");
  auto reader = [&](const std::vector<std::string>& args) {
    return server.Client("reader", "reader-secret", args);
  };
  EXPECT_EQ(reader({"ls"}).out, "given.txt\n");
  EXPECT_EQ(reader({"-q", "get", "given.txt", local / "copy.txt"}).exit_code, 0);
  EXPECT_EQ(ReadFile(local / "copy.txt"), "given");
  for (const std::vector<std::string>& change :
       {std::vector<std::string>{"-q", "put", local / "new.txt"}, {"mkdir", "d"}, {"rm", "given.txt"},
        {"mv", "given.txt", "other.txt"}}) {
    const auto result = reader(change);
    EXPECT_EQ(result.exit_code, 1) << change[0] << ": " << result.err;
  }
  // The server refuses each of those requests with EPERM.
  RawClient raw(server.port());
  ASSERT_TRUE(raw.HelloAndLogin("reader", "reader-secret"));
  for (const Json& request :
       {PutHeader("new.txt", 3), Json{{"op", "mkdir"}, {"path", "d"}}, Json{{"op", "rm"}, {"path", "given.txt"}},
        Json{{"op", "mv"}, {"from", "given.txt"}, {"to", "other.txt"}}}) {
    const Json reply = raw.Call(request);
    EXPECT_EQ(reply.value("code", ""), "EPERM") << request.dump() << ": " << reply.dump();
  }
  EXPECT_FALSE(Exists(server.home("reader") + "/new.txt"));
  EXPECT_FALSE(Exists(server.home("reader") + "/d"));
  EXPECT_TRUE(Exists(server.home("reader") + "/given.txt"));
}

TEST(Permissions, ChangesApplyToSessionsAlreadyOpen) {
  TestServer server;
  ASSERT_TRUE(server.started());
  RawClient session(server.port());
  ASSERT_TRUE(session.HelloAndLogin("alice", "alice-secret"));
  EXPECT_TRUE(session.Call({{"op", "mkdir"}, {"path", "one"}}).value("ok", false));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), "alice", "--read-only"}).exit_code, 0);
  EXPECT_EQ(session.Call({{"op", "mkdir"}, {"path", "two"}}).value("code", ""), "EPERM");
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), "alice", "--read-write", "--exec"})
                .exit_code,
            0);
  EXPECT_TRUE(session.Call({{"op", "mkdir"}, {"path", "three"}}).value("ok", false));
  EXPECT_THAT(RunProcess({FerrydPath(), "user", "list", "--root", server.root()}).out,
              ::testing::ContainsRegex("alice +read-write +exec"));
  EXPECT_NE(RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), "nobody", "--exec"}).exit_code, 0);
  EXPECT_NE(RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), "alice", "--exec", "--no-exec"})
                .exit_code,
            0);
}

TEST(PartialSweep, AbandonedPartialUploadsAreRemovedAtStartAndFreshOnesKept) {
  TestServer server;
  ASSERT_TRUE(server.started());
  // One upload left behind long ago, one just now (both as a crashed upload would leave them).
  const std::string partials = server.root() + "/partials/alice";
  ::mkdir((server.root() + "/partials").c_str(), 0700);
  ::mkdir(partials.c_str(), 0700);
  WriteFile(partials + "/old.part", "old");
  WriteFile(partials + "/fresh.part", "fresh");
  const timespec long_ago[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (partials + "/old.part").c_str(), long_ago, 0), 0);
  server.Kill();
  server.Restart();
  ASSERT_TRUE(server.started());
  EXPECT_FALSE(Exists(partials + "/old.part"));
  EXPECT_TRUE(Exists(partials + "/fresh.part"));
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

bool AnswersNoop(RawClient& client) {
  const auto reply = client.Call({{"op", "noop"}});
  return !reply.is_null() && reply.value("ok", false);
}

// Removing a user ends their sessions on every protocol, as a changed permission or quota applies at once; a changed
// password ends the user's other sessions only with --logout. Other users' sessions go on.
TEST(SessionsOfChangedUsers, RemovingAUserEndsTheirSessionsOnEveryProtocol) {
  TestServerOptions options;
  options.ftp = true;
  options.sftp = true;
  options.config = "[ftp]\nrequire_tls = false\n";
  options.users = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
  TestServer server(options);
  ASSERT_TRUE(server.started());
  TempDir keys;
  ASSERT_EQ(RunProcess({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / "key"}).exit_code, 0);
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "key", "add", "--root", server.root(), "alice", keys / "key.pub"})
                .exit_code,
            0);

  RawClient ferry(server.port());
  ASSERT_TRUE(ferry.HelloAndLogin("alice", "alice-secret"));
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  // sftp waits for commands on its stdin, which stays open: only the server can end it.
  Subprocess sftp({"/usr/bin/sftp", "-b", "-", "-P", std::to_string(server.sftp_port()), "-F", "/dev/null", "-o",
                   "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + keys / "known_hosts", "-o",
                   "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", keys / "key", "alice@127.0.0.1"},
                  {{"HOME", keys.path()}});
  const std::string home = server.home("alice");
  // Logged in once the server's audit log says so (the sftp client prints nothing before a command).
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string audit = ReadFile(server.root() + "/audit.log");
        return audit.find("\"protocol\":\"sftp\"") != std::string::npos &&
               audit.find("\"event\":\"login\"") != std::string::npos;
      },
      std::chrono::seconds(20)));
  RawClient bob(server.port());
  ASSERT_TRUE(bob.HelloAndLogin("bob", "bob-secret"));

  const auto removed = RunProcess({FerrydPath(), "user", "del", "--root", server.root(), "alice"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_TRUE(ferry.WaitClosed());
  EXPECT_TRUE(ftp.Closed());
  // ssh, under sftp, says so at once; sftp itself notices at its next command.
  EXPECT_TRUE(sftp.WaitForStderrLine("closed by remote host", std::chrono::seconds(20))) << sftp.stderr_so_far();
  sftp.CloseStdin("pwd\n");
  EXPECT_FALSE(sftp.Wait(std::chrono::seconds(20)).timed_out);
  EXPECT_TRUE(AnswersNoop(bob));
  // Logging in again is refused, as for any unknown user.
  RawClient again(server.port());
  EXPECT_FALSE(again.HelloAndLogin("alice", "alice-secret"));
}

TEST(SessionsOfChangedUsers, PasswdWithLogoutEndsTheSessionsOpenThenAndNoLaterOnes) {
  TestServerOptions options;
  options.users = {{"alice", "alice-secret"}, {"bob", "bob-secret"}, {"dave", "dave-secret"}};
  TestServer server(options);
  ASSERT_TRUE(server.started());
  const auto passwd = [&](const std::string& password, bool logout) {
    std::vector<std::string> argv = {FerrydPath(), "user", "passwd", "--root", server.root(), "--password-stdin"};
    if (logout) argv.push_back("--logout");
    argv.push_back("alice");
    return RunProcess(argv, {}, password + "\n");
  };

  // Without --logout, an open session goes on (its login was good).
  RawClient kept(server.port());
  ASSERT_TRUE(kept.HelloAndLogin("alice", "alice-secret"));
  ASSERT_EQ(passwd("second-secret", false).exit_code, 0);
  RawClient first(server.port());
  ASSERT_TRUE(first.HelloAndLogin("alice", "second-secret"));

  const auto changed = passwd("third-secret", true);
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out, "Changed password of alice; their open sessions end\n");
  EXPECT_TRUE(kept.WaitClosed());
  EXPECT_TRUE(first.WaitClosed());

  // A session that logs in afterwards stays: once dave's session has been ended (the server looked at the users
  // after this login), alice's new session still answers.
  RawClient later(server.port());
  ASSERT_TRUE(later.HelloAndLogin("alice", "third-secret"));
  RawClient dave(server.port());
  ASSERT_TRUE(dave.HelloAndLogin("dave", "dave-secret"));
  ASSERT_EQ(RunProcess({FerrydPath(), "user", "del", "--root", server.root(), "dave"}).exit_code, 0);
  EXPECT_TRUE(dave.WaitClosed());
  EXPECT_TRUE(AnswersNoop(later));
}

}  // namespace
}  // namespace ferry::testing
