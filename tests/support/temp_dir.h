// TempDir: a fresh folder under $TMPDIR (or /tmp), removed with everything in it when the object goes.
#pragma once

#include <string>

namespace ferry::testing {

class TempDir {
 public:
  TempDir();
  // A fresh folder inside `parent` (e.g. a small filesystem a test mounted); "" means $TMPDIR or /tmp.
  explicit TempDir(const std::string& parent);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path` (created or truncated). Fails the test on error.
void WriteFile(const std::string& path, const std::string& content);
// The whole content of `path`, or "" if it cannot be read.
std::string ReadFile(const std::string& path);
bool Exists(const std::string& path);

}  // namespace ferry::testing
