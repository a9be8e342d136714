#include "common/words.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitCommand, SplitsAsAShellSplitsPlainWords) {
  auto words = SplitCommand("rsync --server -logDtpre.iLsfxCIvu . 'my tree/' \"it's\" a\\ b");
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  EXPECT_THAT(*words, ElementsAre("rsync", "--server", "-logDtpre.iLsfxCIvu", ".", "my tree/", "it's", "a b"));
}

TEST(SplitCommand, ALeadingTildeIsTheHomeWhereCommandsRun) {
  auto words = SplitCommand("rsync --server . ~/bk/ ~ a~b '~/q' \\~/r");
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  EXPECT_THAT(*words, ElementsAre("rsync", "--server", ".", "./bk/", ".", "a~b", "~/q", "~/r"));
}

TEST(SplitCommand, QuotedOperatorsAreWords) {
  auto words = SplitCommand("echo 'a|b' \"c;d\" e\\&f '$HOME'");
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  EXPECT_THAT(*words, ElementsAre("echo", "a|b", "c;d", "e&f", "$HOME"));
}

TEST(SplitCommand, RefusesWhatOnlyAShellWouldDo) {
  for (const char* line : {"ls | wc", "a;b", "a && b", "cat < x", "echo > x", "echo $(id)", "echo `id`", "echo $HOME",
                           "echo \"$HOME\"", "(ls)", "ls\nid"}) {
    auto words = SplitCommand(line);
    ASSERT_FALSE(words.ok()) << line;
    EXPECT_THAT(words.status().message(), HasSubstr("needs a shell")) << line;
  }
  EXPECT_FALSE(SplitCommand("echo 'open").ok());
  // The client's splitter keeps them as words.
  auto plain = SplitWords("ls | wc");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(*plain, ElementsAre("ls", "|", "wc"));
}

}  // namespace
}  // namespace ferry
