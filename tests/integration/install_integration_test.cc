// What an installation carries besides the programs: the man pages (rendered by man(1) without a warning, and
// naming every option, subcommand and configuration key the programs have, so they cannot drift from --help and
// the generated ferryd.toml), and `cmake --install` putting everything where Debian expects it.
#include <sys/stat.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "client/commands.h"
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
                                 {"PAGER", "cat"}, {"MAN_KEEP_FORMATTING", ""}});
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

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111;
}

TEST(InstallTree, PutsTheProgramsAndManPagesWhereDebianExpectsThem) {
  TempDir dir;
  const std::string prefix = dir / "usr";
  const auto installed = RunProcess({FERRY_CMAKE, "--install", FERRY_BUILD_DIR, "--prefix", prefix});
  ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;
  EXPECT_TRUE(IsExecutableFile(prefix + "/bin/ferry"));
  EXPECT_TRUE(IsExecutableFile(prefix + "/sbin/ferryd"));
  EXPECT_FALSE(Exists(prefix + "/bin/ferryd"));
  for (const std::string page : {"man1/ferry.1", "man8/ferryd.8", "man5/ferryd.toml.5"}) {
    EXPECT_EQ(ReadFile(prefix + "/share/man/" + page), ReadFile(kManDir + page.substr(page.find('/')))) << page;
  }
  // The installed programs run from there.
  const auto version = RunProcess({prefix + "/sbin/ferryd", "--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_NE(version.out.find(FERRY_VERSION), std::string::npos) << version.out;
  EXPECT_EQ(RunProcess({prefix + "/bin/ferry", "--version"}).exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
