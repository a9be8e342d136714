// The SSH front end against OpenSSH's own clients (sftp, scp, ssh), with key and password logins.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/audit_lines.h"
#include "support/process_probe.h"
#include "support/raw_client.h"
#include "support/subprocess.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

class SftpIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServerOptions options;
    options.sftp = true;
    options.config = config_;
    options.users = {{"alice", "alice-secret"}, {"bob", "bob-secret"}, {"reader", "reader-secret"}};
    server_ = std::make_unique<TestServer>(options);
    ASSERT_TRUE(server_->started());
    ASSERT_NE(server_->sftp_port(), 0);
    ASSERT_EQ(Keygen("alice_key").exit_code, 0);
    ASSERT_EQ(Ferryd({"user", "key", "add", "--root", server_->root(), "alice", keys_ / "alice_key.pub"}).exit_code, 0);
  }

  ProcessResult Keygen(const std::string& name) {
    return RunProcess({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", keys_ / name});
  }
  ProcessResult Ferryd(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv = {FerrydPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, {}, input);
  }
  // Options every OpenSSH client gets: the test's own known_hosts, no config of the machine's user, no agent.
  std::vector<std::string> CommonOptions(const std::string& key) const {
    std::vector<std::string> options = {"-F", "/dev/null", "-o", "StrictHostKeyChecking=accept-new", "-o",
                                        "UserKnownHostsFile=" + keys_ / "known_hosts", "-o", "IdentitiesOnly=yes",
                                        "-o", "ConnectTimeout=20"};
    if (!key.empty()) options.insert(options.end(), {"-o", "BatchMode=yes", "-i", keys_ / key});
    return options;
  }
  // `sftp -b -` with `commands` as user `user`, logged in with `key`, in `cwd`.
  ProcessResult Sftp(const std::string& commands, const std::string& key = "alice_key", const std::string& user = "alice") {
    std::vector<std::string> argv = {"/usr/bin/sftp", "-b", "-", "-P", std::to_string(server_->sftp_port())};
    const auto options = CommonOptions(key);
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(user + "@127.0.0.1");
    return RunInWork(argv, commands);
  }
  ProcessResult Scp(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/scp", "-q", "-P", std::to_string(server_->sftp_port())};
    const auto options = CommonOptions("alice_key");
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunInWork(argv, "");
  }
  // Runs in work_ (relative local paths land there), through /bin/sh so the folder can be changed.
  ProcessResult RunInWork(const std::vector<std::string>& argv, const std::string& input) {
    std::string command = "cd '" + work_.path() + "' && exec";
    for (const auto& arg : argv) command += " '" + arg + "'";
    return RunProcess({"/bin/sh", "-c", command}, {{"HOME", keys_.path()}}, input, std::chrono::seconds(60));
  }

  // The ssh command line to this server with CommonOptions(key), then `rest` (options, the target, the command).
  std::vector<std::string> SshArgv(const std::vector<std::string>& rest, const std::string& key = "alice_key") const {
    std::vector<std::string> argv = {"/usr/bin/ssh", "-p", std::to_string(server_->sftp_port())};
    const auto options = CommonOptions(key);
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  // `ssh alice@host COMMAND...` with alice's key, `input` on its stdin.
  ProcessResult Ssh(const std::vector<std::string>& command, const std::string& input = "", const std::string& user = "alice") {
    std::vector<std::string> argv = SshArgv({user + "@127.0.0.1"});
    argv.insert(argv.end(), command.begin(), command.end());
    return RunProcess(argv, {{"HOME", keys_.path()}}, input, std::chrono::seconds(60));
  }
  void GrantExec(const std::string& user) {
    const auto result = Ferryd({"user", "set-perm", "--root", server_->root(), user, "--exec"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  // The ssh command rsync -e runs, with the test's options.
  std::string RsyncShell() const {
    std::string shell = "/usr/bin/ssh -p " + std::to_string(server_->sftp_port());
    for (const auto& option : CommonOptions("alice_key")) shell += " '" + option + "'";
    return shell;
  }

  std::string config_;  // the server's ferryd.toml, set before SetUp
  TempDir keys_;
  TempDir work_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(SftpIntegration, OpenSshSftpPutsGetsListsRenamesAndRemovesWithAKey) {
  const std::string content = RandomBytes(3 * 1024 * 1024 + 17, 1);
  WriteFile(work_ / "up.bin", content);
  const auto result = Sftp(
      "pwd\nput up.bin\nls -l\nget up.bin down.bin\nmkdir docs\nrename up.bin docs/moved.bin\nls -l docs\n"
      "chmod 600 docs/moved.bin\ndf\n");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("Remote working directory: /"), std::string::npos) << result.out;
  EXPECT_THAT(result.out, ::testing::HasSubstr("-rw-r--r--    1 alice    alice     3145745"));
  EXPECT_EQ(ReadFile(work_ / "down.bin"), content);
  EXPECT_EQ(ReadFile(server_->home("alice") + "/docs/moved.bin"), content);
  EXPECT_EQ(ModeOf(server_->home("alice") + "/docs/moved.bin"), 0600u);
  EXPECT_FALSE(Exists(server_->home("alice") + "/up.bin"));

  const auto removed = Sftp("rm docs/moved.bin\nrmdir docs\n");
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(Exists(server_->home("alice") + "/docs"));

  // Audited as SFTP, with the key that logged in.
  const auto lines = ReadAuditLines(server_->root() + "/audit.log");
  bool login = false, upload = false;
  for (const auto& line : lines) {
    if (line["event"] == "login" && line["protocol"] == "sftp" && line["method"] == "publickey") {
      login = line["key"].get<std::string>().starts_with("SHA256:");
    }
    if (line["event"] == "upload" && line["protocol"] == "sftp" && line["path"] == "/up.bin") upload = true;
  }
  EXPECT_TRUE(login);
  EXPECT_TRUE(upload);
}

TEST_F(SftpIntegration, ReputAndRegetContinueInterruptedTransfers) {
  const std::string content = RandomBytes(2 * 1024 * 1024 + 5, 4);
  WriteFile(work_ / "whole.bin", content);
  WriteFile(server_->home("alice") + "/whole.bin", content.substr(0, 700000));  // an upload cut short
  WriteFile(server_->home("alice") + "/source.bin", content);
  WriteFile(work_ / "partial.bin", content.substr(0, 12345));  // a download cut short
  const auto result = Sftp("reput whole.bin\nreget source.bin partial.bin\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/whole.bin"), content);
  EXPECT_EQ(ReadFile(work_ / "partial.bin"), content);
}

TEST_F(SftpIntegration, ScpCopiesFilesAndTreesBothWays) {
  const std::string content = RandomBytes(1024 * 1024 + 3, 2);
  WriteFile(work_ / "one.bin", content);
  ASSERT_EQ(::mkdir((work_ / "tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((work_ / "tree/sub").c_str(), 0755), 0);
  for (int i = 0; i < 20; ++i) WriteFile(work_ / ("tree/sub/f" + std::to_string(i)), "file " + std::to_string(i));

  auto result = Scp({"one.bin", "alice@127.0.0.1:copy.bin"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/copy.bin"), content);
  result = Scp({"alice@127.0.0.1:copy.bin", "back.bin"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(work_ / "back.bin"), content);

  result = Scp({"-r", "tree", "alice@127.0.0.1:"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/tree/sub/f7"), "file 7");
  result = Scp({"-r", "alice@127.0.0.1:tree", "tree2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ReadFile(work_ / ("tree2/sub/f" + std::to_string(i))), "file " + std::to_string(i));
}

// The base64 SHA-256 of the server's host key, as curl's --hostpubsha256 takes it.
std::string HostKeySha256(const std::string& root) {
  const auto printed = RunProcess({"/usr/bin/ssh-keygen", "-lf", root + "/ssh/host_ed25519_key.pub"});
  const auto at = printed.out.find("SHA256:");
  return at == std::string::npos ? "" : printed.out.substr(at + 7, 43);
}

TEST_F(SftpIntegration, CurlUploadsListsAndDownloadsWithPasswordOrKeyCheckingTheHostKey) {
  const std::string content = RandomBytes(700000, 5);
  WriteFile(work_ / "c.bin", content);
  const std::string base = "sftp://127.0.0.1:" + std::to_string(server_->sftp_port());
  const std::string host_key = HostKeySha256(server_->root());
  ASSERT_EQ(host_key.size(), 43u);
  const auto curl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--hostpubsha256", host_key};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunInWork(argv, "");
  };
  auto result = curl({"-u", "alice:alice-secret", "-T", "c.bin", base + "/~/c.bin"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/c.bin"), content);
  result = curl({"-u", "alice:alice-secret", "-o", "back.bin", base + "/c.bin"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(work_ / "back.bin"), content);
  result = curl({"-u", "alice:", "--key", keys_ / "alice_key", "--pubkey", keys_ / "alice_key.pub", base + "/"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr(" c.bin\n"));
  // A host key other than the data root's is refused by the client.
  result = RunInWork({"/usr/bin/curl", "-sS", "--hostpubsha256", std::string(43, 'A'), "-u", "alice:alice-secret",
                      base + "/c.bin"},
                     "");
  EXPECT_NE(result.exit_code, 0);
}

TEST_F(SftpIntegration, RcloneCopiesSyncsAndChecksATreeOf1000Files) {
  const std::string tree = work_ / "tree";
  ASSERT_EQ(::mkdir(tree.c_str(), 0755), 0);
  for (int d = 0; d < 10; ++d) {
    const std::string folder = tree + "/d" + std::to_string(d);
    ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
    for (int f = 0; f < 100; ++f) WriteFile(folder + "/f" + std::to_string(f), "file " + std::to_string(d * 100 + f));
  }
  const std::map<std::string, std::string> env = {
      {"HOME", keys_.path()},
      {"RCLONE_CONFIG", keys_ / "rclone.conf"},
      {"RCLONE_CONFIG_FERRY_TYPE", "sftp"},
      {"RCLONE_CONFIG_FERRY_HOST", "127.0.0.1"},
      {"RCLONE_CONFIG_FERRY_PORT", std::to_string(server_->sftp_port())},
      {"RCLONE_CONFIG_FERRY_USER", "alice"},
      {"RCLONE_CONFIG_FERRY_KEY_FILE", keys_ / "alice_key"},
      {"RCLONE_CONFIG_FERRY_SHELL_TYPE", "none"},
      {"RCLONE_CONFIG_FERRY_MD5SUM_COMMAND", "none"},
      {"RCLONE_CONFIG_FERRY_SHA1SUM_COMMAND", "none"},
  };
  const auto rclone = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/rclone"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, env, "", std::chrono::seconds(120));
  };
  auto result = rclone({"copy", tree, "ferry:tree"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/tree/d7/f42"), "file 742");
  WriteFile(tree + "/d3/f5", "changed");
  ASSERT_EQ(::unlink((tree + "/d4/f6").c_str()), 0);
  result = rclone({"sync", tree, "ferry:tree"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(server_->home("alice") + "/tree/d3/f5"), "changed");
  EXPECT_FALSE(Exists(server_->home("alice") + "/tree/d4/f6"));
  result = rclone({"check", tree, "ferry:tree"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, ::testing::HasSubstr("999 matching files"));
  // A difference made on the server is found.
  WriteFile(server_->home("alice") + "/tree/d0/f0", "different length");
  result = rclone({"check", tree, "ferry:tree"});
  EXPECT_NE(result.exit_code, 0);
}

TEST_F(SftpIntegration, AParamikoScriptLogsInWithAPasswordAndMovesFiles) {
  WriteFile(work_ / "p.txt", "from paramiko");
  const std::string script = R"(
import base64, hashlib, sys, paramiko
port = int(sys.argv[1])
transport = paramiko.Transport(("127.0.0.1", port))
transport.connect(username="alice", password="alice-secret")
key = transport.get_remote_server_key()
print("host", base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("="))
sftp = paramiko.SFTPClient.from_transport(transport)
sftp.put("p.txt", "p.txt")
sftp.mkdir("pdir")
sftp.rename("p.txt", "pdir/q.txt")
print("list", sorted(sftp.listdir("pdir")))
print("size", sftp.stat("pdir/q.txt").st_size)
with sftp.open("pdir/q.txt") as f:
    print("read", f.read().decode())
sftp.get("pdir/q.txt", "q.txt")
sftp.close()
transport.close()
)";
  WriteFile(work_ / "script.py", script);
  const auto result = RunInWork({"/usr/bin/python3", "script.py", std::to_string(server_->sftp_port())}, "");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("host " + HostKeySha256(server_->root())));
  EXPECT_THAT(result.out, ::testing::HasSubstr("list ['q.txt']"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("size 13"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("read from paramiko"));
  EXPECT_EQ(ReadFile(work_ / "q.txt"), "from paramiko");
  EXPECT_EQ(ReadFile(server_->home("alice") + "/pdir/q.txt"), "from paramiko");
}

// The server keeps at most a part of a large window in flight; clients that adjust their window early (OpenSSH) and
// ones that wait until much of it is used (paramiko with a 16 MiB window adjusts after 1.6 MiB, past that part) both
// get every byte.
TEST_F(SftpIntegration, LargeDownloadsArriveWholeHoweverTheClientAdjustsItsWindow) {
  const std::string content = RandomBytes(24 * 1024 * 1024 + 5, 9);
  WriteFile(server_->home("alice") + "/large.bin", content);
  const auto openssh = Sftp("get large.bin openssh.bin\n");
  ASSERT_EQ(openssh.exit_code, 0) << openssh.err;
  EXPECT_TRUE(ReadFile(work_ / "openssh.bin") == content);

  const std::string script = R"(
import sys, paramiko
transport = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
transport.connect(username="alice", password="alice-secret")
sftp = paramiko.SFTPClient.from_transport(transport, window_size=16 * 1024 * 1024)
sftp.get("large.bin", "paramiko.bin")
sftp.close()
transport.close()
)";
  WriteFile(work_ / "window.py", script);
  const auto paramiko = RunInWork({"/usr/bin/python3", "window.py", std::to_string(server_->sftp_port())}, "");
  ASSERT_EQ(paramiko.exit_code, 0) << paramiko.err;
  EXPECT_TRUE(ReadFile(work_ / "paramiko.bin") == content);
}

TEST_F(SftpIntegration, PasswordLoginsWorkAndShellsCommandsAndLegacyScpAreRefusedClearly) {
  const std::string askpass = keys_ / "askpass.sh";
  WriteFile(askpass, "#!/bin/sh\necho alice-secret\n");
  ASSERT_EQ(::chmod(askpass.c_str(), 0700), 0);
  const std::vector<std::string> argv = SshArgv(
      {"-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "alice@127.0.0.1", "ls"}, "");
  const auto result = RunProcess(argv, {{"HOME", keys_.path()}, {"SSH_ASKPASS", askpass},
                                        {"SSH_ASKPASS_REQUIRE", "force"}, {"DISPLAY", ":0"}},
                                 "", std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.err, ::testing::HasSubstr("ferryd: this account may not run programs on the server"));
  const auto lines = ReadAuditLines(server_->root() + "/audit.log");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["method"], "password");
  EXPECT_EQ(lines.front()["result"], "ok");

  WriteFile(work_ / "f.txt", "x");
  const auto legacy = Scp({"-O", "f.txt", "alice@127.0.0.1:f.txt"});
  EXPECT_NE(legacy.exit_code, 0);
  EXPECT_THAT(legacy.err, ::testing::HasSubstr("legacy scp (scp -O) is not served"));
  EXPECT_FALSE(Exists(server_->home("alice") + "/f.txt"));
}

TEST_F(SftpIntegration, ForwardingIsRefused) {
  const auto ssh = [&](const std::vector<std::string>& extra) {
    const std::vector<std::string> argv = SshArgv(extra);
    return RunProcess(argv, {{"HOME", keys_.path()}}, "", std::chrono::seconds(60));
  };
  // Remote forwarding (a global request), and a direct-tcpip channel (what -L and -D open per connection).
  auto result = ssh({"-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9", "alice@127.0.0.1"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, ::testing::HasSubstr("remote port forwarding failed"));
  result = ssh({"-W", "127.0.0.1:9", "alice@127.0.0.1"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, ::testing::HasSubstr("administratively prohibited"));

  // Agent forwarding and environment variables (requests OpenSSH sends without asking for a reply): a program of an
  // exec user sees neither, though a real agent runs on the client's side.
  GrantExec("alice");
  const std::string agent_socket = keys_ / "agent.sock";
  Subprocess agent({"/usr/bin/ssh-agent", "-D", "-a", agent_socket});
  ASSERT_TRUE(WaitUntil([&] { return Exists(agent_socket); }, std::chrono::seconds(20)));
  const std::vector<std::string> argv = SshArgv({"-A", "-o", "SetEnv=FERRY_PROBE=sent", "alice@127.0.0.1", "env"});
  result = RunProcess(argv, {{"HOME", keys_.path()}, {"SSH_AUTH_SOCK", agent_socket}}, "", std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("HOME="));
  EXPECT_THAT(result.out, ::testing::Not(::testing::HasSubstr("SSH_AUTH_SOCK")));
  EXPECT_THAT(result.out, ::testing::Not(::testing::HasSubstr("FERRY_PROBE")));
}

TEST_F(SftpIntegration, AWrongKeyAndAnotherUsersKeyAreRefused) {
  ASSERT_EQ(Keygen("stranger_key").exit_code, 0);
  auto result = Sftp("pwd\n", "stranger_key");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, ::testing::HasSubstr("Permission denied"));
  // alice's key does not log in as bob.
  result = Sftp("pwd\n", "alice_key", "bob");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, ::testing::HasSubstr("Permission denied"));
  // A removed key no longer logs in.
  const auto listed = Ferryd({"user", "key", "list", "--root", server_->root(), "alice"});
  const std::string fingerprint = listed.out.substr(listed.out.find("SHA256:"), 50);
  ASSERT_EQ(Ferryd({"user", "key", "del", "--root", server_->root(), "alice", fingerprint}).exit_code, 0);
  result = Sftp("pwd\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, ::testing::HasSubstr("Permission denied"));
}

TEST_F(SftpIntegration, TheHostKeyClientsRecordIsTheDataRootsAsSshKeygenPrintsIt) {
  ASSERT_EQ(Sftp("pwd\n").exit_code, 0);
  auto recorded = RunProcess({"/usr/bin/ssh-keygen", "-lf", keys_ / "known_hosts"});
  auto own = RunProcess({"/usr/bin/ssh-keygen", "-lf", server_->root() + "/ssh/host_ed25519_key.pub"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const auto fingerprint = [](const std::string& line) { return line.substr(line.find("SHA256:"), 50); };
  EXPECT_EQ(fingerprint(recorded.out), fingerprint(own.out));
  EXPECT_THAT(server_->process().stderr_so_far(),
              ::testing::HasSubstr("SSH host key 256 " + fingerprint(own.out)));
}

TEST_F(SftpIntegration, PathsStayInsideTheHome) {
  // A decoy outside the home, made by the test, reached by a link inside it: never served.
  TempDir decoy;
  WriteFile(decoy / "secret.txt", "decoy");
  ASSERT_EQ(::symlink(decoy.path().c_str(), (server_->home("alice") + "/out").c_str()), 0);
  WriteFile(server_->home("alice") + "/mine.txt", "mine");
  const auto result = Sftp("-get ../../../../../../etc/hostname a\n-get out/secret.txt b\n-ls out\n"
                           "-put " + work_ / "nothing" + " ../escape.txt\nget mine.txt c\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(Exists(work_ / "b"));
  EXPECT_EQ(ReadFile(work_ / "c"), "mine");
  EXPECT_FALSE(Exists(server_->root() + "/homes/escape.txt"));
  EXPECT_THAT(result.err, ::testing::Not(::testing::HasSubstr("decoy")));
}

TEST_F(SftpIntegration, AnUploadPastTheQuotaFailsAndLeavesNothing) {
  ASSERT_EQ(Ferryd({"user", "set-quota", "--root", server_->root(), "alice", "1M"}).exit_code, 0);
  WriteFile(work_ / "big.bin", RandomBytes(3 * 1024 * 1024, 3));
  const auto result = Sftp("put big.bin\n");
  EXPECT_NE(result.exit_code, 0);
  // OpenSSH's sftp shows only the status code's name; the message with the quota goes to clients that show it.
  EXPECT_THAT(result.err, ::testing::HasSubstr("write remote \"/big.bin\": Failure"));
  EXPECT_FALSE(Exists(server_->home("alice") + "/big.bin"));
  EXPECT_THAT(Names(server_->root() + "/partials/alice"), ::testing::IsEmpty());
}

TEST_F(SftpIntegration, AReadOnlyUserCanDownloadButNotChangeAnything) {
  ASSERT_EQ(Ferryd({"user", "set-perm", "--root", server_->root(), "alice", "--read-only"}).exit_code, 0);
  WriteFile(server_->home("alice") + "/keep.txt", "keep");
  WriteFile(work_ / "new.txt", "new");
  const auto result = Sftp("get keep.txt got.txt\n-put new.txt\n-rm keep.txt\n-mkdir d\n-rename keep.txt k2\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(work_ / "got.txt"), "keep");
  EXPECT_FALSE(Exists(server_->home("alice") + "/new.txt"));
  EXPECT_FALSE(Exists(server_->home("alice") + "/d"));
  EXPECT_EQ(ReadFile(server_->home("alice") + "/keep.txt"), "keep");
  for (const char* refused : {"dest open \"/new.txt\": Permission denied", "remote delete /keep.txt: Permission denied",
                              "remote mkdir \"/d\": Permission denied",
                              "remote rename \"/keep.txt\" to \"/k2\": Permission denied"}) {
    EXPECT_THAT(result.err, ::testing::HasSubstr(refused));
  }
}

TEST_F(SftpIntegration, AnExecUserRunsCommandsWithTheirInputOutputAndExitStatus) {
  // Without the exec permission: refused, and audited.
  auto result = Ssh({"echo", "hi"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, ::testing::HasSubstr("ferryd: this account may not run programs on the server"));
  EXPECT_EQ(result.out, "");

  GrantExec("alice");
  result = Ssh({"echo", "hello", "world"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hello world\n");
  // stdin reaches the program whole (more than the pipes and windows hold at once), and its output comes back.
  const std::string text = RandomBytes(3 * 1024 * 1024 + 11, 9);
  result = Ssh({"cat"}, text);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, text);
  // The exit status, stderr apart from stdout, and words split as a shell would but run without one.
  result = Ssh({"sh", "-c", "'echo out; echo err >&2; exit 3'"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
  result = Ssh({"ls", "/no-such-thing"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, ::testing::HasSubstr("No such file or directory"));
  // A program that does not exist: as a shell says it, status 127.
  result = Ssh({"no-such-program-here", "x"});
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_EQ(result.err, "ferryd: no-such-program-here: command not found\r\n");
  result = Ssh({"ls", "|", "wc"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, ::testing::HasSubstr("ferryd: '|' needs a shell, and commands here run without one"));
  // The program works in the home: what it writes is there.
  ASSERT_EQ(Ssh({"sh", "-c", "'echo made > made.txt'"}).exit_code, 0);
  EXPECT_EQ(ReadFile(server_->home("alice") + "/made.txt"), "made\n");

  bool refused = false, ran = false;
  for (const auto& line : ReadAuditLines(server_->root() + "/audit.log")) {
    if (line["event"] != "exec" || line["protocol"] != "sftp") continue;
    if (line["result"] == "EPERM" && line["command"] == nlohmann::json({"echo", "hi"})) refused = true;
    if (line["result"] == "ok" && line["command"] == nlohmann::json({"echo", "hello", "world"})) {
      ran = line["exit_status"] == 0;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(ran);
}

TEST_F(SftpIntegration, RsyncOverSshCopiesATreeBothWaysForAnExecUser) {
  GrantExec("alice");
  ASSERT_EQ(::mkdir((work_ / "tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((work_ / "tree/sub").c_str(), 0755), 0);
  for (int i = 0; i < 100; ++i) WriteFile(work_ / ("tree/sub/f" + std::to_string(i)), RandomBytes(100 * i + 1, i));
  WriteFile(work_ / "tree/big.bin", RandomBytes(5 * 1024 * 1024, 77));
  ASSERT_EQ(::symlink("sub/f1", (work_ / "tree/link").c_str()), 0);
  if (::geteuid() == 0) {
    // Files of some other owner, as a user's own files are to a server running as root: rsync -a in the sandbox
    // (not root there) keeps its own ownership instead of failing to give them away.
    for (int i = 0; i < 100; ++i) ASSERT_EQ(::chown((work_ / ("tree/sub/f" + std::to_string(i))).c_str(), 4242, 4242), 0);
  }
  const auto rsync = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/rsync", "-e", RsyncShell()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunInWork(argv, "");
  };
  auto result = rsync({"-a", "tree/", "alice@127.0.0.1:tree/"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string home = server_->home("alice");
  EXPECT_EQ(ReadFile(home + "/tree/big.bin"), ReadFile(work_ / "tree/big.bin"));
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ReadFile(home + "/tree/sub/f" + std::to_string(i)), RandomBytes(100 * i + 1, i)) << i;
  }
  char target[64] = {};
  ASSERT_GT(::readlink((home + "/tree/link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "sub/f1");

  // Again after one change: only that file goes.
  WriteFile(work_ / "tree/sub/f5", "changed");
  result = rsync({"-ai", "tree/", "alice@127.0.0.1:tree/"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("sub/f5"));
  EXPECT_THAT(result.out, ::testing::Not(::testing::HasSubstr("big.bin")));
  EXPECT_EQ(ReadFile(home + "/tree/sub/f5"), "changed");

  // And back down.
  result = rsync({"-a", "alice@127.0.0.1:tree/", "down/"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(work_ / "down/big.bin"), ReadFile(work_ / "tree/big.bin"));
  EXPECT_EQ(ReadFile(work_ / "down/sub/f5"), "changed");
  EXPECT_EQ(ReadFile(work_ / "down/sub/f99"), RandomBytes(9901, 99));
}

TEST_F(SftpIntegration, AProgramEndsWithTheConnectionThatStartedIt) {
  GrantExec("alice");
  const std::vector<std::string> argv = SshArgv({"alice@127.0.0.1", "sh", "-c", "'echo started >&2; exec sleep 301'"});
  Subprocess ssh(argv, {{"HOME", keys_.path()}});
  ASSERT_TRUE(ssh.WaitForStderrLine("started", std::chrono::seconds(30)));
  ssh.Signal(SIGKILL);
  ssh.Wait(std::chrono::seconds(10));
  // The server notices the connection is gone, kills the program and records why (bounded wait).
  bool recorded = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!recorded && std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : ReadAuditLines(server_->root() + "/audit.log")) {
      if (line["event"] == "exec" && line.value("stopped", "") == "disconnected") recorded = true;
    }
    if (!recorded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(recorded);
}

// On SIGTERM an idle SSH session is disconnected at once with the reason; one with a file open may finish it (nothing
// new is opened or changed meanwhile) and is disconnected the same way once it has closed it; a running program is
// stopped, saying why. The server is done before its grace period is over.
TEST_F(SftpIntegration, AShutdownLetsOpenFilesFinishStopsProgramsAndTellsEveryClientWhy) {
  GrantExec("alice");
  const std::string script = R"(
import logging, sys, time, paramiko
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
port = int(sys.argv[1])
def connect():
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.connect(username="alice", password="alice-secret")
    return transport, paramiko.SFTPClient.from_transport(transport)
def ended(transport):
    deadline = time.time() + 20
    while transport.is_active() and time.time() < deadline:
        time.sleep(0.02)
    return not transport.is_active()
idle_transport, idle = connect()
busy_transport, busy = connect()
upload = busy.open("up.bin", "wb")
upload.write(b"a" * 65536)
upload.flush()
print("UPLOAD-OPEN", file=sys.stderr, flush=True)
sys.stdin.read()  # the server has been told to stop
print("idle ended", ended(idle_transport), flush=True)
try:
    busy.open("other.bin", "wb")
    print("other opened", flush=True)
except IOError as error:
    print("other refused:", error, flush=True)
upload.write(b"b" * 65536)
upload.close()
print("upload closed", flush=True)
print("busy ended", ended(busy_transport), flush=True)
)";
  WriteFile(work_ / "shutdown.py", script);
  Subprocess clients({"/usr/bin/python3", work_ / "shutdown.py", std::to_string(server_->sftp_port())});
  ASSERT_TRUE(clients.WaitForStderrLine("UPLOAD-OPEN", std::chrono::seconds(30))) << clients.stderr_so_far();
  const std::vector<std::string> argv = SshArgv({"alice@127.0.0.1", "sh", "-c", "'echo started >&2; exec sleep 302'"});
  Subprocess program(argv, {{"HOME", keys_.path()}});
  ASSERT_TRUE(program.WaitForStderrLine("started", std::chrono::seconds(30)));

  server_->process().Signal(SIGTERM);
  ASSERT_TRUE(server_->process().WaitForStderrLine("shutting down", std::chrono::seconds(20)));
  clients.CloseStdin();
  const auto result = clients.Wait(std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("idle ended True"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("other refused: the server is shutting down"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("upload closed"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("busy ended True"));
  // Both connections were told why (paramiko logs the disconnect message).
  std::size_t told = 0;
  for (std::size_t at = 0; (at = result.err.find("(code 11): the server is shutting down", at)) != std::string::npos;
       ++at) {
    ++told;
  }
  EXPECT_EQ(told, 2u) << result.err;
  EXPECT_TRUE(ReadFile(server_->home("alice") + "/up.bin") == std::string(65536, 'a') + std::string(65536, 'b'));
  EXPECT_FALSE(Exists(server_->home("alice") + "/other.bin"));

  const auto ended = program.Wait(std::chrono::seconds(30));
  EXPECT_NE(ended.exit_code, 0);
  EXPECT_THAT(ended.err, ::testing::HasSubstr("ferryd: the program was stopped: the server is shutting down"));
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 302") == 0; }));
  const auto stopped = server_->process().Wait(std::chrono::seconds(60));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(stopped.err.find("grace period over"), std::string::npos) << stopped.err;
}

// What SFTP itself refuses (RENAME onto an existing name, O_EXCL onto one, an open without O_CREAT of none, a new size
// in SETSTAT) is refused by the file service, which audits each attempt like any other refused change.
TEST_F(SftpIntegration, RefusalsOfSftpsOwnRulesAreAuditedLikeAnyOther) {
  const std::string script = R"(
import sys, paramiko
transport = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
transport.connect(username="alice", password="alice-secret")
sftp = paramiko.SFTPClient.from_transport(transport)
for name in ("a.txt", "b.txt"):
    with sftp.open(name, "w") as f:
        f.write(name)
sftp.mkdir("d")
def attempt(what, action):
    try:
        action()
        print(what, "done")
    except IOError as error:
        print(what, "refused:", error)
attempt("rename", lambda: sftp.rename("a.txt", "b.txt"))
attempt("rename-onto-folder", lambda: sftp.rename("a.txt", "d"))
attempt("exclusive", lambda: sftp.open("b.txt", "wx"))
attempt("no-create", lambda: sftp.open("missing.txt", "r+"))
attempt("truncate", lambda: sftp.truncate("a.txt", 1))
attempt("same-size", lambda: sftp.truncate("a.txt", 5))
attempt("posix-rename", lambda: sftp.posix_rename("a.txt", "b.txt"))
transport.close()
)";
  WriteFile(work_ / "refusals.py", script);
  const auto result = RunInWork({"/usr/bin/python3", "refusals.py", std::to_string(server_->sftp_port())}, "");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("rename refused:"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("rename-onto-folder refused:"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("exclusive refused:"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("no-create refused:"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("truncate refused:"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("same-size done"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("posix-rename done"));
  const std::string home = server_->home("alice");
  EXPECT_FALSE(Exists(home + "/a.txt"));
  EXPECT_EQ(ReadFile(home + "/b.txt"), "a.txt");  // replaced by the posix rename, not before
  EXPECT_TRUE(std::filesystem::is_directory(home + "/d"));
  EXPECT_FALSE(Exists(home + "/d/a.txt"));
  EXPECT_FALSE(Exists(home + "/missing.txt"));

  const auto lines = ReadAuditLines(server_->root() + "/audit.log");
  auto count = [&](const std::string& event, const std::string& path, const std::string& outcome) {
    return std::count_if(lines.begin(), lines.end(), [&](const auto& line) {
      return line.value("event", "") == event && line.value("path", "") == path &&
             line.value("protocol", "") == "sftp" && line.value("result", "") == outcome;
    });
  };
  EXPECT_EQ(count("rename", "/a.txt", "EEXIST"), 2);  // onto the file, and onto the folder
  EXPECT_EQ(count("rename", "/a.txt", "ok"), 1);
  EXPECT_EQ(count("upload", "/b.txt", "EEXIST"), 1);
  EXPECT_EQ(count("upload", "/missing.txt", "ENOENT"), 1);
  EXPECT_EQ(count("setattr", "/a.txt", "ENOSYS"), 1);
  EXPECT_EQ(count("setattr", "/a.txt", "ok"), 0);  // the size it has: no change, no line
}

TEST_F(SftpIntegration, SymlinksAreMadeInsideTheHomeAndHardLinksRefused) {
  WriteFile(work_ / "f.txt", "linked");
  const auto result = Sftp("put f.txt\nmkdir d\nln -s /f.txt d/abs\nln -s ../f.txt d/rel\n-ln -s ../../outside d/bad\n"
                           "get d/abs via-link.txt\nchmod -h 600 f.txt\n-chmod -h 600 d/abs\n-ln f.txt hard\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string home = server_->home("alice");
  char text[256] = {};
  ASSERT_GT(::readlink((home + "/d/abs").c_str(), text, sizeof text - 1), 0);
  EXPECT_STREQ(text, "../f.txt");  // kept relative, so it leads to the same file in the exec sandbox
  EXPECT_EQ(ReadFile(work_ / "via-link.txt"), "linked");
  EXPECT_THAT(result.err, ::testing::HasSubstr("\"/d/bad\": Permission denied"));
  EXPECT_FALSE(Exists(home + "/d/bad"));
  EXPECT_EQ(ModeOf(home + "/f.txt"), 0600u);  // lsetstat on a file that is not a link
  EXPECT_THAT(result.err, ::testing::HasSubstr("lsetstat \"/d/abs\": Operation unsupported"));
  EXPECT_THAT(result.err, ::testing::HasSubstr("does not support hardlink@openssh.com"));
  EXPECT_FALSE(Exists(home + "/hard"));
  bool audited = false;
  for (const auto& line : ReadAuditLines(server_->root() + "/audit.log")) {
    if (line["event"] == "symlink" && line["path"] == "/d/abs" && line["result"] == "ok") audited = true;
  }
  EXPECT_TRUE(audited);
}

TEST_F(SftpIntegration, AProgramsOutputAndInputArriveWholeWhateverTheClientsPace) {
  GrantExec("alice");
  // Output: the program writes it all and exits while the client is not reading; none of it may be lost.
  std::string expected;
  for (int i = 1; i <= 400000; ++i) expected += std::to_string(i) + "\n";
  const std::vector<std::string> argv = SshArgv({"alice@127.0.0.1", "seq", "1", "400000"});
  Subprocess slow(argv, {{"HOME", keys_.path()}});
  slow.CloseStdin();
  // A reader that comes back later than the server's drain time (2 s) for what is left in the program's pipes.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto result = slow.Wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), expected.size());
  EXPECT_TRUE(result.out == expected);

  // Input: all of a large stdin reaches the program before its end of file.
  const std::string data = RandomBytes(8 * 1024 * 1024 + 7, 5);
  const auto written = Ssh({"sh", "-c", "'cat > in.bin'"}, data);
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_TRUE(ReadFile(server_->home("alice") + "/in.bin") == data);
}

class SftpExecLimits : public SftpIntegration {
 protected:
  SftpExecLimits() { config_ = "[exec]\ntime_limit_seconds = 1\noutput_limit_bytes = 100000\n"; }
};

TEST_F(SftpExecLimits, AProgramPastTheTimeOrOutputLimitIsStoppedWithAReason) {
  GrantExec("alice");
  auto result = Ssh({"sleep", "30"});
  EXPECT_EQ(result.exit_code, 255);  // ended by a signal, as ssh reports it
  EXPECT_THAT(result.err, ::testing::HasSubstr("ferryd: the program was stopped after the time limit of 1 s"));
  // Output is cut at the limit, not thinned: what came before it arrives whole, then the program ends.
  result = Ssh({"head", "-c", "1000000", "/dev/zero"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.out, std::string(100000, '\0'));
  EXPECT_THAT(result.err, ::testing::HasSubstr("ferryd: the program was stopped: its output passed the limit"));
  std::vector<std::string> stops;
  for (const auto& line : ReadAuditLines(server_->root() + "/audit.log")) {
    if (line["event"] == "exec" && line.contains("stopped")) stops.push_back(line["stopped"]);
  }
  EXPECT_THAT(stops, ::testing::ElementsAre("time_limit", "output_limit"));
}

class SftpShellCommands : public SftpIntegration {
 protected:
  SftpShellCommands() { config_ = "[exec]\nallow_shell = true\n"; }
};

TEST_F(SftpShellCommands, WithAllowShellTheCommandLineGoesToShWhole) {
  GrantExec("alice");
  const auto result = Ssh({"echo a-b | tr - + && echo $((6 * 7))"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "a+b\n42\n");
}

class SftpTimeouts : public SftpIntegration {
 protected:
  SftpTimeouts() { config_ = "[limits]\nidle_timeout_seconds = 1\nlogin_timeout_seconds = 2\n"; }
};

TEST_F(SftpTimeouts, SilentConnectionsAndIdleSessionsAreClosedAndFailedLoginsEndTheConnection) {
  // Connected, silent: closed at the login timeout, before any SSH work.
  RawClient silent(server_->sftp_port());
  EXPECT_TRUE(silent.WaitClosed(std::chrono::seconds(20)));

  // Logged in, no channel, nothing sent (ssh -N): closed at the idle timeout, and ssh ends.
  const auto idle = RunProcess(SshArgv({"-N", "alice@127.0.0.1"}), {{"HOME", keys_.path()}}, "", std::chrono::seconds(30));
  EXPECT_FALSE(idle.timed_out);
  EXPECT_TRUE(server_->process().WaitForStderrLine("closed after the idle timeout (sftp)", std::chrono::seconds(10)));

  // Wrong passwords: the connection ends after max_login_attempts (3), whatever the client would try next.
  const std::string askpass = keys_ / "wrong.sh";
  WriteFile(askpass, "#!/bin/sh\necho not-the-password\n");
  ASSERT_EQ(::chmod(askpass.c_str(), 0700), 0);
  const auto wrong = RunProcess(SshArgv({"-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=6",
                                         "alice@127.0.0.1", "true"},
                                        ""), {{"HOME", keys_.path()}, {"SSH_ASKPASS", askpass}, {"SSH_ASKPASS_REQUIRE", "force"},
                                       {"DISPLAY", ":0"}},
                                "", std::chrono::seconds(60));
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_TRUE(server_->process().WaitForStderrLine("closed after 3 failed logins (sftp)", std::chrono::seconds(10)));
  int failures = 0;
  for (const auto& line : ReadAuditLines(server_->root() + "/audit.log")) {
    if (line["event"] == "login" && line["method"] == "password" && line["result"] == "EAUTH") ++failures;
  }
  EXPECT_EQ(failures, 3);
}

}  // namespace
}  // namespace ferry::testing
