// FtpSession: one FTP control connection, from the 220 greeting to QUIT, and the data connections it opens.
//
// What is FTP's own lives here: the command table (which commands need a login, the handler of each: a coroutine for
// a command that waits, a plain function for one that only replies), replies, the passive and active data
// connections, TLS on both, and the listing formats. Every rule about files, users and quotas is the file service's
// (src/service/): a handler parses its argument, calls the service, and answers.
//
// A session runs as one coroutine on one event-loop thread and owns its connections, so nothing in it needs a lock.
// Memory is bounded: the command reader holds at most one command line (4 KiB) beyond a 4 KiB read buffer, and a
// transfer holds one buffer of kDataBuffer while it runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "frontends/ftp/ftp_command.h"
#include "frontends/ftp/ftp_front_end.h"
#include "frontends/ftp/tls_binding.h"
#include "frontends/session_registry.h"
#include "frontends/transport.h"
#include "frontends/watchdog.h"
#include "service/user_session.h"

namespace ferry::frontends::ftp {

// The address itself, an IPv4-mapped IPv6 address taken as the IPv4 one (a dual-stack listener reports those).
inline asio::ip::address UnmappedAddress(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

// A passive data connection made in the background, from PASV/EPSV until a transfer takes it: some clients connect
// (and start TLS) at once and wait for that before sending the transfer command, others send the command and wait for
// its 150 reply before connecting, so neither side may wait for the other. Touched only on the session's loop.
struct PassiveLink {
  explicit PassiveLink(const asio::any_io_executor& executor) : acceptor(executor), ready(executor) {}
  // Stops waiting: closes the listener and a connection being made (never frees it under the coroutine).
  void Abandon();

  asio::ip::tcp::acceptor acceptor;
  std::uint16_t port = 0;              // where it listens
  std::optional<Transport> transport;  // the connection, once accepted (protected once `done`, when TLS)
  bool protect = false;                // TLS is started on it
  SessionToken token{};                // its control connection's (tls_binding.h)
  bool done = false;                   // made, or failed (then `failure` says why)
  std::string failure;
  asio::steady_timer ready;  // a wait on it ends when `done` is set
};

class FtpSession {
 public:
  // How a command runs: a coroutine, or a plain function.
  using Handler = asio::awaitable<void> (FtpSession::*)(std::string_view argument);
  using Answer = void (FtpSession::*)(std::string_view argument);
  // One entry of the command table.
  struct CommandEntry {
    std::string_view verb;
    bool before_login;  // allowed before a login
    // A command that waits (for the network, the file service) is a coroutine; one that only replies is a plain
    // function, which costs no coroutine frame.
    std::variant<Handler, Answer> run;
    std::string_view help;  // HELP's text for it
    // What the previous command set up and this one does not undo: REST's offset is for the transfer that follows
    // it at once (commands that set the transfer up keep it), RNFR's path for the RNTO that follows it.
    bool keeps_restart = false;
    bool keeps_rename = false;
  };

  FtpSession(Transport control, const FtpEnvironment& env);
  ~FtpSession();
  FtpSession(const FtpSession&) = delete;
  FtpSession& operator=(const FtpSession&) = delete;

  // Serves the connection until the client quits or disconnects, or a limit ends it.
  asio::awaitable<void> Run();

  // Every command the session answers, for the dispatcher, HELP, FEAT-independent tests and docs.
  static std::span<const CommandEntry> Commands();
  // The entry for an upper-cased verb, or null.
  static const CommandEntry* FindCommand(std::string_view verb);

 private:
  enum class Transfer { kStore, kAppend, kStoreUnique };

  // The entry that runs `command`, or null when it must not run (unknown, or not before a login), which is answered
  // here. Forgets a REST offset or RNFR path that `command` does not use.
  const CommandEntry* Admit(const Command& command);
  void Reply(int code, std::string_view text);
  // A reply for a failed service call: 550 for a missing or refused file, 552 for a full quota, and so on.
  void ReplyError(const Status& status);
  // Sends the replies so far; false if the connection broke.
  asio::awaitable<bool> Flush();
  // The same, when the connection takes them at once (nearly always): true when all went out. Otherwise Flush()
  // sends the rest (or reports the broken connection).
  bool FlushWithoutWaiting();
  std::string PathOf(std::string_view argument) const;
  bool logged_in() const { return user_ != nullptr; }
  bool writable() const;

  // Login and session (ftp_session.cc).
  asio::awaitable<void> User(std::string_view argument);
  asio::awaitable<void> Pass(std::string_view argument);
  asio::awaitable<void> Quit(std::string_view argument);
  void Noop(std::string_view argument);
  void Syst(std::string_view argument);
  void Feat(std::string_view argument);
  void Opts(std::string_view argument);
  void Help(std::string_view argument);
  void Clnt(std::string_view argument);
  void Type(std::string_view argument);
  void Mode(std::string_view argument);
  void Stru(std::string_view argument);
  void Allo(std::string_view argument);
  void Rest(std::string_view argument);
  asio::awaitable<void> Abor(std::string_view argument);
  asio::awaitable<void> Stat(std::string_view argument);
  asio::awaitable<void> Auth(std::string_view argument);
  void Pbsz(std::string_view argument);
  asio::awaitable<void> Prot(std::string_view argument);
  void Ccc(std::string_view argument);
  void Site(std::string_view argument);

  // Files and folders on the control connection (ftp_files.cc).
  void Pwd(std::string_view argument);
  asio::awaitable<void> Cwd(std::string_view argument);
  asio::awaitable<void> Cdup(std::string_view argument);
  asio::awaitable<void> Mkd(std::string_view argument);
  asio::awaitable<void> Rmd(std::string_view argument);
  asio::awaitable<void> Dele(std::string_view argument);
  asio::awaitable<void> Rnfr(std::string_view argument);
  asio::awaitable<void> Rnto(std::string_view argument);
  asio::awaitable<void> Size(std::string_view argument);
  asio::awaitable<void> Mdtm(std::string_view argument);
  asio::awaitable<void> Mfmt(std::string_view argument);
  asio::awaitable<void> Mlst(std::string_view argument);
  asio::awaitable<void> Hash(std::string_view argument);
  asio::awaitable<void> Avbl(std::string_view argument);

  // Data connections and transfers (ftp_data.cc).
  asio::awaitable<void> Pasv(std::string_view argument);
  asio::awaitable<void> Epsv(std::string_view argument);
  asio::awaitable<void> Port(std::string_view argument);
  asio::awaitable<void> Eprt(std::string_view argument);
  asio::awaitable<void> List(std::string_view argument);
  asio::awaitable<void> Nlst(std::string_view argument);
  asio::awaitable<void> Mlsd(std::string_view argument);
  asio::awaitable<void> Retr(std::string_view argument);
  asio::awaitable<void> Stor(std::string_view argument);
  asio::awaitable<void> Appe(std::string_view argument);
  asio::awaitable<void> Stou(std::string_view argument);

  // Opens a passive listener on a free port of the range, on the control connection's local address, and starts
  // accepting the client's connection on it in the background.
  Status OpenPassive();
  // PORT and EPRT: the client's address for the next data connection, if allowed.
  void SetActiveTarget(std::string_view verb, const Result<HostPort>& target);
  // Drops the passive listener or PORT address the next transfer would have used.
  void ForgetDataConnection();
  // Sends the 150 reply `opening`, then makes the data connection (accepting the client's, or connecting to its
  // PORT address) and protects it with TLS when PROT P is in force. nullopt when it failed (the reply was sent).
  asio::awaitable<std::optional<Transport>> OpenData(std::string_view opening);
  // Runs `pump` (moving a transfer's data) while reading the control connection, so that an ABOR sent meanwhile
  // stops it; other commands wait in deferred_ for the transfer's end. nullopt when it was stopped by ABOR or by the
  // control connection ending (control_lost_), else the pump's own status.
  asio::awaitable<std::optional<Status>> WhileWatchingControl(asio::awaitable<Status> pump);
  asio::awaitable<void> WatchForAbort();
  // 426 for a transfer stopped by ABOR (the ABOR itself is answered 226 next).
  void ReplyAborted();
  // Ends a data connection after a transfer: when it `completed`, a TLS close_notify and a FIN first, then a brief
  // wait for the client's end; otherwise it just closes.
  asio::awaitable<void> CloseData(Transport& data, bool completed);
  // A listing (LIST, NLST, MLSD) of `argument` on a data connection.
  enum class ListFormat { kLong, kNames, kFacts };
  asio::awaitable<void> SendListing(std::string_view argument, ListFormat format);
  asio::awaitable<void> Receive(std::string_view path, Transfer kind);
  // The argument of LIST or NLST without the `ls` options clients put first ("-la", "-a").
  static std::string_view WithoutListOptions(std::string_view argument);

  Transport control_;
  const FtpEnvironment& env_;
  std::shared_ptr<SessionHandle> handle_;
  Watchdog watchdog_;  // bounds waits on the control connection (cancels them: the session then says 421)
  service::ClientInfo client_;
  asio::ip::address peer_address_;
  CommandReader reader_;
  std::deque<Command> deferred_;   // read during a transfer, handled after it (before reader_'s)
  bool control_lost_ = false;      // the control connection ended during a transfer
  bool aborted_transfer_ = false;  // the last transfer was stopped by ABOR: the ABOR gets 226
  std::string output_;
  bool closing_ = false;
  bool broken_ = false;

  const SessionToken token_ = NewSessionToken();  // ties data connections' TLS sessions to this one
  bool control_tls_ = false;   // the control connection is protected
  bool protect_data_ = false;  // PROT P
  bool pbsz_done_ = false;
  std::string pending_user_;   // USER given, PASS awaited
  unsigned failed_logins_ = 0;
  std::chrono::steady_clock::time_point login_deadline_;
  std::unique_ptr<service::UserSession> user_;
  std::string cwd_ = "/";
  std::uint64_t restart_at_ = 0;   // REST, for the next RETR or STOR
  bool hash_md5_ = false;          // OPTS HASH MD5: HASH answers MD5 instead of SHA-256
  std::string rename_from_;        // RNFR, for the next RNTO
  bool epsv_all_ = false;          // EPSV ALL: PORT, EPRT and PASV refused from now on
  std::shared_ptr<PassiveLink> passive_;
  std::optional<asio::ip::tcp::endpoint> active_target_;
};

}  // namespace ferry::frontends::ftp
