#include "common/glob.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Glob, FindsUnescapedGlobCharacters) {
  EXPECT_TRUE(HasGlob("*.txt"));
  EXPECT_TRUE(HasGlob("a?c"));
  EXPECT_TRUE(HasGlob("photos/2024-[01]*"));
  EXPECT_TRUE(HasGlob("a\\\\*"));  // an escaped backslash, then a star
  EXPECT_FALSE(HasGlob("plain/name.txt"));
  EXPECT_FALSE(HasGlob("star\\*.dat"));
  EXPECT_FALSE(HasGlob("trailing\\"));
}

TEST(Glob, UnescapesOnlyGlobCharactersAndBackslashes) {
  EXPECT_EQ(UnescapeGlob("star\\*.dat"), "star*.dat");
  EXPECT_EQ(UnescapeGlob("q\\?\\[x"), "q?[x");
  EXPECT_EQ(UnescapeGlob("back\\\\slash"), "back\\slash");
  EXPECT_EQ(UnescapeGlob("a\\b"), "a\\b");  // a backslash in a name stays
  EXPECT_EQ(UnescapeGlob("end\\"), "end\\");
}

TEST(Glob, MatchesOneNameAsAShellDoes) {
  EXPECT_TRUE(GlobMatches("*.txt", "notes.txt"));
  EXPECT_FALSE(GlobMatches("*.txt", ".hidden.txt"));
  EXPECT_TRUE(GlobMatches(".*", ".hidden.txt"));
  EXPECT_TRUE(GlobMatches("notes[12].txt", "notes2.txt"));
  EXPECT_FALSE(GlobMatches("notes[12].txt", "notes3.txt"));
  EXPECT_TRUE(GlobMatches("star\\*.dat", "star*.dat"));
  EXPECT_FALSE(GlobMatches("star\\*.dat", "starX.dat"));
}

TEST(Glob, SplitsAPathIntoParts) {
  bool absolute = false;
  EXPECT_EQ(SplitPathParts("/photos//2024-*/", absolute), (std::vector<std::string>{"photos", "2024-*"}));
  EXPECT_TRUE(absolute);
  EXPECT_EQ(SplitPathParts("a/b", absolute), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(absolute);
  EXPECT_TRUE(SplitPathParts("/", absolute).empty());
  EXPECT_TRUE(absolute);
}

}  // namespace
}  // namespace ferry
