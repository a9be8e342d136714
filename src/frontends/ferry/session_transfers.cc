// Session: uploads and downloads, mapped onto the file service's Upload and Download.
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ferry/session.h"
#include "frontends/ferry/wire_fields.h"
#include "service/paths.h"

namespace ferry::frontends::native {
namespace {

using protocol::Json;
using Fields = protocol::RequestFields;

// Bytes per data frame of a download.
constexpr std::size_t kDownloadChunk = 1024 * 1024;
// Bytes per data frame of a download sent with sendfile.
constexpr std::uint64_t kSendFileChunk = 16 * 1024 * 1024;
// Uploads one session may have open at once (pipelined small files need many).
constexpr std::size_t kMaxOpenUploads = 256;

Result<service::UploadOptions> UploadOptionsOf(const protocol::RequestFields& fields) {
  auto size = OptionalInteger(fields, "size", -1, 0, kMaxFileSize);
  if (!size.ok()) return size.status();
  if (*size < 0) return Status(ErrorCode::kProtocol, "put needs 'size', the number of bytes to come");
  auto mode = OptionalInteger(fields, "mode", 0644, 0, 07777);
  auto mtime = OptionalInteger(fields, "mtime", -1, -1, std::int64_t{1} << 40);
  auto mtime_nsec = OptionalInteger(fields, "mtime_nsec", 0, 0, 999999999);
  auto resume = fields.OptionalBool("resume", false);
  auto algorithm = AlgorithmField(fields);
  for (const Status* s :
       {&mode.status(), &mtime.status(), &mtime_nsec.status(), &resume.status(), &algorithm.status()}) {
    if (!s->ok()) return *s;
  }
  service::UploadOptions options;
  options.size = static_cast<std::uint64_t>(*size);
  options.mode = static_cast<std::uint32_t>(*mode);
  if (*mtime >= 0) options.mtime = timespec{*mtime, static_cast<long>(*mtime_nsec)};
  options.resume = *resume;
  options.algorithm = *algorithm;
  return options;
}

void RememberFailedUpload(Session& session, const Json& id, const Status& failure) {
  // An id already open keeps its upload: the failure was that very clash.
  session.uploads().emplace(id.get<std::uint64_t>(), Session::OpenUpload{std::nullopt, failure});
}

Result<Json> PutOpen(Session& session, const Json& id, const Fields& fields) {
  const std::uint64_t key = id.get<std::uint64_t>();
  auto& uploads = session.uploads();
  if (uploads.count(key) != 0) return Status(ErrorCode::kProtocol, "an upload with this id is already open");
  if (uploads.size() >= kMaxOpenUploads) return Status(ErrorCode::kTooBig, "too many uploads open at once");
  auto path = session.RequiredPathField(fields, "path");
  if (!path.ok()) return path.status();
  auto options = UploadOptionsOf(fields);
  if (!options.ok()) return options.status();
  auto upload = session.user().BeginUpload(*path, *options);
  if (!upload.ok()) return upload.status();
  Json reply(Json::value_t::object);
  auto& members = reply.get_ref<Json::object_t&>();
  members.emplace("offset", upload->size());
  if (upload->resumed() > 0) members.emplace("prefix_checksum", upload->prefix_checksum());
  if (upload->discarded() > 0) members.emplace("discarded", upload->discarded());
  uploads.emplace(key, Session::OpenUpload{std::move(upload).value(), Status::Ok()});
  return reply;
}

Result<Json> PutClose(Session& session, const Json& /*id*/, const Fields& fields) {
  auto ref = fields.Integer("ref");
  auto expected = fields.String("checksum");
  if (!ref.ok()) return ref.status();
  if (!expected.ok()) return expected.status();
  auto it = session.uploads().find(static_cast<std::uint64_t>(*ref));
  if (it == session.uploads().end()) return Status(ErrorCode::kProtocol, "put_close for no open upload");
  Session::OpenUpload open = std::move(it->second);
  session.uploads().erase(it);
  if (!open.upload) return open.failed;
  auto result = open.upload->Commit(*expected);
  if (!result.ok()) return result.status();
  return Json{{"size", result->size}, {"checksum", result->checksum}};
}

Result<Json> PutAbort(Session& session, const Json& /*id*/, const Fields& fields) {
  auto ref = fields.Integer("ref");
  if (!ref.ok()) return ref.status();
  session.uploads().erase(static_cast<std::uint64_t>(*ref));  // the partial file stays for a later resume
  return Json::object();
}

// Sends a whole file whose checksum is known with sendfile; false if the connection broke.
asio::awaitable<bool> SendWholeFile(Session& session, const Json& id, service::Download& download) {
  const std::uint64_t size = download.size();
  for (std::uint64_t position = 0; position < size;) {
    const std::uint64_t count = std::min<std::uint64_t>(kSendFileChunk, size - position);
    Json data = protocol::OkReply(id);
    data["more"] = true;
    session.ReplyHead(std::move(data), count);
    if (!co_await session.Flush() || !co_await session.SendFile(download.fd(), position, count)) {
      download.Fail(Status(ErrorCode::kIo, "interrupted"), position);
      co_return false;
    }
    position += count;
    if (position < size) co_await session.TakeTurns();
  }
  co_return true;
}

asio::awaitable<void> Get(Session& session, const Json& id, const Fields& fields) {
  auto path = session.PathField(fields, "path");
  auto offset = OptionalInteger(fields, "offset", 0, 0, kMaxFileSize);
  auto algorithm = AlgorithmField(fields);
  for (const Status* s : {&path.status(), &offset.status(), &algorithm.status()}) {
    if (!s->ok()) {
      session.ReplyError(id, *s);
      co_return;
    }
  }
  auto download = session.user().OpenDownload(*path, static_cast<std::uint64_t>(*offset), *algorithm);
  if (!download.ok()) {
    session.ReplyError(id, download.status());
    co_return;
  }
  Json head = protocol::OkReply(id);
  head["more"] = true;
  head["size"] = download->size();
  head["mode"] = download->mode();
  head["mtime"] = download->mtime().tv_sec;
  head["mtime_nsec"] = download->mtime().tv_nsec;
  head["offset"] = download->offset();
  session.Reply(std::move(head));

  // A whole-file download of a file whose checksum is known goes out with sendfile on a plain connection.
  if (download->known_checksum() && session.can_send_file()) {
    if (!co_await SendWholeFile(session, id, *download)) co_return;
    const service::DownloadResult sent = download->Finish(download->size());
    Json tail = protocol::OkReply(id);
    tail["more"] = false;
    tail["size"] = sent.size;
    tail["checksum"] = sent.checksum;
    session.Reply(std::move(tail));
    co_return;
  }

  // The buffer is no larger than the file and left uninitialised: clearing a 1 MiB buffer for every 4 KiB file of
  // a get -r took a third of the server's time.
  const auto chunk_size = static_cast<std::size_t>(std::clamp<std::uint64_t>(download->size(), 1, kDownloadChunk));
  const auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
  std::uint64_t sent = 0;
  while (true) {
    auto n = download->Read(std::span<char>(chunk.get(), chunk_size));
    if (!n.ok()) {
      download->Fail(n.status(), sent);
      session.ReplyError(id, n.status());
      co_return;
    }
    if (*n == 0) break;
    Json data = protocol::OkReply(id);
    data["more"] = true;
    session.Reply(std::move(data), std::string_view(chunk.get(), *n));
    sent += *n;
    if (!co_await session.Flush()) {
      download->Fail(Status(ErrorCode::kIo, "interrupted"), sent);
      co_return;
    }
    // Not after the last chunk: a small file (one chunk) costs no extra hand-off, which a get -r of many would feel.
    if (download->offset() + sent < download->size()) co_await session.TakeTurns();
  }
  const service::DownloadResult done = download->Finish(sent);
  Json tail = protocol::OkReply(id);
  tail["more"] = false;
  tail["size"] = done.size;
  tail["checksum"] = done.checksum;
  session.Reply(std::move(tail));
}

}  // namespace

bool WriteUploadData(Session& session, const protocol::Frame& frame) {
  auto& uploads = session.uploads();
  const auto ref = frame.header.find("ref");
  auto open = ref != frame.header.end() && ref->is_number_unsigned() ? uploads.find(ref->get<std::uint64_t>())
                                                                     : uploads.end();
  if (open == uploads.end()) {
    session.ReplyError(nullptr, Status(ErrorCode::kProtocol, "data frame for no open upload"));
    return false;
  }
  // A failure is remembered by the upload; put_close reports it.
  if (open->second.upload) open->second.upload->Write(frame.body);
  return true;
}

std::span<const Session::Operation> TransferOperations() {
  using enum Session::Operation::StateBits;
  static constexpr Session::Operation kOperations[] = {
      {"get", kLoggedIn, false, nullptr, &Get, nullptr},
      {"put", kLoggedIn, true, &PutOpen, nullptr, &RememberFailedUpload},
      {"put_close", kLoggedIn, false, &PutClose, nullptr, nullptr},
      {"put_abort", kLoggedIn, false, &PutAbort, nullptr, nullptr},
  };
  return kOperations;
}

}  // namespace ferry::frontends::native
