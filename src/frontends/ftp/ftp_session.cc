#include "frontends/ftp/ftp_session.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "frontends/ftp/timeout.h"
#include "service/paths.h"

namespace ferry::frontends::ftp {
namespace {

constexpr std::size_t kReadSize = 4 * 1024;

// The reply code for a failed service call: 552 for a full quota or disk ("exceeded storage allocation"), 553 for a
// name not allowed, 450 for a file in use, 451 for a local error, and 550 (not found, refused) for the rest.
int ReplyCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kQuota:
    case ErrorCode::kNoSpace:
      return 552;
    case ErrorCode::kNameTooLong:
      return 553;
    case ErrorCode::kInvalid:
      return 501;
    case ErrorCode::kBusy:
      return 450;
    case ErrorCode::kIo:
      return 451;
    case ErrorCode::kAuthFailed:
      return 530;
    default:
      return 550;
  }
}

}  // namespace

std::span<const FtpSession::CommandEntry> FtpSession::Commands() {
  using S = FtpSession;
  static const CommandEntry kCommands[] = {
      {"RETR", false, &S::Retr, "RETR <path>: download a file (from the REST offset)", true},
      {"STOR", false, &S::Stor, "STOR <path>: upload a file (from the REST offset)", true},
      {"PASV", false, &S::Pasv, "PASV: wait for a data connection (IPv4)", true},
      {"EPSV", false, &S::Epsv, "EPSV [ALL]: wait for a data connection", true},
      {"TYPE", false, &S::Type, "TYPE A|I: data type (bytes are sent as they are either way)", true},
      {"SIZE", false, &S::Size, "SIZE <path>: a file's size in bytes"},
      {"MDTM", false, &S::Mdtm, "MDTM <path>: a file's modification time (UTC)"},
      {"CWD", false, &S::Cwd, "CWD <path>: change folder"},
      {"PWD", false, &S::Pwd, "PWD: the current folder"},
      {"LIST", false, &S::List, "LIST [<path>]: a long listing"},
      {"NLST", false, &S::Nlst, "NLST [<path>]: names only"},
      {"MLSD", false, &S::Mlsd, "MLSD [<path>]: a listing with facts (RFC 3659)"},
      {"MLST", false, &S::Mlst, "MLST [<path>]: the facts of one entry"},
      {"DELE", false, &S::Dele, "DELE <path>: delete a file"},
      {"MKD", false, &S::Mkd, "MKD <path>: make a folder"},
      {"RMD", false, &S::Rmd, "RMD <path>: remove an empty folder"},
      {"RNFR", false, &S::Rnfr, "RNFR <path>: rename from (then RNTO)", false, true},
      {"RNTO", false, &S::Rnto, "RNTO <path>: rename to", false, true},
      {"REST", false, &S::Rest, "REST <offset>: resume the next RETR or STOR there", true},
      {"APPE", false, &S::Appe, "APPE <path>: append to a file (resumes an interrupted upload)", true},
      {"STOU", false, &S::Stou, "STOU: upload under a new unique name"},
      {"MFMT", false, &S::Mfmt, "MFMT <time> <path>: set a file's modification time"},
      {"HASH", false, &S::Hash, "HASH <path>: a file's SHA-256 (or MD5: OPTS HASH MD5)"},
      {"AVBL", false, &S::Avbl, "AVBL: bytes left in your quota"},
      {"CDUP", false, &S::Cdup, "CDUP: change to the parent folder"},
      {"XPWD", false, &S::Pwd, "XPWD: as PWD"},
      {"XCWD", false, &S::Cwd, "XCWD: as CWD"},
      {"XMKD", false, &S::Mkd, "XMKD: as MKD"},
      {"XRMD", false, &S::Rmd, "XRMD: as RMD"},
      {"PORT", false, &S::Port, "PORT h1,h2,h3,h4,p1,p2: connect to the client (when enabled)", true},
      {"EPRT", false, &S::Eprt, "EPRT |1|address|port|: connect to the client (when enabled)", true},
      {"ALLO", false, &S::Allo, "ALLO: accepted and ignored (room is reserved as a file grows)"},
      {"ABOR", false, &S::Abor, "ABOR: abort a transfer"},
      {"STAT", true, &S::Stat, "STAT [<path>]: the session's state, or a listing on the control connection"},
      {"NOOP", true, &S::Noop, "NOOP: do nothing"},
      {"USER", true, &S::User, "USER <name>: log in as"},
      {"PASS", true, &S::Pass, "PASS <password>: the password"},
      {"QUIT", true, &S::Quit, "QUIT: log out"},
      {"SYST", true, &S::Syst, "SYST: the system type"},
      {"FEAT", true, &S::Feat, "FEAT: the extensions supported"},
      {"OPTS", true, &S::Opts, "OPTS UTF8 ON | OPTS HASH SHA-256|MD5 | OPTS MLST <facts>"},
      {"HELP", true, &S::Help, "HELP [<command>]: this help"},
      {"CLNT", true, &S::Clnt, "CLNT <name>: the client's name (logged)"},
      {"MODE", true, &S::Mode, "MODE S: stream mode (the only one)"},
      {"STRU", true, &S::Stru, "STRU F: file structure (the only one)"},
      {"AUTH", true, &S::Auth, "AUTH TLS: protect the control connection"},
      {"PBSZ", true, &S::Pbsz, "PBSZ 0: required before PROT"},
      {"PROT", true, &S::Prot, "PROT P|C: protect data connections (P) or not (C)"},
      {"CCC", true, &S::Ccc, "CCC: refused (the control connection stays protected)"},
      {"SITE", true, &S::Site, "SITE: no site commands are offered"},
  };
  return kCommands;
}

const FtpSession::CommandEntry* FtpSession::FindCommand(std::string_view verb) {
  static const auto* const kByVerb = [] {
    auto* by_verb = new std::unordered_map<std::string_view, const CommandEntry*>;
    for (const CommandEntry& entry : Commands()) by_verb->emplace(entry.verb, &entry);
    return by_verb;
  }();
  const auto found = kByVerb->find(verb);
  return found == kByVerb->end() ? nullptr : found->second;
}

FtpSession::FtpSession(Transport control, const FtpEnvironment& env)
    : control_(std::move(control)),
      env_(env),
      handle_(std::make_shared<SessionHandle>()),
      watchdog_(control_.socket().get_executor(), handle_, Watchdog::Expiry::kCancel),
      login_deadline_(std::chrono::steady_clock::now() + env.login_timeout) {
  handle_->executor = control_.socket().get_executor();
  handle_->socket = &control_.socket();
  if (env.registry != nullptr) env.registry->Add(handle_);
}

FtpSession::~FtpSession() { handle_->socket = nullptr; }

asio::awaitable<void> FtpSession::Run() {
  client_.peer = control_.PeerName();
  {
    asio::error_code ignored;
    peer_address_ = UnmappedAddress(control_.socket().remote_endpoint(ignored).address());
    client_.address = peer_address_.to_string();
  }
  client_.protocol = "ftp";
  const std::string& peer = client_.peer;
  spdlog::debug("{}: connected (ftp)", peer);
  if (env_.implicit_tls) {
    if (control_.native_ssl() != nullptr) BindSession(control_.native_ssl(), &token_);
    const auto done = co_await WithTimeout(control_.Handshake(), env_.handshake_timeout);
    if (!done || *done) {
      spdlog::info("{}: FTPS handshake failed: {}", peer, done ? done->message() : "timed out");
      co_await control_.Close();
      co_return;
    }
    control_tls_ = true;
    protect_data_ = true;
  }
  Reply(220, "Ferry FTP server ready.");
  auto read_buffer = std::make_unique_for_overwrite<char[]>(kReadSize);
  bool timed_out = false;
  while (!closing_ && !broken_) {
    while (!closing_ && !broken_) {
      std::optional<Command> command;
      if (!deferred_.empty()) {
        command = std::move(deferred_.front());
        deferred_.pop_front();
      } else {
        command = reader_.Next();
      }
      if (!command) break;
      const CommandEntry* entry = Admit(*command);
      if (entry != nullptr) {
        if (const auto* answer = std::get_if<Answer>(&entry->run)) {
          (this->**answer)(command->argument);
        } else {
          co_await (this->*std::get<Handler>(entry->run))(command->argument);
        }
      }
      if (control_lost_) broken_ = true;
    }
    if (reader_.too_long()) {
      Reply(500, fmt::format("Command line too long (the limit is {} bytes).", kMaxCommandLine));
      closing_ = true;
    }
    // (Not `!(a || co_await b) || c`: g++ 12 runs a co_await in a || or && that is itself an operand of another one,
    // even when the left side decides.)
    bool flushed = FlushWithoutWaiting();
    if (!flushed) flushed = co_await Flush();
    if (!flushed || closing_) break;
    handle_->idle = true;
    if (handle_->draining) {
      Reply(421, "The server is shutting down.");
      co_await Flush();
      break;
    }
    const auto limit = logged_in() ? std::chrono::steady_clock::duration(env_.idle_timeout)
                                   : std::max(login_deadline_ - std::chrono::steady_clock::now(),
                                              std::chrono::steady_clock::duration::zero());
    watchdog_.Arm(limit);
    const auto [error, n] = co_await control_.ReadSome(read_buffer.get(), kReadSize);
    watchdog_.Disarm();
    handle_->idle = false;
    // The shutdown ended the wait for a command (SessionRegistry::DrainAll): said above, on the next turn.
    if (error && handle_->draining && error == asio::error::operation_aborted && !handle_->watchdog_fired) continue;
    if (error) {
      timed_out = handle_->watchdog_fired;
      break;
    }
    reader_.Append(std::string_view(read_buffer.get(), n));
  }
  if (timed_out) {
    spdlog::info("{}: closed after {}", peer, logged_in() ? "the idle timeout" : "the login timeout");
    Reply(421, logged_in() ? "Idle timeout: closing the connection." : "Login timeout: closing the connection.");
    co_await WithTimeout(control_.WriteAll(output_), std::chrono::seconds(1));
  }
  ForgetDataConnection();
  if (control_tls_ && !broken_) co_await WithTimeout(control_.SendCloseNotify(), std::chrono::seconds(1));
  co_await control_.Close();
  const std::string user = user_ ? user_->user() : std::string();
  user_.reset();  // the logout line
  spdlog::info("{}: disconnected (ftp){}", peer, user.empty() ? "" : " (user " + user + ")");
}

const FtpSession::CommandEntry* FtpSession::Admit(const Command& command) {
  if (command.verb.empty()) {
    Reply(500, "Empty command.");
    return nullptr;
  }
  const CommandEntry* entry = FindCommand(command.verb);
  if (entry == nullptr) {
    Reply(500, fmt::format("Unknown command '{}'.", command.verb.substr(0, 16)));
    return nullptr;
  }
  if (!entry->before_login && !logged_in()) {
    Reply(530, "Log in with USER and PASS first.");
    return nullptr;
  }
  if (!entry->keeps_restart) restart_at_ = 0;
  if (!entry->keeps_rename) rename_from_.clear();
  return entry;
}

void FtpSession::Reply(int code, std::string_view text) {
  AppendReply(output_, code, text);
}

void FtpSession::ReplyError(const Status& status) {
  Reply(ReplyCodeFor(status.code()), status.message().empty() ? std::string(status.code_name()) : status.message());
}

bool FtpSession::FlushWithoutWaiting() {
  if (broken_) return false;
  if (output_.empty()) return true;
  std::string_view rest = output_;
  asio::error_code error;
  control_.WriteNow(rest, error);
  if (error) {
    broken_ = true;
    output_.clear();
    return false;
  }
  output_.erase(0, output_.size() - rest.size());
  return output_.empty();
}

asio::awaitable<bool> FtpSession::Flush() {
  if (broken_) co_return false;
  if (output_.empty()) co_return true;
  // A client that stops reading must not hold the session forever.
  watchdog_.Arm(env_.idle_timeout);
  const auto error = co_await control_.WriteAll(output_);
  watchdog_.Disarm();
  output_.clear();
  if (error) {
    broken_ = true;
    co_return false;
  }
  co_return true;
}

std::string FtpSession::PathOf(std::string_view argument) const { return service::JoinPath(cwd_, argument); }

bool FtpSession::writable() const { return user_ != nullptr && user_->CheckWritable().ok(); }

asio::awaitable<void> FtpSession::User(std::string_view argument) {
  if (logged_in()) {
    Reply(530, "Already logged in; the user cannot be changed.");
    co_return;
  }
  if (env_.require_tls && !control_tls_) {
    Reply(530, "This server requires TLS: send AUTH TLS before logging in.");
    co_return;
  }
  if (argument.empty()) {
    Reply(501, "USER wants a user name.");
    co_return;
  }
  pending_user_ = std::string(argument);
  Reply(331, "Password required.");
}

asio::awaitable<void> FtpSession::Pass(std::string_view argument) {
  if (logged_in()) {
    Reply(230, "Already logged in.");
    co_return;
  }
  if (pending_user_.empty()) {
    Reply(503, "Send USER first.");
    co_return;
  }
  std::string name = std::move(pending_user_);
  pending_user_.clear();
  auto logged_in = co_await env_.files->Login(client_, name, std::string(argument));
  if (!logged_in.ok()) {
    if (logged_in.status().code() == ErrorCode::kAuthFailed) {
      ++failed_logins_;
      spdlog::warn("{}: failed ftp login as '{}' ({}/{})", client_.peer, name, failed_logins_,
                   env_.max_login_attempts);
      Reply(530, "Login incorrect.");
      if (failed_logins_ >= env_.max_login_attempts) closing_ = true;
    } else {
      Reply(530, logged_in.status().message());
    }
    co_return;
  }
  user_ = std::move(logged_in).value();
  if (env_.registry != nullptr) env_.registry->LoggedIn(handle_, user_->user());
  cwd_ = "/";
  Reply(230, fmt::format("Logged in as {}.", user_->user()));
}

asio::awaitable<void> FtpSession::Quit(std::string_view /*argument*/) {
  Reply(221, "Goodbye.");
  closing_ = true;
  co_return;
}

void FtpSession::Noop(std::string_view /*argument*/) {
  Reply(200, "NOOP ok.");
}

void FtpSession::Syst(std::string_view /*argument*/) {
  Reply(215, "UNIX Type: L8");
}

void FtpSession::Feat(std::string_view /*argument*/) {
  std::string text = "Extensions supported:\n";
  if (env_.tls != nullptr) text += " AUTH TLS\n PBSZ\n PROT\n";
  text +=
      " EPRT\n EPSV\n MDTM\n MFMT\n SIZE\n REST STREAM\n"
      " MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\n"
      " UTF8\n TVFS\n CLNT\n HASH SHA-256*;MD5;\n AVBL\nEnd";
  Reply(211, text);
}

void FtpSession::Opts(std::string_view argument) {
  const std::string upper = UpperCase(argument);
  if (upper == "UTF8 ON" || upper == "UTF8") {
    Reply(200, "UTF8 is always on.");
  } else if (upper.rfind("MLST", 0) == 0) {
    Reply(200, "MLST OPTS type;size;modify;perm;unique;UNIX.mode;");
  } else if (upper == "HASH") {
    Reply(200, hash_md5_ ? "MD5" : "SHA-256");
  } else if (upper == "HASH SHA-256" || upper == "HASH MD5") {
    hash_md5_ = upper == "HASH MD5";
    Reply(200, hash_md5_ ? "MD5" : "SHA-256");
  } else if (upper.rfind("HASH ", 0) == 0) {
    Reply(501, "HASH offers SHA-256 and MD5.");
  } else {
    Reply(501, "Unknown option.");
  }
}

void FtpSession::Help(std::string_view argument) {
  const std::string wanted = UpperCase(argument);
  std::string text;
  for (const CommandEntry& entry : Commands()) {
    if (!wanted.empty() && entry.verb != wanted) continue;
    text += fmt::format(" {}\n", entry.help);
  }
  if (text.empty()) {
    Reply(502, fmt::format("Unknown command '{}'.", wanted.substr(0, 16)));
    return;
  }
  Reply(214, "The commands recognized are:\n" + text + "Help OK.");
}

void FtpSession::Clnt(std::string_view argument) {
  spdlog::debug("{}: ftp client '{}'", client_.peer, argument.substr(0, 64));
  Reply(200, "Noted.");
}

void FtpSession::Type(std::string_view argument) {
  auto ascii = ParseTypeIsAscii(argument);
  if (!ascii.ok()) {
    Reply(504, ascii.status().message());
    return;
  }
  Reply(200, *ascii ? "Type set to A (files are sent as they are)." : "Type set to I.");
}

void FtpSession::Mode(std::string_view argument) {
  if (argument == "S" || argument == "s") {
    Reply(200, "Mode set to S.");
  } else {
    Reply(504, "Only MODE S (stream) is supported.");
  }
}

void FtpSession::Stru(std::string_view argument) {
  if (argument == "F" || argument == "f") {
    Reply(200, "Structure set to F.");
  } else {
    Reply(504, "Only STRU F (file) is supported.");
  }
}

void FtpSession::Allo(std::string_view /*argument*/) {
  Reply(202, "ALLO is not needed: room is reserved as a file grows.");
}

void FtpSession::Rest(std::string_view argument) {
  auto offset = ParseRestOffset(argument);
  if (!offset.ok()) {
    Reply(501, offset.status().message());
    return;
  }
  restart_at_ = *offset;
  Reply(350, fmt::format("Restarting at {}. Send STOR or RETR.", restart_at_));
}

asio::awaitable<void> FtpSession::Abor(std::string_view /*argument*/) {
  ForgetDataConnection();
  if (aborted_transfer_) {
    aborted_transfer_ = false;
    Reply(226, "ABOR successful.");
  } else {
    Reply(225, "No transfer to abort.");
  }
  co_return;
}

asio::awaitable<void> FtpSession::Stat(std::string_view argument) {
  if (argument.empty() || !logged_in()) {
    std::string text = fmt::format("Ferry FTP server status:\n Connected from {}\n", client_.address);
    text += logged_in() ? fmt::format(" Logged in as {}\n", user_->user()) : std::string(" Not logged in\n");
    text += fmt::format(" Control connection {}; data connections {}\n", control_tls_ ? "protected (TLS)" : "plain",
                        protect_data_ ? "protected (TLS)" : "plain");
    Reply(211, text + "End of status.");
    co_return;
  }
  // STAT <path>: the listing on the control connection.
  const std::string path = PathOf(WithoutListOptions(argument));
  auto info = user_->Stat(path);
  if (!info.ok()) {
    ReplyError(info.status());
    co_return;
  }
  const auto now = static_cast<std::int64_t>(::time(nullptr));
  std::string text = fmt::format("Status of {}:\n", path);
  if (info->type != service::FileType::kDirectory) {
    info->name = std::string(argument);
    std::string line = FormatListLine(*info, user_->user(), now);
    line.resize(line.size() - 2);
    text += " " + line + "\n";
  } else {
    auto lister = user_->OpenDirectory(path);
    if (!lister.ok()) {
      ReplyError(lister.status());
      co_return;
    }
    // On the control connection the listing is bounded: a folder of millions of entries belongs on a data connection.
    constexpr std::size_t kMaxStatEntries = 10000;
    std::size_t shown = 0;
    while (shown < kMaxStatEntries) {
      auto batch = lister->Next(256);
      if (!batch.ok() || batch->empty()) break;
      for (const auto& entry : *batch) {
        std::string line = FormatListLine(entry, user_->user(), now);
        line.resize(line.size() - 2);
        text += " " + line + "\n";
        ++shown;
      }
    }
  }
  Reply(213, text + "End of status.");
}

asio::awaitable<void> FtpSession::Auth(std::string_view argument) {
  const std::string mechanism = UpperCase(argument);
  if (env_.tls == nullptr) {
    Reply(502, "TLS is not available on this server.");
    co_return;
  }
  if (control_tls_) {
    Reply(503, "The control connection is already protected.");
    co_return;
  }
  if (mechanism != "TLS" && mechanism != "TLS-C" && mechanism != "SSL") {
    Reply(504, "AUTH TLS is the only mechanism.");
    co_return;
  }
  Reply(234, "Proceed with the TLS handshake.");
  if (!co_await Flush()) co_return;
  // Anything the client sent after AUTH came unprotected: it is dropped, never run as if it had come over TLS.
  reader_.Clear();
  control_ = Transport(std::move(control_.socket()), env_.tls);
  handle_->socket = &control_.socket();
  if (control_.native_ssl() != nullptr) BindSession(control_.native_ssl(), &token_);
  const auto done = co_await WithTimeout(control_.Handshake(), env_.handshake_timeout);
  if (!done || *done) {
    spdlog::info("{}: AUTH TLS handshake failed: {}", client_.peer, done ? done->message() : "timed out");
    broken_ = true;
    co_return;
  }
  control_tls_ = true;
}

void FtpSession::Pbsz(std::string_view argument) {
  if (!control_tls_) {
    Reply(503, "PBSZ needs AUTH TLS first.");
    return;
  }
  pbsz_done_ = true;
  Reply(200, argument == "0" ? "PBSZ=0" : "PBSZ=0 (the only size for TLS)");
}

asio::awaitable<void> FtpSession::Prot(std::string_view argument) {
  if (!control_tls_) {
    Reply(503, "PROT needs AUTH TLS first.");
    co_return;
  }
  if (!pbsz_done_) {
    Reply(503, "PROT needs PBSZ first.");
    co_return;
  }
  if (argument == "P" || argument == "p") {
    protect_data_ = true;
    Reply(200, "Data connections will be protected.");
  } else if (argument == "C" || argument == "c") {
    if (env_.require_tls) {
      Reply(534, "This server requires protected data connections (PROT P).");
      co_return;
    }
    protect_data_ = false;
    Reply(200, "Data connections will be plain.");
  } else {
    Reply(504, "PROT P and PROT C are the only levels.");
  }
}

void FtpSession::Ccc(std::string_view /*argument*/) {
  Reply(534, "CCC is refused: the control connection stays protected.");
}

void FtpSession::Site(std::string_view /*argument*/) {
  Reply(502, "No SITE commands are offered.");
}

}  // namespace ferry::frontends::ftp
