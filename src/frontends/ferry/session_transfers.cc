// Session: uploads and downloads, mapped onto the file service's Upload and Download.
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ferry/session.h"
#include "frontends/ferry/wire_fields.h"
#include "protocol/reply_fields.h"
#include "protocol/transfer_operations.h"
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

Result<service::UploadOptions> UploadOptionsOf(const protocol::PutRequest& request) {
  auto algorithm = AlgorithmOf(request.algo);
  if (!algorithm.ok()) return algorithm.status();
  service::UploadOptions options;
  options.size = request.size;
  options.mode = request.mode;
  if (request.mtime && *request.mtime >= 0) options.mtime = timespec{*request.mtime, static_cast<long>(request.mtime_nsec)};
  options.resume = request.resume;
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
  auto request = protocol::PutRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto options = UploadOptionsOf(*request);
  if (!options.ok()) return options.status();
  auto upload = session.user().BeginUpload(session.PathOf(request->path), *options);
  if (!upload.ok()) return upload.status();
  protocol::PutReply reply;
  reply.offset = upload->size();
  if (upload->resumed() > 0) reply.prefix_checksum = upload->prefix_checksum();
  reply.discarded = upload->discarded();
  uploads.emplace(key, Session::OpenUpload{std::move(upload).value(), Status::Ok()});
  return AsFields(reply);
}

Result<Json> PutClose(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::PutCloseRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto it = session.uploads().find(request->ref);
  if (it == session.uploads().end()) return Status(ErrorCode::kProtocol, "put_close for no open upload");
  Session::OpenUpload open = std::move(it->second);
  session.uploads().erase(it);
  if (!open.upload) return open.failed;
  auto result = open.upload->Commit(request->checksum);
  if (!result.ok()) return result.status();
  return AsFields(protocol::PutCloseReply{result->size, std::move(result->checksum)});
}

Result<Json> PutAbort(Session& session, const Json& /*id*/, const Fields& fields) {
  auto request = protocol::PutAbortRequest::Parse(fields.header());
  if (!request.ok()) return request.status();
  auto open = session.uploads().find(request->ref);
  if (open == session.uploads().end()) {
    return Status(ErrorCode::kNotFound, fmt::format("no upload is open with ref {}", request->ref));
  }
  // Abandoned on purpose: what it wrote goes too, nothing is kept for a resume.
  if (open->second.upload) open->second.upload->Discard();
  session.uploads().erase(open);
  return Json::object();
}

// Sends a whole file whose checksum is known with sendfile; false if the connection broke.
asio::awaitable<bool> SendWholeFile(Session& session, const Json& id, service::Download& download) {
  const std::uint64_t size = download.size();
  for (std::uint64_t position = 0; position < size;) {
    const std::uint64_t count = std::min<std::uint64_t>(kSendFileChunk, size - position);
    session.ReplyHead(protocol::OkReply(id, protocol::GetDataReply{}), count);
    if (!co_await session.Flush() || !co_await session.SendFile(download.fd(), position, count)) {
      download.Interrupted(position);
      co_return false;
    }
    position += count;
    if (position < size) co_await session.TakeTurns();
  }
  co_return true;
}

asio::awaitable<void> Get(Session& session, const Json& id, const Fields& fields) {
  auto request = protocol::GetRequest::Parse(fields.header());
  auto algorithm = request.ok() ? AlgorithmOf(request->algo) : Result<transfer::ChecksumAlgorithm>(request.status());
  if (!algorithm.ok()) {
    session.ReplyError(id, algorithm.status());
    co_return;
  }
  auto download = session.user().OpenDownload(session.PathOf(request->path), request->offset, *algorithm,
                                              service::DownloadDigest::kSent);
  if (!download.ok()) {
    session.ReplyError(id, download.status());
    co_return;
  }
  session.Reply(protocol::OkReply(id, protocol::GetHeadReply{download->size(), download->mode(),
                                                            download->mtime().tv_sec,
                                                            static_cast<std::uint32_t>(download->mtime().tv_nsec),
                                                            download->offset()}));

  // A whole-file download of a file whose checksum is known goes out with sendfile on a plain connection.
  if (download->known_checksum() && session.can_send_file()) {
    if (!co_await SendWholeFile(session, id, *download)) co_return;
    service::DownloadResult sent = download->Finish(download->size());
    session.Reply(protocol::OkReply(id, protocol::GetTailReply{sent.size, std::move(sent.checksum)}));
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
    session.Reply(protocol::OkReply(id, protocol::GetDataReply{}), std::string_view(chunk.get(), *n));
    sent += *n;
    if (!co_await session.Flush()) {
      download->Interrupted(sent);
      co_return;
    }
    // Not after the last chunk: a small file (one chunk) costs no extra hand-off, which a get -r of many would feel.
    if (download->offset() + sent < download->size()) co_await session.TakeTurns();
  }
  service::DownloadResult done = download->Finish(sent);
  session.Reply(protocol::OkReply(id, protocol::GetTailReply{done.size, std::move(done.checksum)}));
}

}  // namespace

bool WriteUploadData(Session& session, const protocol::Frame& frame) {
  auto& uploads = session.uploads();
  auto data = protocol::UploadDataFrame::Parse(frame.header);
  auto open = data.ok() ? uploads.find(data->ref) : uploads.end();
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
      {"get", kLoggedIn, nullptr, &Get, nullptr},
      {"put", kLoggedIn, &PutOpen, nullptr, &RememberFailedUpload},
      {"put_close", kLoggedIn, &PutClose, nullptr, nullptr},
      {"put_abort", kLoggedIn, &PutAbort, nullptr, nullptr},
  };
  return kOperations;
}

}  // namespace ferry::frontends::native
