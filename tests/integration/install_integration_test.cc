// What an installation carries besides the programs: the man pages (rendered by man(1) without a warning, and
// naming every option, subcommand and configuration key the programs have, so they cannot drift from --help and
// the generated ferryd.toml), and `cmake --install` putting everything where Debian expects it.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/commands.h"
#include "support/process_probe.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

const std::string kManDir = FERRY_MAN_DIR;

// A man page as man(1) shows it, as plain ASCII text (no hyphenation), after checking it rendered without warnings.
std::string Rendered(const std::string& page) {
  const auto shown = RunProcess({"/usr/bin/man", "--nh", "--nj", "-l", kManDir + "/" + page},
                                {{"LC_ALL", "C"}, {"LANG", "C"}, {"MANWIDTH", "200"}, {"MANPAGER", "cat"},
                                 {"PAGER", "cat"}, {"MAN_KEEP_FORMATTING", ""},
                                 // man-db's seccomp filter is refused in some containers; a test renders its own files
                                 {"MAN_DISABLE_SECCOMP", "1"}});
  EXPECT_EQ(shown.exit_code, 0) << page << ": " << shown.err;
  EXPECT_EQ(shown.err, "") << page;
  return shown.out;
}

// The long options (--name) a --help text lists, and the subcommands of its "Subcommands:" part.
std::set<std::string> LongOptions(const std::string& help) {
  std::set<std::string> found;
  static const std::regex option(R"((^|[ ,])(--[a-z][a-z0-9-]*))");
  for (std::sregex_iterator it(help.begin(), help.end(), option), end; it != end; ++it) found.insert((*it)[2]);
  return found;
}

std::vector<std::string> Subcommands(const std::string& help) {
  std::vector<std::string> names;
  const auto start = help.find("\nSubcommands:\n");
  if (start == std::string::npos) return names;
  static const std::regex line(R"(\n  ([a-z][a-z-]*) )");
  const std::string part = help.substr(start);
  for (std::sregex_iterator it(part.begin(), part.end(), line), end; it != end; ++it) names.push_back((*it)[1]);
  return names;
}

std::string Help(const std::string& program, const std::vector<std::string>& words) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), words.begin(), words.end());
  argv.push_back("--help");
  const auto result = RunProcess(argv);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

TEST(ManPages, RenderWithTheirNameAndStandardSections) {
  for (const std::string page : {"ferry.1", "ferryd.8", "ferryd.toml.5"}) {
    SCOPED_TRACE(page);
    const std::string text = Rendered(page);
    const std::string name = page.substr(0, page.rfind('.'));
    EXPECT_NE(text.find("NAME\n       " + name + " - "), std::string::npos) << text.substr(0, 400);
    for (const std::string section : {"SYNOPSIS", "DESCRIPTION", "FILES", "SEE ALSO"}) {
      EXPECT_NE(text.find("\n" + section + "\n"), std::string::npos) << section;
    }
  }
}

TEST(ManPages, FerryNamesEveryOptionOfItsHelp) {
  const std::string text = Rendered("ferry.1");
  const std::string help = Help(FerryPath(), {});
  const auto options = LongOptions(help);
  ASSERT_GT(options.size(), 8u) << help;
  for (const auto& option : options) {
    if (option == "--help" || option == "--version") continue;
    EXPECT_NE(text.find(option), std::string::npos) << option << " is in ferry --help but not in ferry(1)";
  }
  EXPECT_NE(text.find("EXIT STATUS"), std::string::npos);
  EXPECT_NE(text.find("FERRY_PASSWORD"), std::string::npos);
}

TEST(ManPages, FerryDescribesEveryShellCommandByItsUsage) {
  const std::string text = Rendered("ferry.1");
  for (const auto& command : client::AllCommands()) {
    // The usage line as `help` prints it, at the start of a line of its own (an indented list item).
    const std::string usage(command.usage.substr(0, command.usage.find(',')));
    EXPECT_NE(text.find("\n       " + usage), std::string::npos) << usage << " is not described in ferry(1)";
  }
}

TEST(ManPages, FerrydNamesEverySubcommandAndOption) {
  const std::string text = Rendered("ferryd.8");
  std::size_t checked = 0;
  // Every subcommand, at every depth ("user key add"), with every long option its --help lists.
  std::vector<std::vector<std::string>> pending = {{}};
  while (!pending.empty()) {
    const auto words = pending.back();
    pending.pop_back();
    const std::string help = Help(FerrydPath(), words);
    for (const auto& option : LongOptions(help)) {
      if (option == "--help" || option == "--version") continue;
      EXPECT_NE(text.find(option), std::string::npos)
          << option << " of 'ferryd " << fmt::format("{}", fmt::join(words, " ")) << "' is not in ferryd(8)";
      ++checked;
    }
    for (const auto& sub : Subcommands(help)) {
      auto deeper = words;
      deeper.push_back(sub);
      const std::string phrase = fmt::format("{}", fmt::join(deeper, " "));
      EXPECT_NE(text.find(phrase), std::string::npos) << "'ferryd " << phrase << "' is not in ferryd(8)";
      pending.push_back(deeper);
    }
  }
  EXPECT_GT(checked, 10u);
}

TEST(ManPages, FerrydTomlNamesEverySectionAndKeyOfTheGeneratedConfig) {
  const std::string text = Rendered("ferryd.toml.5");
  TempDir dir;
  const auto init = RunProcess({FerrydPath(), "init", dir / "root"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const std::string config = ReadFile(dir / "root/ferryd.toml");
  static const std::regex key(R"((^|\n)#? *([a-z_]+) *=)");
  static const std::regex section(R"((^|\n)#? *\[([a-z_.]+)\])");
  std::size_t keys = 0;
  for (std::sregex_iterator it(config.begin(), config.end(), key), end; it != end; ++it, ++keys) {
    EXPECT_NE(text.find((*it)[2]), std::string::npos) << (*it)[2] << " is in ferryd.toml but not in ferryd.toml(5)";
  }
  for (std::sregex_iterator it(config.begin(), config.end(), section), end; it != end; ++it) {
    EXPECT_NE(text.find("[" + (*it)[2].str() + "]"), std::string::npos) << (*it)[2];
  }
  EXPECT_GT(keys, 15u) << config;
}

// `cmake --install` into a staging folder (DESTDIR: nothing is installed on this machine), once for the tests below.
class InstallTree : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stage_ = new TempDir();
    const auto installed = RunProcess({FERRY_CMAKE, "--install", FERRY_BUILD_DIR}, {{"DESTDIR", stage_->path()}});
    ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;
  }
  static void TearDownTestSuite() {
    delete stage_;
    stage_ = nullptr;
  }
  // Where `path` (absolute, as installed) is in the staging folder.
  static std::string Staged(const std::string& path) { return stage_->path() + path; }
  static std::string Prefixed(const std::string& path) { return Staged(std::string(FERRY_PREFIX) + "/" + path); }

  // What bash completion offers for `line` (words split on spaces; a trailing space starts a new, empty word),
  // with the completion script `script` loaded, as a sorted list.
  static std::vector<std::string> Complete(const std::string& script, const std::string& line,
                                           const std::map<std::string, std::string>& env) {
    const std::string program =
        "source \"$1\"; read -r -a COMP_WORDS <<< \"$2\"; [[ $2 == *' ' ]] && COMP_WORDS+=(''); "
        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _${COMP_WORDS[0]}; printf '%s\\n' \"${COMPREPLY[@]}\" | sort";
    const auto result = RunProcess({"/bin/bash", "--norc", "--noprofile", "-c", program, "bash", script, line}, env);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::vector<std::string> words;
    std::size_t at = 0;
    while (at < result.out.size()) {
      const auto end = result.out.find('\n', at);
      if (end > at) words.push_back(result.out.substr(at, end - at));
      at = end + 1;
    }
    return words;
  }

  static TempDir* stage_;
};

TempDir* InstallTree::stage_ = nullptr;

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111;
}

TEST_F(InstallTree, PutsEverythingWhereDebianExpectsIt) {
  EXPECT_TRUE(IsExecutableFile(Prefixed("bin/ferry")));
  EXPECT_TRUE(IsExecutableFile(Prefixed("sbin/ferryd")));
  EXPECT_FALSE(Exists(Prefixed("bin/ferryd")));
  // The pages, compressed as Debian wants them.
  for (const std::string page : {"man1/ferry.1", "man8/ferryd.8", "man5/ferryd.toml.5"}) {
    EXPECT_FALSE(Exists(Prefixed("share/man/" + page))) << page;
    const auto unpacked = RunProcess({"/bin/gzip", "-dc", Prefixed("share/man/" + page + ".gz")});
    EXPECT_EQ(unpacked.exit_code, 0) << page << ": " << unpacked.err;
    EXPECT_EQ(unpacked.out, ReadFile(kManDir + page.substr(page.find('/')))) << page;
  }
  EXPECT_TRUE(Exists(Prefixed("lib/systemd/system/ferryd.service")));
  EXPECT_TRUE(Exists(Staged(std::string(FERRY_SYSCONFDIR) + "/logrotate.d/ferryd")));
  EXPECT_TRUE(Exists(Prefixed("share/bash-completion/completions/ferry")));
  EXPECT_TRUE(Exists(Prefixed("share/bash-completion/completions/ferryd")));
  // The example configuration is the one init writes.
  TempDir dir;
  ASSERT_EQ(RunProcess({FerrydPath(), "init", dir / "root"}).exit_code, 0);
  EXPECT_EQ(ReadFile(Prefixed("share/doc/ferry/examples/ferryd.toml")), ReadFile(dir / "root/ferryd.toml"));
  // The installed programs run from there.
  const auto version = RunProcess({Prefixed("sbin/ferryd"), "--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, std::string("ferryd ") + FERRY_VERSION + "\n");
  EXPECT_EQ(RunProcess({Prefixed("bin/ferry"), "--version"}).exit_code, 0);
}

TEST_F(InstallTree, TheUnitRunsTheInstalledServerAsFerryAndPassesSystemdAnalyzeVerify) {
  const std::string unit = ReadFile(Prefixed("lib/systemd/system/ferryd.service"));
  const std::string exec_start = std::string("ExecStart=") + FERRY_FULL_SBINDIR + "/ferryd serve --root /var/lib/ferry\n";
  EXPECT_NE(unit.find(exec_start), std::string::npos) << unit;
  for (const std::string line : {"User=ferry\n", "Restart=on-failure\n", "ExecReload=/bin/kill -HUP $MAINPID\n",
                                 "ProtectSystem=strict\n", "ReadWritePaths=/var/lib/ferry\n", "PrivateTmp=yes\n",
                                 "NoNewPrivileges=yes\n"}) {
    EXPECT_NE(unit.find("\n" + line), std::string::npos) << line;
  }
  // SIGTERM's grace period (30 s by default) fits in the stop timeout.
  EXPECT_NE(unit.find("\nTimeoutStopSec=45\n"), std::string::npos);
  // systemd-analyze checks every directive and that the program exists: the staged copy stands in for the path
  // the unit names. MANPATH lets it find the pages the unit's Documentation= names.
  TempDir dir;
  std::string staged = unit;
  staged.replace(staged.find(exec_start) + 10, std::string(FERRY_FULL_SBINDIR).size(), Staged(FERRY_FULL_SBINDIR));
  WriteFile(dir / "ferryd.service", staged);
  const auto verified = RunProcess({"/usr/bin/systemd-analyze", "verify", dir / "ferryd.service"},
                                   {{"MANPATH", Prefixed("share/man")}, {"SYSTEMD_LOG_COLOR", "0"}});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(verified.err, "");  // a directive systemd does not understand is only a warning, with status 0
  // And the check can fail: a directive with a bad value.
  WriteFile(dir / "ferryd.service", staged + "[Service]\nKillSignal=SIGNOTHING\n");
  const auto bad = RunProcess({"/usr/bin/systemd-analyze", "verify", dir / "ferryd.service"},
                              {{"MANPATH", Prefixed("share/man")}});
  EXPECT_NE(bad.err.find("SIGNOTHING"), std::string::npos) << bad.err;
}

// As the package sets it up: root prepares the data root of the service user with the installed ferryd, and the
// installed server runs as that user (nobody here, with no privileges left). A client logs in, uploads, and runs a
// program, whose processes the kernel's RLIMIT_NPROC holds (root would be exempt; see ExecConfinement for root).
TEST_F(InstallTree, TheInstalledServerRunsUnprivilegedOnADataRootRootPrepared) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to prepare a data root for another user";
  constexpr uid_t kService = 65534;  // nobody
  const std::string ferryd = Prefixed("sbin/ferryd");
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0711), 0);  // the service user reaches its data root, as in /var/lib
  const std::string root = dir / "ferry";
  ASSERT_EQ(::mkdir(root.c_str(), 0750), 0);
  ASSERT_EQ(::chown(root.c_str(), kService, kService), 0);
  const auto init = RunProcess({ferryd, "init", root});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  WriteFile(root + "/ferryd.toml", "[exec]\nmax_processes = 20\ntime_limit_seconds = 20\n");
  const auto add = RunProcess({ferryd, "user", "add", "--root", root, "--password-stdin", "alice"}, {}, "s3cret\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_EQ(RunProcess({ferryd, "user", "set-perm", "--root", root, "--exec", "alice"}).exit_code, 0);

  Subprocess server({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", ferryd, "serve",
                     "--root", root, "--listen", "127.0.0.1:0"});
  const auto listening = server.WaitForStderrLine("listening on ", std::chrono::seconds(30));
  ASSERT_TRUE(listening.has_value()) << server.stderr_so_far();
  const std::string rest = listening->substr(listening->find("listening on ") + 13);
  const std::string address = rest.substr(0, rest.find(' '));

  TempDir client_home;
  WriteFile(client_home / "report.txt", "quarterly figures\n");
  const std::map<std::string, std::string> env = {
      {"HOME", client_home.path()}, {"FERRY_PASSWORD", "s3cret"}, {"SSH_AUTH_SOCK", ""}};
  auto client = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Prefixed("bin/ferry"), "--accept-new-host", "alice@" + address};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, env, "", std::chrono::seconds(60));
  };
  const auto put = client({"put", client_home / "report.txt"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(ReadFile(root + "/homes/alice/report.txt"), "quarterly figures\n");
  struct stat st {};
  ASSERT_EQ(::stat((root + "/homes/alice/report.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kService);

  // Up to 200 background processes, each announced once it started; a fork that fails ends the shell.
  const auto run = client(
      {"exec", "sh", "-c", "n=0; while [ $n -lt 200 ]; do sleep 46.25 & n=$((n+1)); echo $n; done; echo all"});
  EXPECT_THAT(run.out, ::testing::Not(::testing::HasSubstr("all"))) << run.err;
  std::istringstream lines(run.out);
  int started = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos) {
      started = std::max(started, std::stoi(line));
    }
  }
  // The limit counts the sandbox's own processes (bubblewrap's init, the shell) and nothing outside it: the server's
  // threads and other programs of its user leave the program its 20.
  EXPECT_GE(started, 15) << run.out << run.err;
  EXPECT_LT(started, 20);

  server.Signal(SIGTERM);
  const auto stopped = server.Wait(std::chrono::seconds(45));
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  // The program's processes went with its sandbox.
  EXPECT_TRUE(WaitUntil([] { return ProcessesWith("sleep 46.25") == 0; }, std::chrono::seconds(30)));
}

// The lines "KEY: VALUE" of a report, as a map.
std::map<std::string, std::string> Report(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return fields;
}

// scripts/package makes the Debian package of this build, in which lintian finds no error. Installed in a throwaway
// root (this machine's root through an overlay, in a mount namespace of its own: nothing of the machine's changes),
// its postinst makes the system user ferry and the data root /var/lib/ferry, ready and the user's, and enables the
// service; an upgrade to a later version keeps the data, the administrator's choice to disable the service and
// their edit of a conffile; removing keeps the data and purging removes it.
TEST(Package, PassesLintianAndInstallsUpgradesRemovesAndPurgesInAThrowawayRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: dpkg runs chrooted into an overlay of the machine's root";
#ifdef FERRY_SANITIZED
  GTEST_SKIP() << "a package is made of the plain build; this one's programs are instrumented for the tests";
#endif
  TempDir out;
  const auto made = RunProcess({std::string(FERRY_SOURCE_DIR) + "/scripts/package", out / "deb"},
                               {{"FERRY_BUILD_DIR", FERRY_BUILD_DIR}}, "", std::chrono::minutes(2));
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  std::string deb = made.out;
  while (!deb.empty() && deb.back() == '\n') deb.pop_back();
  deb = deb.substr(deb.rfind('\n') + 1);
  EXPECT_THAT(deb, ::testing::HasSubstr(std::string("/ferry_") + FERRY_VERSION + "_"));
  ASSERT_TRUE(Exists(deb)) << made.out;

  const auto control = RunProcess({"/usr/bin/dpkg-deb", "-f", deb});
  ASSERT_EQ(control.exit_code, 0) << control.err;
  const auto fields = Report(control.out);
  EXPECT_EQ(fields.at("Package"), "ferry");
  EXPECT_EQ(fields.at("Version"), FERRY_VERSION);
  EXPECT_EQ(fields.at("Recommends"), "bubblewrap");
  // The libraries the programs link, found by dpkg-shlibdeps, and adduser for the postinst.
  for (const std::string library : {"adduser", "libc6", "libssl3", "libsqlite3-0", "libsodium23", "libssh-4"}) {
    EXPECT_THAT(", " + fields.at("Depends") + ",", ::testing::ContainsRegex(", " + library + "[ ,]"))
        << fields.at("Depends");
  }
  const auto contents = RunProcess({"/usr/bin/dpkg-deb", "-c", deb});
  for (const std::string file : {"./usr/bin/ferry", "./usr/sbin/ferryd", "./lib/systemd/system/ferryd.service",
                                 "./etc/logrotate.d/ferryd", "./usr/share/man/man8/ferryd.8.gz",
                                 "./usr/share/doc/ferry/copyright", "./usr/share/doc/ferry/changelog.gz"}) {
    EXPECT_THAT(contents.out, ::testing::HasSubstr(" " + file + "\n")) << file;
  }

  TempDir work;
  const auto tried = RunProcess({"/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                                 std::string(FERRY_SOURCE_DIR) + "/tests/integration/package_in_throwaway_root.sh",
                                 work.path(), deb},
                                {}, "", std::chrono::minutes(2));  // the two within ctest's 5 minutes
  if (tried.exit_code == 3) GTEST_SKIP() << "no throwaway root here: " << tried.err;
  ASSERT_EQ(tried.exit_code, 0) << tried.out << tried.err;
  const auto report = Report(tried.out);
  auto at = [&](const std::string& key) { return report.count(key) ? report.at(key) : "(missing)"; };
  const std::map<std::string, std::string> expected = {
      {"installed", std::string("install ok installed ") + FERRY_VERSION},
      {"user", "/var/lib/ferry:/usr/sbin/nologin"},
      {"group", "ferry"},
      {"data-root", "ferry:ferry 750"},
      {"data-files", "ferry.db ferry ferryd.toml ferry tls/key.pem ferry ssh/host_ed25519_key ferry "},
      {"enabled", "/lib/systemd/system/ferryd.service"},
      {"unit-exec", "ExecStart=/usr/sbin/ferryd serve --root /var/lib/ferry"},
      {"ferryd", std::string("ferryd ") + FERRY_VERSION},
      {"man", "/usr/share/man/man5/ferryd.toml.5.gz"},
      {"add", "ferry"},  // the home made through ferryd is the service user's
      {"upgraded", std::string("install ok installed ") + FERRY_VERSION + "+next1"},
      {"data-after-upgrade", "unchanged"},
      {"enabled-after-upgrade", "disabled"},  // as the administrator left it
      {"conffile-after-upgrade", "# kept across upgrades"},
      {"removed", "deinstall ok config-files"},
      {"program-after-remove", "absent"},
      {"data-after-remove", "kept"},
      {"conffile-after-remove", "kept"},
      {"data-after-purge", "gone"},
      {"conffile-after-purge", "gone"},
      {"user-after-purge", "kept"},
  };
  for (const auto& [key, value] : expected) EXPECT_EQ(at(key), value) << key << "\n" << tried.err;
  EXPECT_THAT(at("ferry"), ::testing::HasSubstr(FERRY_VERSION));
  EXPECT_THAT(at("after-upgrade"), ::testing::HasSubstr("alice"));
}

TEST_F(InstallTree, LogrotateRotatesTheAuditLogAndSignalsTheServer) {
  const std::string snippet = ReadFile(Staged(std::string(FERRY_SYSCONFDIR) + "/logrotate.d/ferryd"));
  EXPECT_NE(snippet.find("/var/lib/ferry/audit.log {"), std::string::npos) << snippet;
  EXPECT_NE(snippet.find("create 0600 ferry ferry"), std::string::npos);
  EXPECT_NE(snippet.find("\n\tsu ferry ferry\n"), std::string::npos);  // not root, in a folder ferry can write
  EXPECT_NE(snippet.find("systemctl kill --signal=HUP --kill-whom=main ferryd.service"), std::string::npos);
}

TEST_F(InstallTree, BashCompletesSubcommandsOptionsUsersAndHosts) {
  const std::string ferryd = Prefixed("share/bash-completion/completions/ferryd");
  const std::map<std::string, std::string> env = {
      {"PATH", Prefixed("sbin") + ":/usr/bin:/bin"}, {"FERRY_ROOT", ""}};
  using ::testing::ElementsAre;
  EXPECT_THAT(Complete(ferryd, "ferryd ", env),
              ElementsAre("--help", "--version", "default-config", "init", "serve", "user"));
  EXPECT_THAT(Complete(ferryd, "ferryd user s", env), ElementsAre("set-perm", "set-quota"));
  EXPECT_THAT(Complete(ferryd, "ferryd serve --ftp", env), ElementsAre("--ftp-listen", "--ftps-implicit-listen"));
  EXPECT_THAT(Complete(ferryd, "ferryd serve --log-level w", env), ElementsAre("warn"));
  // User names come from the data root named on the line (or FERRY_ROOT).
  TempDir dir;
  const std::string root = dir / "root";
  ASSERT_EQ(RunProcess({FerrydPath(), "init", root}).exit_code, 0);
  for (const std::string name : {"alice", "albert", "bob"}) {
    ASSERT_EQ(RunProcess({FerrydPath(), "user", "add", "--root", root, "--password-stdin", name}, {}, "pw\n").exit_code,
              0);
  }
  EXPECT_THAT(Complete(ferryd, "ferryd user del --root " + root + " al", env), ElementsAre("albert", "alice"));
  auto with_root = env;
  with_root["FERRY_ROOT"] = root;
  EXPECT_THAT(Complete(ferryd, "ferryd user passwd b", with_root), ElementsAre("bob"));
  // passwd takes one name: then only its options are left.
  EXPECT_THAT(Complete(ferryd, "ferryd user passwd bob ", with_root),
              ElementsAre("--help", "--logout", "--password-stdin", "--root"));

  const std::string ferry = Prefixed("share/bash-completion/completions/ferry");
  TempDir home;
  ASSERT_EQ(::mkdir((home / ".ferry").c_str(), 0700), 0);
  WriteFile(home / ".ferry/config", "Host backup nas-*\n  HostName 192.0.2.7\nHost bastion\n  Port 7022\n");
  WriteFile(home / ".ferry/known_hosts", "files.example.org:7021 SHA256:00\n[2001:db8::1]:7021 SHA256:11\n");
  const std::map<std::string, std::string> client_env = {{"HOME", home.path()}};
  EXPECT_THAT(Complete(ferry, "ferry ba", client_env), ElementsAre("backup", "bastion"));
  EXPECT_THAT(Complete(ferry, "ferry alice@f", client_env), ElementsAre("alice@files.example.org"));
  EXPECT_THAT(Complete(ferry, "ferry -p 7022 b", client_env), ElementsAre("backup", "bastion"));
  EXPECT_THAT(Complete(ferry, "ferry --pass", client_env), ElementsAre("--password-file"));
  EXPECT_THAT(Complete(ferry, "ferry backup m", client_env), ElementsAre("mget", "mkdir", "mput", "mv"));
  EXPECT_THAT(Complete(ferry, "ferry pi", client_env), ElementsAre("ping"));
}

}  // namespace
}  // namespace ferry::testing
