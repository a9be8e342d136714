// The interactive shell on a real pseudo-terminal: prompt, completion of commands and remote paths, history,
// and errors that leave the shell running.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <gtest/gtest.h>

#include "support/audit_lines.h"
#include "support/partial_upload.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

// `ferry` running on the slave side of a pty; the test types into the master and reads the screen output.
class PtyClient {
 public:
  PtyClient(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    std::vector<std::string> env_strings = {"TERM=dumb", "PATH=/usr/bin:/bin"};
    for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    winsize size{};
    size.ws_row = 40;
    size.ws_col = 120;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    EXPECT_GT(pid_, 0);
  }
  ~PtyClient() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

  void Type(const std::string& keys) { ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }

  // Reads the screen until `needle` appears after everything seen before; false at the deadline or EOF.
  bool WaitFor(const std::string& needle, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto found = screen_.find(needle, consumed_);
      if (found != std::string::npos) {
        consumed_ = found + needle.size();
        return true;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[4096];
      const ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;
      screen_.append(buffer, static_cast<std::size_t>(n));
    }
  }

  // Waits for the program to exit; its exit code, or -1.
  int WaitExit() {
    WaitFor("\x01never\x01", std::chrono::seconds(10));  // drain until EOF (bounded)
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& screen() const { return screen_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::string screen_;
  std::size_t consumed_ = 0;
};

class ShellIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.started());
    ASSERT_EQ(::mkdir((server_.home("alice") + "/photos").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((server_.home("alice") + "/photos/summer-2026").c_str(), 0755), 0);
    WriteFile(server_.home("alice") + "/photos/beach.jpg", "jpg");
  }
  std::unique_ptr<PtyClient> Start() {
    return std::make_unique<PtyClient>(
        std::vector<std::string>{FerryPath(), "--plain", "alice@" + server_.address()},
        std::map<std::string, std::string>{{"FERRY_PASSWORD", "alice-secret"}, {"HOME", server_.client_home()}});
  }
  TestServer server_;
};

// ---- logging in at a prompt ----

// The failed logins the server's audit log holds.
int FailedLogins(const TestServer& server) {
  int failed = 0;
  for (const auto& line : ReadAuditLines(server.root() + "/audit.log")) {
    if (line.is_object() && line.value("event", "") == "login" && line.value("result", "") != "ok") ++failed;
  }
  return failed;
}

TEST_F(ShellIntegration, AWrongPasswordIsAskedForAgainAsSshDoes) {
  // An empty FERRY_PASSWORD is no password: the client asks.
  PtyClient shell({FerryPath(), "--plain", "alice@" + server_.address()},
                  {{"FERRY_PASSWORD", ""}, {"HOME", server_.client_home()}});
  ASSERT_TRUE(shell.WaitFor("'s password: ")) << shell.screen();
  shell.Type("not-the-password\n");
  ASSERT_TRUE(shell.WaitFor("Permission denied, please try again.")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("'s password: ")) << shell.screen();
  shell.Type("alice-secret\n");
  ASSERT_TRUE(shell.WaitFor(":/> ")) << shell.screen();
  shell.Type("whoami\n");
  ASSERT_TRUE(shell.WaitFor("alice")) << shell.screen();
  shell.Type("quit\n");
  EXPECT_EQ(shell.WaitExit(), 0) << shell.screen();
  EXPECT_EQ(FailedLogins(server_), 1);
}

TEST_F(ShellIntegration, ThreeWrongPasswordsEndTheClientAsTheServerClosesTheConnection) {
  PtyClient shell({FerryPath(), "--plain", "alice@" + server_.address()}, {{"HOME", server_.client_home()}});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(shell.WaitFor("'s password: ")) << attempt << shell.screen();
    shell.Type("wrong-" + std::to_string(attempt) + "\n");
  }
  ASSERT_TRUE(shell.WaitFor("login incorrect")) << shell.screen();
  EXPECT_NE(shell.WaitExit(), 0);
  EXPECT_EQ(shell.screen().find("'s password: ", shell.screen().rfind("wrong-3")), std::string::npos)
      << "asked a fourth time: " << shell.screen();
  EXPECT_EQ(FailedLogins(server_), 3);
}

TEST_F(ShellIntegration, CtrlDAtThePasswordPromptSendsNoPassword) {
  PtyClient shell({FerryPath(), "--plain", "alice@" + server_.address()}, {{"HOME", server_.client_home()}});
  ASSERT_TRUE(shell.WaitFor("'s password: ")) << shell.screen();
  shell.Type("\x04");
  ASSERT_TRUE(shell.WaitFor("no password given")) << shell.screen();
  EXPECT_NE(shell.WaitExit(), 0);
  EXPECT_EQ(FailedLogins(server_), 0) << "an empty password was sent and counted";
}

TEST_F(ShellIntegration, PromptCompletionAndCommands) {
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  // Command completion, then remote path completion that descends into folders.
  shell->Type("wh\t\n");
  ASSERT_TRUE(shell->WaitFor("whoami")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor("alice")) << shell->screen();
  shell->Type("cd pho\t");
  ASSERT_TRUE(shell->WaitFor("photos/")) << shell->screen();
  shell->Type("su\t\n");
  ASSERT_TRUE(shell->WaitFor("summer-2026/")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/photos/summer-2026> ")) << shell->screen();
  // A failing command is reported and the shell goes on.
  shell->Type("cd /nowhere\n");
  ASSERT_TRUE(shell->WaitFor("no such file or directory")) << shell->screen();
  shell->Type("ls ..\n");
  ASSERT_TRUE(shell->WaitFor("beach.jpg")) << shell->screen();
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0);
}

TEST_F(ShellIntegration, CompletionEscapesSpacesAndWorksInsideQuotes) {
  ASSERT_EQ(::mkdir((server_.home("alice") + "/my photos").c_str(), 0755), 0);
  WriteFile(server_.home("alice") + "/my photos/beach day.jpg", "sand");
  WriteFile(server_.home("alice") + "/it's.txt", "quote");
  TempDir local;
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("lcd " + local.path() + "\n");
  ASSERT_TRUE(shell->WaitFor(":/> "));
  // Unquoted: the space is escaped, and the folder can be entered.
  shell->Type("cd my\t");
  ASSERT_TRUE(shell->WaitFor("cd my\\ photos/")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  // After an opening quote: completed inside the quote, which a single file closes.
  shell->Type("get 'bea\t");
  ASSERT_TRUE(shell->WaitFor("get 'beach day.jpg' ")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  EXPECT_EQ(ReadFile(local / "beach day.jpg"), "sand");
  shell->Type("get \"../it\t");
  ASSERT_TRUE(shell->WaitFor("get \"../it's.txt\" ")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  EXPECT_EQ(ReadFile(local / "it's.txt"), "quote");
  // Local paths where they are local, as sftp completes them: put's first path, get's second (and lcd's).
  WriteFile(local / "upload me.txt", "up");
  ASSERT_EQ(::mkdir((local / "copies").c_str(), 0755), 0);
  shell->Type("put upl\t");
  ASSERT_TRUE(shell->WaitFor("put upload\\ me.txt ")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  EXPECT_EQ(ReadFile(server_.home("alice") + "/my photos/upload me.txt"), "up");
  shell->Type("get beach\\ day.jpg cop\t");
  ASSERT_TRUE(shell->WaitFor("get beach\\ day.jpg copies/")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  EXPECT_EQ(ReadFile(local / "copies/beach day.jpg"), "sand");
  // A name with glob characters completes to a word naming that file, not a pattern: "[x].txt" as a pattern would
  // be "x.txt".
  WriteFile(server_.home("alice") + "/my photos/[x].txt", "brackets");
  WriteFile(server_.home("alice") + "/my photos/x.txt", "plain");
  shell->Type("rm [\t");
  ASSERT_TRUE(shell->WaitFor("[x\\].txt ")) << shell->screen();
  shell->Type("\n");
  ASSERT_TRUE(shell->WaitFor(":/my photos> ")) << shell->screen();
  EXPECT_FALSE(Exists(server_.home("alice") + "/my photos/[x].txt"));
  EXPECT_TRUE(Exists(server_.home("alice") + "/my photos/x.txt"));
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0) << shell->screen();
}

TEST_F(ShellIntegration, HistoryIsKeptAcrossSessions) {
  {
    auto shell = Start();
    ASSERT_TRUE(shell->WaitFor(":/> "));
    shell->Type("mkdir from-history\n");
    ASSERT_TRUE(shell->WaitFor(":/> "));
    shell->Type("quit\n");
    ASSERT_EQ(shell->WaitExit(), 0);
  }
  EXPECT_NE(ReadFile(server_.client_home() + "/.ferry/history").find("mkdir from-history"), std::string::npos);
  ASSERT_EQ(::rmdir((server_.home("alice") + "/from-history").c_str()), 0);
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("\x1b[A\x1b[A\n");  // up arrow twice: past "quit" to the mkdir, run again
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0);
  EXPECT_TRUE(Exists(server_.home("alice") + "/from-history"));
}

TEST_F(ShellIntegration, HistoryIsSavedAsItGrows) {
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("whoami\n");
  ASSERT_TRUE(shell->WaitFor("alice"));
  ASSERT_TRUE(shell->WaitFor(":/> "));
  // Before the shell ends: a killed client or a closed terminal keeps what was typed.
  EXPECT_NE(ReadFile(server_.client_home() + "/.ferry/history").find("whoami"), std::string::npos);
  shell.reset();  // SIGKILL
  EXPECT_NE(ReadFile(server_.client_home() + "/.ferry/history").find("whoami"), std::string::npos);
}

TEST_F(ShellIntegration, CtrlCDiscardsTheLineBeingTypedAndTheShellGoesOn) {
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("mkdir discarded");
  ASSERT_TRUE(shell->WaitFor("discarded"));
  shell->Type("\x03");  // Ctrl-C
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  shell->Type("whoami\n");
  ASSERT_TRUE(shell->WaitFor("alice")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0) << shell->screen();
  EXPECT_FALSE(Exists(server_.home("alice") + "/discarded"));
}

TEST_F(ShellIntegration, CtrlCStopsATransferKeepsWhatResumeNeedsAndTheShellGoesOn) {
  constexpr std::uint64_t kSize = 200ull << 20;
  TempDir local;
  const std::string original = local / "big.bin";
  {
    std::ofstream out(original, std::ios::binary);
    std::string chunk = RandomBytes(1 << 20, 7);
    for (std::uint64_t done = 0; done < kSize; done += chunk.size()) {
      chunk[done >> 20 & 0xfffff] ^= 0x5a;  // no two MiB alike
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
  }
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("put " + original + " big.bin\n");
  const std::string partials = server_.root() + "/partials/alice";
  const PartialUpload seen = WaitForPartialUpload(partials, 1 << 20, kSize / 2, shell->pid(), std::chrono::seconds(60));
  ASSERT_TRUE(seen.size > (1u << 20) && seen.size < kSize / 2) << "upload not caught in flight at " << seen.size;
  // The server holds still, so the transfer is surely in progress when Ctrl-C comes.
  ASSERT_EQ(::kill(server_.process().pid(), SIGSTOP), 0);
  shell->Type("\x03");
  const bool said = shell->WaitFor("interrupted; what was transferred is kept: `put -c " + original + " big.bin`");
  ASSERT_EQ(::kill(server_.process().pid(), SIGCONT), 0);
  ASSERT_TRUE(said) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  EXPECT_FALSE(Exists(server_.home("alice") + "/big.bin"));

  // The next command connects again by itself and the upload goes on from the partial.
  shell->Type("put -c " + original + " big.bin\n");
  ASSERT_TRUE(shell->WaitFor("resumed after")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ", std::chrono::seconds(60))) << shell->screen();
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0) << shell->screen();
  EXPECT_EQ(RunProcess({"/usr/bin/cmp", original, server_.home("alice") + "/big.bin"}).exit_code, 0);
}

TEST_F(ShellIntegration, EveryCommandReconnectsAndTheShellOutlivesAnAbsentServer) {
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  server_.Kill();
  // The server is gone: the command finds the connection dead, tries again with backoff, and the shell stays.
  shell->Type("ls\n");
  ASSERT_TRUE(shell->WaitFor("reconnecting")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor("not connected (the shell stays open", std::chrono::seconds(40))) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  shell->Type("pwd\n");
  ASSERT_TRUE(shell->WaitFor("the command was not run (the shell stays open", std::chrono::seconds(40)))
      << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();

  server_.RestartOnTheSamePort();
  ASSERT_TRUE(server_.started());
  shell->Type("whoami\n");
  ASSERT_TRUE(shell->WaitFor("alice", std::chrono::seconds(40))) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  // A command on a connection the server dropped while the shell sat idle is run again on a new one.
  server_.Kill();
  server_.RestartOnTheSamePort();
  ASSERT_TRUE(server_.started());
  shell->Type("ls\n");
  ASSERT_TRUE(shell->WaitFor("reconnecting")) << shell->screen();
  ASSERT_TRUE(shell->WaitFor("photos", std::chrono::seconds(40))) << shell->screen();
  ASSERT_TRUE(shell->WaitFor(":/> ")) << shell->screen();
  shell->Type("quit\n");
  EXPECT_EQ(shell->WaitExit(), 0) << shell->screen();
}

TEST_F(ShellIntegration, EndOfInputLeavesCleanly) {
  auto shell = Start();
  ASSERT_TRUE(shell->WaitFor(":/> "));
  shell->Type("\x04");  // Ctrl-D
  EXPECT_EQ(shell->WaitExit(), 0);
}

TEST_F(ShellIntegration, TransfersDrawAProgressBarOnATerminal) {
  TempDir local;
  WriteFile(local / "data.bin", std::string(8 * 1024 * 1024, 'x'));
  PtyClient put({FerryPath(), "--plain", "alice@" + server_.address(), "put", local / "data.bin"},
                {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", server_.client_home()}});
  // The bar is redrawn in place (carriage return), shows percent, rate and ETA, and ends with a summary line.
  ASSERT_TRUE(put.WaitFor("\r")) << put.screen();
  ASSERT_TRUE(put.WaitFor("100%")) << put.screen();
  EXPECT_EQ(put.WaitExit(), 0);
  EXPECT_NE(put.screen().find("ETA"), std::string::npos) << put.screen();
  EXPECT_NE(put.screen().find("uploaded data.bin: 8.0 MiB"), std::string::npos) << put.screen();
  EXPECT_EQ(ReadFile(server_.home("alice") + "/data.bin").size(), 8u * 1024 * 1024);

  PtyClient quiet({FerryPath(), "--plain", "-q", "alice@" + server_.address(), "get", "data.bin", local / "copy"},
                  {{"FERRY_PASSWORD", "alice-secret"}, {"HOME", server_.client_home()}});
  EXPECT_EQ(quiet.WaitExit(), 0);
  EXPECT_EQ(quiet.screen().find("%"), std::string::npos) << quiet.screen();
  EXPECT_EQ(ReadFile(local / "copy"), ReadFile(local / "data.bin"));
}

}  // namespace
}  // namespace ferry::testing
