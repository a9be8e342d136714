// Data connections (PASV, EPSV, PORT, EPRT) and what goes over them: listings, downloads and uploads.
#include <time.h>

#include <random>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ftp/ftp_session.h"
#include "frontends/ftp/timeout.h"

namespace ferry::frontends::ftp {
namespace {

// Control-connection reads during a transfer, and the commands that may wait for its end.
constexpr std::size_t kControlRead = 4 * 1024;
constexpr std::size_t kMaxDeferred = 64;
// One transfer's buffer: uploads read into it, TLS downloads read the file into it.
constexpr std::size_t kDataBuffer = 256 * 1024;
// sendfile(2) goes in pieces, each within the idle timeout: a client that stops reading cannot hold the session.
constexpr std::uint64_t kSendFilePiece = 64ull << 20;
// How long a finished data connection waits for the client to close its end.
constexpr std::chrono::seconds kLingerLimit{2};
// Listing entries read from the folder at a time.
constexpr std::size_t kListBatch = 256;

std::uint32_t RandomNumber() {
  thread_local std::minstd_rand generator(std::random_device{}());
  return static_cast<std::uint32_t>(generator());
}

}  // namespace

std::string_view FtpSession::WithoutListOptions(std::string_view argument) {
  // "LIST -la dir", "LIST -a": the options of ls, which clients send out of habit; a listing here is always long.
  while (!argument.empty() && argument.front() == '-') {
    const std::size_t space = argument.find(' ');
    if (space == std::string_view::npos) return {};
    argument.remove_prefix(space + 1);
    while (!argument.empty() && argument.front() == ' ') argument.remove_prefix(1);
  }
  return argument;
}

void PassiveLink::Abandon() {
  asio::error_code ignored;
  acceptor.close(ignored);
  if (transport) transport->socket().close(ignored);
  ready.cancel();
}

namespace {

// Whether a protected data connection may be used under `reuse` (tls_binding.h).
Status CheckSessionReuse(Transport& data, SessionReuse reuse, const std::string& peer) {
  if (reuse == SessionReuse::kOff || ResumedOwnSession(data.native_ssl())) return Status::Ok();
  if (reuse == SessionReuse::kOptional) {
    spdlog::debug("{}: a data connection did not resume the control connection's TLS session", peer);
    return Status::Ok();
  }
  spdlog::warn("{}: refused a data connection that did not resume the control connection's TLS session", peer);
  return Status(ErrorCode::kNotPermitted,
                "TLS session of data connection not resumed: your client must reuse the control connection's TLS "
                "session (ftp.tls_session_reuse = \"required\")");
}

// Accepts the client's data connection on `link` and protects it with TLS (`tls` not null), within `accept_limit`
// and `handshake_limit`. Connections from any address but `client` are closed and the wait goes on.
asio::awaitable<void> MakePassiveConnection(std::shared_ptr<PassiveLink> link, asio::ip::address client,
                                            SSL_CTX* tls, SessionReuse reuse, std::chrono::seconds accept_limit,
                                            std::chrono::seconds handshake_limit, std::string peer) {
  const auto deadline = std::chrono::steady_clock::now() + accept_limit;
  std::optional<asio::ip::tcp::socket> socket;
  while (!socket) {
    const auto left = std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    // The peer's address as accept(2) reported it: a connection reset at once has no remote_endpoint() any more,
    // but it was still the client's (or not).
    asio::ip::tcp::socket candidate(link->acceptor.get_executor());
    asio::ip::tcp::endpoint from;
    auto accepted = co_await WithTimeout(
        link->acceptor.async_accept(candidate, from, asio::experimental::as_tuple(asio::use_awaitable)), left);
    if (!accepted || std::get<0>(*accepted)) {
      link->failure = accepted ? "The data connection failed." : "No data connection was made in time.";
      break;
    }
    if (UnmappedAddress(from.address()) == client) {
      socket.emplace(std::move(candidate));
    } else {
      spdlog::warn("{}: refused a data connection from {} (not the client's address)", peer,
                   UnmappedAddress(from.address()).to_string());
    }
  }
  asio::error_code ignored;
  link->acceptor.close(ignored);  // one connection per PASV
  if (socket) {
    // The last piece of a file, a listing and the TLS handshake are small writes: Nagle's algorithm would hold each
    // for the client's delayed ACK.
    socket->set_option(asio::ip::tcp::no_delay(true), ignored);
    if (tls == nullptr) {
      link->transport.emplace(std::move(*socket));
    } else {
      link->transport.emplace(std::move(*socket), tls);
      if (link->transport->native_ssl() != nullptr) BindSession(link->transport->native_ssl(), &link->token);
      const auto done = co_await WithTimeout(link->transport->Handshake(), handshake_limit);
      if (!done || *done) {
        link->failure = fmt::format("TLS on the data connection failed: {}", done ? done->message() : "timed out");
      } else if (Status check = CheckSessionReuse(*link->transport, reuse, peer); !check.ok()) {
        link->failure = check.message();
      }
      if (!link->failure.empty()) {
        co_await link->transport->Close();
        link->transport.reset();
      }
    }
  }
  link->done = true;
  link->ready.cancel();
}

}  // namespace

void FtpSession::ForgetDataConnection() {
  if (passive_) passive_->Abandon();
  passive_.reset();
  active_target_.reset();
}

Status FtpSession::OpenPassive() {
  ForgetDataConnection();
  asio::error_code error;
  const auto local = control_.socket().local_endpoint(error);
  if (error) return Status(ErrorCode::kIo, fmt::format("no local address: {}", error.message()));
  const auto executor = control_.socket().get_executor();
  const unsigned span = static_cast<unsigned>(env_.passive_max - env_.passive_min) + 1;
  const unsigned start = RandomNumber() % span;
  for (unsigned i = 0; i < span; ++i) {
    const auto port = static_cast<std::uint16_t>(env_.passive_min + (start + i) % span);
    auto link = std::make_shared<PassiveLink>(executor);
    link->acceptor.open(local.protocol(), error);
    if (error) return Status(ErrorCode::kIo, fmt::format("passive socket: {}", error.message()));
    // Each passive port's last connection waits out TIME_WAIT (the server closes first); the port can listen again.
    link->acceptor.set_option(asio::socket_base::reuse_address(true), error);
    link->acceptor.bind(asio::ip::tcp::endpoint(local.address(), port), error);
    if (error == asio::error::address_in_use || error == asio::error::access_denied) continue;
    if (!error) link->acceptor.listen(1, error);
    if (error == asio::error::address_in_use) continue;
    if (error) return Status(ErrorCode::kIo, fmt::format("passive port {}: {}", port, error.message()));
    link->port = port;
    link->protect = protect_data_;
    link->token = token_;
    link->ready.expires_at(std::chrono::steady_clock::time_point::max());
    asio::co_spawn(executor,
                   MakePassiveConnection(link, peer_address_, protect_data_ ? env_.tls : nullptr,
                                         env_.tls_session_reuse, env_.data_timeout, env_.handshake_timeout,
                                         client_.peer),
                   asio::detached);
    passive_ = std::move(link);
    return Status::Ok();
  }
  return Status(ErrorCode::kBusy,
                fmt::format("no free passive port in {}-{}; try again later", env_.passive_min, env_.passive_max));
}

asio::awaitable<void> FtpSession::Pasv(std::string_view /*argument*/) {
  if (epsv_all_) {
    Reply(503, "EPSV ALL is in force: use EPSV.");
    co_return;
  }
  asio::error_code error;
  const auto local = UnmappedAddress(control_.socket().local_endpoint(error).address());
  std::string advertised = env_.passive_address.empty() ? local.to_string() : env_.passive_address;
  if (env_.passive_address.empty() && !local.is_v4()) {
    Reply(425, "PASV works over IPv4 only: use EPSV.");
    co_return;
  }
  if (Status s = OpenPassive(); !s.ok()) {
    Reply(425, s.message());
    co_return;
  }
  Reply(227, FormatPasvReply(advertised, passive_->port));
}

asio::awaitable<void> FtpSession::Epsv(std::string_view argument) {
  const std::string upper = UpperCase(argument);
  if (upper == "ALL") {
    epsv_all_ = true;
    Reply(200, "EPSV ALL: only EPSV from now on.");
    co_return;
  }
  asio::error_code error;
  const auto local = UnmappedAddress(control_.socket().local_endpoint(error).address());
  if (!upper.empty() && upper != (local.is_v4() ? "1" : "2")) {
    Reply(522, local.is_v4() ? "Network protocol not supported, use (1)" : "Network protocol not supported, use (2)");
    co_return;
  }
  if (Status s = OpenPassive(); !s.ok()) {
    Reply(425, s.message());
    co_return;
  }
  Reply(229, FormatEpsvReply(passive_->port));
}

asio::awaitable<void> FtpSession::Port(std::string_view argument) {
  SetActiveTarget("PORT", ParsePortArgument(argument));
  co_return;
}

asio::awaitable<void> FtpSession::Eprt(std::string_view argument) {
  SetActiveTarget("EPRT", ParseEprtArgument(argument));
  co_return;
}

void FtpSession::SetActiveTarget(std::string_view verb, const Result<HostPort>& target) {
  if (!env_.active_mode) {
    Reply(502, "Active mode is off on this server: use PASV or EPSV.");
    return;
  }
  if (epsv_all_) {
    Reply(503, "EPSV ALL is in force: use EPSV.");
    return;
  }
  if (!target.ok()) {
    Reply(target.status().code() == ErrorCode::kNotSupported ? 522 : 501, target.status().message());
    return;
  }
  asio::error_code error;
  const auto address = asio::ip::make_address(target->address, error);
  // No bounce: data goes only to the client's own address, and never to a privileged port.
  if (error || UnmappedAddress(address) != peer_address_ || target->port < 1024) {
    Reply(504, fmt::format("{} must name your own address and a port of 1024 or more.", verb));
    return;
  }
  ForgetDataConnection();
  active_target_ = asio::ip::tcp::endpoint(control_.socket().remote_endpoint(error).address(), target->port);
  Reply(200, fmt::format("{} ok.", verb));
}

asio::awaitable<std::optional<Transport>> FtpSession::OpenData(std::string_view opening) {
  if (!passive_ && !active_target_) {
    Reply(425, "Use PASV or EPSV first.");
    co_return std::nullopt;
  }
  if (env_.require_tls && !protect_data_) {
    ForgetDataConnection();
    Reply(521, "Data connections must be protected: send PBSZ 0 and PROT P.");
    co_return std::nullopt;
  }
  if (passive_ && passive_->protect != protect_data_) {
    ForgetDataConnection();
    Reply(425, "PROT changed after PASV: send PASV or EPSV again.");
    co_return std::nullopt;
  }
  Reply(150, opening);
  if (!co_await Flush()) co_return std::nullopt;
  if (passive_) {
    const std::shared_ptr<PassiveLink> link = std::move(passive_);
    passive_.reset();
    if (!link->done) {
      // Made in the background (MakePassiveConnection), which bounds its own time; this bound is a backstop.
      co_await WithTimeout(link->ready.async_wait(asio::experimental::as_tuple(asio::use_awaitable)),
                           env_.data_timeout + env_.handshake_timeout + std::chrono::seconds(1));
    }
    if (!link->done || !link->transport) {
      link->Abandon();
      Reply(425, link->done ? link->failure : "No data connection was made in time.");
      co_return std::nullopt;
    }
    co_return std::optional<Transport>(std::move(*link->transport));
  }
  asio::ip::tcp::socket socket(control_.socket().get_executor());
  const auto target = *active_target_;
  active_target_.reset();
  auto connected =
      co_await WithTimeout(socket.async_connect(target, asio::experimental::as_tuple(asio::use_awaitable)),
                           env_.data_timeout);
  if (!connected || std::get<0>(*connected)) {
    Reply(425, "Cannot open the data connection to your address.");
    co_return std::nullopt;
  }
  asio::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (!protect_data_) co_return Transport(std::move(socket));
  Transport data(std::move(socket), env_.tls);
  if (data.native_ssl() != nullptr) BindSession(data.native_ssl(), &token_);
  const auto done = co_await WithTimeout(data.Handshake(), env_.handshake_timeout);
  Status check = !done || *done ? Status(ErrorCode::kIo, fmt::format("TLS on the data connection failed: {}",
                                                                        done ? done->message() : "timed out"))
                                : CheckSessionReuse(data, env_.tls_session_reuse, client_.peer);
  if (!check.ok()) {
    Reply(425, check.message());
    co_await data.Close();
    co_return std::nullopt;
  }
  co_return std::optional<Transport>(std::move(data));
}

asio::awaitable<void> FtpSession::CloseData(Transport& data, bool completed) {
  // The end of the data is said before the connection closes: a TLS close_notify, then our FIN. Then the client's
  // end is awaited (briefly), so that its close_notify, arriving after we closed, does not turn into a reset that
  // could cut what it has not read yet. A transfer that was stopped has nothing left to protect.
  if (!completed) {
    co_await data.Close();
    co_return;
  }
  co_await WithTimeout(data.SendCloseNotify(), env_.handshake_timeout);
  asio::error_code error;
  data.socket().shutdown(asio::ip::tcp::socket::shutdown_send, error);
  if (!error) {
    char sink[512];
    const auto deadline = std::chrono::steady_clock::now() + kLingerLimit;
    while (true) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      auto read = co_await WithTimeout(
          data.socket().async_read_some(asio::buffer(sink), asio::experimental::as_tuple(asio::use_awaitable)), left);
      if (!read || std::get<0>(*read)) break;
    }
  }
  co_await data.Close();
}

asio::awaitable<std::optional<Status>> FtpSession::WhileWatchingControl(asio::awaitable<Status> pump) {
  using namespace asio::experimental::awaitable_operators;
  auto outcome = co_await (std::move(pump) || WatchForAbort());
  if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
  co_return std::nullopt;
}

asio::awaitable<void> FtpSession::WatchForAbort() {
  auto buffer = std::make_unique_for_overwrite<char[]>(kControlRead);
  while (true) {
    // Commands read here wait their turn in deferred_ (data read is appended before this coroutine can be stopped,
    // so a command that arrives as the transfer ends is never lost).
    while (auto command = reader_.Next()) {
      const bool abort = command->verb == "ABOR";
      deferred_.push_back(std::move(*command));
      if (abort) co_return;
    }
    if (reader_.too_long() || deferred_.size() >= kMaxDeferred) {
      // Nothing more is read until the transfer ends (this wait is cancelled then).
      asio::steady_timer until_the_end(control_.socket().get_executor(), asio::steady_timer::time_point::max());
      co_await until_the_end.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      co_return;
    }
    const auto [error, n] = co_await control_.ReadSome(buffer.get(), kControlRead);
    if (error == asio::error::operation_aborted) co_return;  // the transfer ended first
    if (error) {
      control_lost_ = true;  // the client went away: the transfer stops too
      co_return;
    }
    reader_.Append(std::string_view(buffer.get(), n));
  }
}

void FtpSession::ReplyAborted() {
  aborted_transfer_ = true;
  Reply(426, "Transfer aborted (ABOR); the data connection is closed.");
}

asio::awaitable<void> FtpSession::List(std::string_view argument) { co_await SendListing(argument, ListFormat::kLong); }
asio::awaitable<void> FtpSession::Nlst(std::string_view argument) { co_await SendListing(argument, ListFormat::kNames); }
asio::awaitable<void> FtpSession::Mlsd(std::string_view argument) { co_await SendListing(argument, ListFormat::kFacts); }

asio::awaitable<void> FtpSession::SendListing(std::string_view argument, ListFormat format) {
  const std::string_view named = format == ListFormat::kFacts ? argument : WithoutListOptions(argument);
  const std::string path = PathOf(named);
  auto lister = user_->OpenDirectory(path);
  std::optional<service::FileInfo> single;  // LIST or NLST of a file: that file alone
  if (!lister.ok()) {
    if (lister.status().code() != ErrorCode::kNotDirectory || format == ListFormat::kFacts) {
      ReplyError(lister.status());
      co_return;
    }
    auto info = user_->Stat(path);
    if (!info.ok()) {
      ReplyError(info.status());
      co_return;
    }
    info->name = std::string(named);
    single = std::move(info).value();
  }
  auto data = co_await OpenData("Here comes the listing.");
  if (!data) co_return;
  const std::string owner = user_->user();
  const auto now = static_cast<std::int64_t>(::time(nullptr));
  const bool may_write = writable();
  std::string chunk;
  auto append = [&](const service::FileInfo& entry) {
    switch (format) {
      case ListFormat::kLong:
        chunk += FormatListLine(entry, owner, now);
        break;
      case ListFormat::kNames:
        chunk += OneLineName(entry.name);
        chunk += "\r\n";
        break;
      case ListFormat::kFacts:
        chunk += FormatFacts(entry, FactType(entry), may_write, entry.name);
        chunk += "\r\n";
        break;
    }
  };
  auto pump = [&]() -> asio::awaitable<Status> {
    if (single) append(*single);
    while (true) {
      if (!single) {
        auto batch = lister->Next(kListBatch);
        if (!batch.ok()) co_return Status(ErrorCode::kIo, fmt::format("The listing stopped: {}", batch.status().message()));
        if (batch->empty()) break;
        for (const auto& entry : *batch) append(entry);
      }
      if (!chunk.empty()) {
        const auto written = co_await WithTimeout(data->WriteAll(chunk), env_.idle_timeout);
        chunk.clear();
        if (!written || *written) {
          co_return Status(ErrorCode::kProtocol, "The data connection failed; the listing is incomplete.");
        }
      }
      if (single) break;
    }
    co_return Status::Ok();
  };
  const auto outcome = co_await WhileWatchingControl(pump());
  co_await CloseData(*data, outcome && outcome->ok());
  if (!outcome) {
    ReplyAborted();
  } else if (outcome->code() == ErrorCode::kIo) {
    Reply(451, outcome->message());
  } else if (!outcome->ok()) {
    Reply(426, outcome->message());
  } else {
    Reply(226, "Listing sent.");
  }
}

asio::awaitable<void> FtpSession::Retr(std::string_view argument) {
  const std::string path = PathOf(argument);
  const std::uint64_t offset = restart_at_;
  restart_at_ = 0;
  // FTP sends no checksum (HASH asks for one on its own): the bytes are not hashed when the checksum is remembered.
  auto download = user_->OpenDownload(path, offset, transfer::kDefaultChecksum, service::DownloadDigest::kNotSent);
  if (!download.ok()) {
    ReplyError(download.status());
    co_return;
  }
  const std::uint64_t count = download->size() - download->offset();
  auto data = co_await OpenData(fmt::format("Opening data connection for {} ({} bytes).", argument, count));
  if (!data) {
    download->Fail(Status(ErrorCode::kIo, "no data connection"), 0);
    co_return;
  }
  std::uint64_t sent = 0;
  auto pump = [&]() -> asio::awaitable<Status> {
    if (data->can_send_file()) {
      // Plain: the kernel moves the file to the socket (sendfile), in pieces that each must finish in time.
      while (sent < count) {
        const std::uint64_t piece = std::min(kSendFilePiece, count - sent);
        const auto done = co_await WithTimeout(data->SendFile(download->fd(), download->offset() + sent, piece),
                                               env_.idle_timeout);
        if (!done || *done) co_return Status(ErrorCode::kIo, done ? done->message() : "the client stopped reading");
        sent += piece;
      }
      co_return Status::Ok();
    }
    auto buffer = std::make_unique_for_overwrite<char[]>(kDataBuffer);
    while (sent < count) {
      auto n = download->Read(std::span<char>(buffer.get(), kDataBuffer));
      if (!n.ok()) co_return n.status();
      if (*n == 0) break;  // the file shrank: what there was is sent
      const auto done =
          co_await WithTimeout(data->WriteAll(std::string_view(buffer.get(), *n)), env_.idle_timeout);
      if (!done || *done) co_return Status(ErrorCode::kIo, done ? done->message() : "the client stopped reading");
      sent += *n;
    }
    co_return Status::Ok();
  };
  const auto outcome = co_await WhileWatchingControl(pump());
  co_await CloseData(*data, outcome && outcome->ok());
  if (!outcome) {
    download->Interrupted(sent);  // ABOR
    ReplyAborted();
    co_return;
  }
  if (!outcome->ok()) {
    download->Fail(*outcome, sent);
    Reply(426, fmt::format("Transfer aborted after {} bytes: {}", sent, outcome->message()));
    co_return;
  }
  download->Finish(sent);
  Reply(226, fmt::format("Transfer complete ({} bytes).", sent));
}

asio::awaitable<void> FtpSession::Stor(std::string_view argument) { co_await Receive(PathOf(argument), Transfer::kStore); }
asio::awaitable<void> FtpSession::Appe(std::string_view argument) { co_await Receive(PathOf(argument), Transfer::kAppend); }

asio::awaitable<void> FtpSession::Stou(std::string_view /*argument*/) {
  // A name no entry has: "ferry-" and 12 hex digits, tried until one is free.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string name = fmt::format("ferry-{:06x}{:06x}", RandomNumber() & 0xffffff, RandomNumber() & 0xffffff);
    const std::string path = PathOf(name);
    if (user_->Stat(path).status().code() == ErrorCode::kNotFound) {
      co_await Receive(path, Transfer::kStoreUnique);
      co_return;
    }
  }
  Reply(450, "No unique name was found; try again.");
}

asio::awaitable<void> FtpSession::Receive(std::string_view path, Transfer kind) {
  const std::uint64_t offset = restart_at_;
  restart_at_ = 0;
  if (kind == Transfer::kStore && path == cwd_) {
    Reply(501, "STOR wants a file name.");
    co_return;
  }
  service::UploadOptions options;
  options.resume = kind == Transfer::kAppend || offset > 0;
  // STOU's name was free when it was drawn: another upload that takes it meanwhile is not overwritten.
  if (kind == Transfer::kStoreUnique) options.target = service::UploadTarget::kMustNotExist;
  auto upload = user_->BeginUpload(path, options);
  if (!upload.ok()) {
    ReplyError(upload.status());
    co_return;
  }
  if (kind == Transfer::kAppend && upload->resumed() == 0) {
    // No interrupted upload to continue: APPE adds to the file itself, when there is one.
    auto existing = user_->Stat(path);
    if (existing.ok() && existing->type == service::FileType::kFile && existing->size > 0) {
      upload->Abandon();  // the upload below writes the line
      options.atomic = false;
      upload = user_->BeginUpload(path, options);
      if (!upload.ok()) {
        ReplyError(upload.status());
        co_return;
      }
    }
  }
  if (offset > upload->resumed()) {
    if (upload->resumed() == 0) upload->Discard();  // nothing was here: leave no empty partial behind
    Reply(554, fmt::format("Cannot restart at {}: {} bytes of this upload are here; send REST {} (or APPE).", offset,
                           upload->resumed(), upload->resumed()));
    co_return;
  }
  // REST n below what is here: the rest is written from n on, over what was there.
  const bool at_offset = offset > 0 && offset < upload->resumed();
  std::uint64_t position = offset > 0 ? offset : upload->resumed();
  const std::string opening = kind == Transfer::kStoreUnique
                                  ? fmt::format("FILE: {}", path.substr(path.rfind('/') + 1))
                                  : fmt::format("Ready to receive {}{}.", path,
                                                position > 0 ? fmt::format(" from byte {}", position) : "");
  auto data = co_await OpenData(opening);
  if (!data) co_return;  // the partial stays for a later resume
  auto pump = [&]() -> asio::awaitable<Status> {
    auto buffer = std::make_unique_for_overwrite<char[]>(kDataBuffer);
    while (true) {
      auto read = co_await WithTimeout(data->ReadSome(buffer.get(), kDataBuffer), env_.idle_timeout);
      if (!read) co_return Status(ErrorCode::kIo, "the client stopped sending");
      const asio::error_code error = std::get<0>(*read);
      const std::size_t n = std::get<1>(*read);
      if (error == asio::error::eof) co_return Status::Ok();  // complete (under TLS: after the client's close_notify)
      if (error) co_return Status(ErrorCode::kIo, error.message());
      const std::string_view bytes(buffer.get(), n);
      Status written = at_offset ? upload->WriteAt(position, bytes) : upload->Write(bytes);
      if (!written.ok()) co_return written;
      position += n;
    }
  };
  const auto outcome = co_await WhileWatchingControl(pump());
  co_await CloseData(*data, outcome && outcome->ok());
  if (!outcome) {
    ReplyAborted();  // the partial stays for a later resume
    co_return;
  }
  if (!outcome->ok()) {
    if (outcome->code() == ErrorCode::kQuota || outcome->code() == ErrorCode::kNoSpace) {
      upload->Discard();  // nothing is left behind of an upload that does not fit
      Reply(552, fmt::format("Upload refused: {}", outcome->message()));
    } else {
      // The partial stays: REST + STOR or APPE continues it.
      Reply(426, fmt::format("Transfer aborted after {} bytes ({}); resume with APPE or REST {} + STOR.", position,
                             outcome->message(), position));
    }
    co_return;
  }
  auto result = upload->Commit(std::nullopt);
  if (!result.ok()) {
    ReplyError(result.status());
    co_return;
  }
  if (kind == Transfer::kStoreUnique) {
    Reply(226, fmt::format("Transfer complete (FILE: {}).", path.substr(path.rfind('/') + 1)));
  } else {
    Reply(226, fmt::format("Transfer complete ({} bytes).", result->size));
  }
}

}  // namespace ferry::frontends::ftp
