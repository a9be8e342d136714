#include "support/upload_frames.h"

#include "support/test_files.h"

namespace ferry::testing {

using protocol::Json;

Json PutHeader(const std::string& path, std::uint64_t size, bool resume) {
  return {{"op", "put"}, {"path", path}, {"size", size}, {"algo", "xxh3"}, {"resume", resume}};
}

Json DataHeader(std::uint64_t ref) {
  return {{"op", "data"}, {"ref", ref}};
}

Json PutCloseHeader(std::uint64_t ref, const std::string& checksum) {
  return {{"op", "put_close"}, {"ref", ref}, {"checksum", checksum}};
}

Json Upload(RawClient& client, const std::string& path, const std::string& content) {
  const Json opened = client.Call(PutHeader(path, content.size()));
  if (!opened.value("ok", false)) return opened;
  const auto ref = opened["id"].get<std::uint64_t>();
  if (!content.empty() && !client.SendFrame(DataHeader(ref), content)) return Json{{"ok", false}};
  return client.Call(PutCloseHeader(ref, Xxh3(content)));
}

}  // namespace ferry::testing
