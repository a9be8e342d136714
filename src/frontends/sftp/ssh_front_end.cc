#include "frontends/sftp/ssh_front_end.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/escape.h"
#include "common/words.h"
#include "frontends/sftp/sftp_server.h"
#include "frontends/sftp/ssh_exec.h"
#include "storage/ssh_keys.h"

// libssh 0.10 marks the accessors of a queued authentication message deprecated in favour of its server callbacks,
// which must answer at once. Queued messages are the only way to answer after the file service has decided (argon2id
// runs on the login pool), so they are used here.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace ferry::frontends::sftp {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Channel bytes taken in ahead of the SFTP server; past this the channel window closes and the client waits.
constexpr std::size_t kInputLimit = 2 * std::size_t{SftpServer::kMaxPacket};
// Most handed to libssh at once: what it copies into its output buffer, to go out before more is given.
constexpr std::size_t kWriteChunk = 256 * 1024;
// Most SFTP output in flight (sent, not yet acknowledged by a window adjust) on a channel. A client's window is often
// far larger (OpenSSH's sftp opens 2 MiB); filling it in one burst makes the client take in a whole window before it
// adjusts, re-packing its input buffer on every read, which halved download speed. Keeping a quarter-window in flight
// lets the adjusts come back while data still flows. A client that adjusts only when its window is low (PuTTY's code
// waits for half) sends no adjust at this cap: after kInFlightPatience without one, the channel goes uncapped.
constexpr std::size_t kMaxInFlight = 512 * 1024;
constexpr auto kInFlightPatience = std::chrono::milliseconds(100);
// A wait while output is pending is re-checked this often (an edge of writability can come before the wait starts).
constexpr auto kWritePoll = std::chrono::milliseconds(20);
// Any other wait is re-checked this often: libssh reads the socket inside calls of its own (a channel write, a read),
// so readiness the event loop was told of may already have been taken; a look at least once a second bounds the cost
// of such a missed wake-up.
constexpr auto kReadPoll = std::chrono::seconds(1);
// dopoll calls in a row before other sessions on the loop get a turn.
constexpr int kPumpBudget = 256;

// One connection's libssh session, driven from the event loop: Pump lets libssh handle what has arrived and send
// what it can; Wait sleeps until the socket has something for it (a dup of libssh's descriptor, which libssh may
// close on its own).
class SshLink {
 public:
  SshLink(asio::any_io_executor executor, ssh_session session, int fd)
      : session_(session), event_(ssh_event_new()), descriptor_(executor, ::dup(fd)) {}
  ~SshLink() {
    if (in_event_) ssh_event_remove_session(event_, session_);
    ssh_event_free(event_);
    ssh_disconnect(session_);
    ssh_free(session_);
  }
  SshLink(const SshLink&) = delete;
  SshLink& operator=(const SshLink&) = delete;

  ssh_session session() const { return session_; }
  // The dup of the connection's descriptor this link waits on: it stays open (and so its number is not reused) until
  // the link is destroyed, even after libssh has closed its own.
  int descriptor() { return descriptor_.native_handle(); }

  bool AddToEvent() {
    in_event_ = ssh_event_add_session(event_, session_) == SSH_OK;
    return in_event_;
  }
  // False when the connection is over (closed by the peer, or failed). more_ says whether libssh stopped with input
  // still waiting (the budget ran out), so the caller must come back without waiting for the socket.
  bool Pump() {
    more_ = true;
    for (int i = 0; i < kPumpBudget; ++i) {
      const int rc = ssh_event_dopoll(event_, 0);
      if (rc == SSH_ERROR) return false;
      if (rc == SSH_AGAIN) {
        more_ = false;
        break;
      }
    }
    return (ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0;
  }
  bool more() const { return more_; }
  // Ends a Wait now (it returns true): the caller has something to look at that is not on the socket.
  void Wake() {
    asio::error_code ignored;
    descriptor_.cancel(ignored);
  }
  bool write_pending() const { return (ssh_get_status(session_) & SSH_WRITE_PENDING) != 0; }

  // Waits until the socket is readable (or, with output pending, a short while), `also` is readable, or `deadline`;
  // false at the deadline.
  asio::awaitable<bool> Wait(Clock::time_point deadline, asio::posix::stream_descriptor* also = nullptr) {
    using namespace asio::experimental::awaitable_operators;
    const auto now = Clock::now();
    if (now >= deadline) co_return false;
    if (more_) {
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);  // others' turn, then on
      co_return true;
    }
    const Clock::duration poll = write_pending() ? Clock::duration(kWritePoll) : Clock::duration(kReadPoll);
    asio::steady_timer timer(co_await asio::this_coro::executor, std::min<Clock::duration>(deadline - now, poll));
    if (also != nullptr && also->is_open()) {
      auto result = co_await (descriptor_.async_wait(asio::posix::descriptor_base::wait_read, kAsTuple) ||
                              timer.async_wait(kAsTuple) ||
                              also->async_wait(asio::posix::descriptor_base::wait_read, kAsTuple));
      co_return result.index() != 1 || Clock::now() < deadline;
    }
    auto result = co_await (descriptor_.async_wait(asio::posix::descriptor_base::wait_read, kAsTuple) ||
                            timer.async_wait(kAsTuple));
    co_return result.index() == 0 || Clock::now() < deadline;
  }

 private:
  ssh_session session_;
  ssh_event event_;
  bool in_event_ = false;
  bool more_ = false;
  asio::posix::stream_descriptor descriptor_;
};

struct MessageFree {
  void operator()(ssh_message message) const { ssh_message_free(message); }
};
using MessagePtr = std::unique_ptr<std::remove_pointer_t<ssh_message>, MessageFree>;

// What the channel callbacks record; acted on after each Pump, never inside libssh.
struct ChannelState {
  ssh_channel channel = nullptr;
  bool sftp = false;                  // the sftp subsystem was started
  std::optional<std::string> command;  // an exec request, not yet started
  bool exec = false;                   // a command was asked for: its input is kept for it
  std::optional<std::string> refuse;  // a shell or legacy scp asked for: said, then the channel closes
  int refuse_status = 1;              // the exit status that goes with it (127: no such program)
  bool eof = false;
  bool closed = false;
  std::string input;  // channel data not yet given to the SFTP server
  std::size_t window_max = 0;  // the largest window the client has offered: minus the current one, what is in flight
  bool uncapped = false;       // the client waits for more than kMaxInFlight before it adjusts its window
  std::optional<Clock::time_point> capped_since;  // output waits at the cap, for an adjust, since then
  std::size_t capped_window = 0;                  // the window then
  ssh_channel_callbacks_struct callbacks{};
};

int OnData(ssh_session, ssh_channel, void* data, uint32_t length, int is_stderr, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  if (is_stderr != 0 || (!state->sftp && !state->exec)) return static_cast<int>(length);  // nothing reads it
  const std::size_t room = kInputLimit > state->input.size() ? kInputLimit - state->input.size() : 0;
  const std::size_t taken = std::min<std::size_t>(room, length);
  state->input.append(static_cast<const char*>(data), taken);
  return static_cast<int>(taken);
}
void OnEof(ssh_session, ssh_channel, void* userdata) { static_cast<ChannelState*>(userdata)->eof = true; }
void OnClose(ssh_session, ssh_channel, void* userdata) { static_cast<ChannelState*>(userdata)->closed = true; }
int OnSubsystem(ssh_session, ssh_channel, const char* name, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  if (std::string_view(name) != "sftp" || state->sftp || state->exec || state->refuse) return SSH_ERROR;
  state->sftp = true;
  return SSH_OK;
}
int OnExec(ssh_session, ssh_channel, const char* command, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  if (state->sftp || state->exec || state->refuse) return SSH_ERROR;
  const std::string_view text(command);
  if (text.starts_with("scp ")) {
    state->refuse = "ferryd: legacy scp (scp -O) is not served: use scp without -O, or sftp\r\n";
  } else {
    state->command = std::string(text);
    state->exec = true;
  }
  return SSH_OK;
}
int OnShell(ssh_session, ssh_channel, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  if (state->sftp || state->exec || state->refuse) return SSH_ERROR;
  state->refuse = "ferryd: this server has no shell: use sftp or scp\r\n";
  return SSH_OK;
}
int Refuse(ssh_session, ssh_channel, const char*, const char*, void*) { return SSH_ERROR; }
int RefusePty(ssh_session, ssh_channel, const char*, int, int, int, int, void*) { return SSH_ERROR; }

ssh_channel OnSessionChannel(ssh_session session, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  if (state->channel != nullptr) return nullptr;  // one channel per connection
  state->channel = ssh_channel_new(session);
  if (state->channel == nullptr) return nullptr;
  state->callbacks.userdata = state;
  state->callbacks.channel_data_function = OnData;
  state->callbacks.channel_eof_function = OnEof;
  state->callbacks.channel_close_function = OnClose;
  state->callbacks.channel_subsystem_request_function = OnSubsystem;
  state->callbacks.channel_exec_request_function = OnExec;
  state->callbacks.channel_shell_request_function = OnShell;
  state->callbacks.channel_env_request_function = Refuse;
  state->callbacks.channel_pty_request_function = RefusePty;
  ssh_callbacks_init(&state->callbacks);
  ssh_set_channel_callbacks(state->channel, &state->callbacks);
  return state->channel;
}

// The key an SSH client offered, as the user database keeps keys; nullopt for a kind Ferry does not accept.
std::optional<storage::SshPublicKey> OfferedKey(ssh_message message) {
  ssh_key key = ssh_message_auth_pubkey(message);
  if (key == nullptr) return std::nullopt;
  char* base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &base64) != SSH_OK) return std::nullopt;
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  std::string line = fmt::format("{} {}", type != nullptr ? type : "unknown", base64);
  ssh_string_free_char(base64);
  auto parsed = storage::ParseAuthorizedKey(line);
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

}  // namespace

SshFrontEnd::SshFrontEnd(SshEnvironment env) : env_(std::move(env)) {
  ssh_bind bind = ssh_bind_new();
  bool process_config = false;
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config);
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, env_.host_key_path.c_str());
  bind_ = bind;
}

SshFrontEnd::~SshFrontEnd() { ssh_bind_free(static_cast<ssh_bind>(bind_)); }

asio::awaitable<void> SshFrontEnd::Serve(asio::ip::tcp::socket socket, [[maybe_unused]] std::shared_ptr<void> slot) {
  std::string peer;
  service::ClientInfo client;
  try {
    asio::error_code error;
    const auto remote = socket.remote_endpoint(error);
    if (error) co_return;
    client.address = remote.address().to_string();
    client.peer = remote.address().is_v6() ? fmt::format("[{}]:{}", client.address, remote.port())
                                           : fmt::format("{}:{}", client.address, remote.port());
    client.protocol = "sftp";
    peer = client.peer;
    const auto executor = socket.get_executor();
    const int fd = socket.release();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ssh_session session = ssh_new();
    int accepted;
    {
      std::lock_guard lock(bind_mutex_);
      accepted = session != nullptr ? ssh_bind_accept_fd(static_cast<ssh_bind>(bind_), session, fd) : SSH_ERROR;
    }
    if (accepted != SSH_OK) {
      spdlog::error("{}: SSH session could not start: {}", peer,
                    session != nullptr ? ssh_get_error(static_cast<ssh_bind>(bind_)) : "out of memory");
      ssh_free(session);
      ::close(fd);
      co_return;
    }
    ssh_set_blocking(session, 0);
    ssh_set_auth_methods(session,
                         SSH_AUTH_METHOD_PUBLICKEY | (env_.password_auth ? SSH_AUTH_METHOD_PASSWORD : 0));
    SshLink link(executor, session, fd);
    // Known to the registry, so that removing the user (or passwd --logout) ends the session: it shuts the
    // connection down, on this loop, through the link's own descriptor (libssh may close its one at any time; the
    // link's stays open, and is forgotten here before the link closes it).
    auto handle = std::make_shared<SessionHandle>();
    handle->executor = executor;
    handle->fd = link.descriptor();
    if (env_.registry != nullptr) env_.registry->Add(handle);
    struct ForgetDescriptor {
      SessionHandle& handle;
      ~ForgetDescriptor() {
        handle.fd = -1;
        handle.wake = nullptr;
      }
    } forget_descriptor{*handle};
    spdlog::debug("{}: connected (sftp)", peer);
    const auto login_deadline = Clock::now() + env_.login_timeout;

    // Key exchange.
    int rc = ssh_handle_key_exchange(session);
    if (!link.AddToEvent()) co_return;
    while (rc == SSH_AGAIN) {
      if (!link.Pump()) rc = SSH_ERROR;
      if (rc == SSH_AGAIN) rc = ssh_handle_key_exchange(session);
      if (rc == SSH_AGAIN && !co_await link.Wait(login_deadline)) {
        spdlog::info("{}: SSH key exchange timed out", peer);
        co_return;
      }
    }
    if (rc != SSH_OK) {
      spdlog::info("{}: SSH key exchange failed: {}", peer, EscapeControl(ssh_get_error(session)));
      co_return;
    }

    // Authentication: each request is a queued message, answered once the file service has decided.
    std::unique_ptr<service::UserSession> user;
    unsigned failures = 0;
    while (!user) {
      if (!link.Pump()) co_return;
      MessagePtr message(ssh_message_get(session));
      if (!message) {
        if (!co_await link.Wait(login_deadline)) {
          spdlog::info("{}: closed after the login timeout (sftp)", peer);
          co_return;
        }
        continue;
      }
      const int type = ssh_message_type(message.get());
      const int method = ssh_message_subtype(message.get());
      if (type != SSH_REQUEST_AUTH ||
          (method != SSH_AUTH_METHOD_PUBLICKEY && (method != SSH_AUTH_METHOD_PASSWORD || !env_.password_auth))) {
        ssh_message_reply_default(message.get());
        continue;
      }
      const std::string name = ssh_message_auth_user(message.get()) != nullptr ? ssh_message_auth_user(message.get()) : "";
      Result<std::unique_ptr<service::UserSession>> login = Status(ErrorCode::kAuthFailed, "login incorrect");
      if (method == SSH_AUTH_METHOD_PASSWORD) {
        const char* password = ssh_message_auth_password(message.get());
        login = co_await env_.files->Login(client, name, password != nullptr ? password : "");
      } else {
        const auto key = OfferedKey(message.get());
        const int state = ssh_message_auth_publickey_state(message.get());
        if (state == SSH_PUBLICKEY_STATE_NONE) {
          // The client asks whether this key would do, before it signs.
          if (key && env_.files->AcceptsKey(name, *key)) {
            ssh_message_auth_reply_pk_ok_simple(message.get());
          } else {
            ssh_message_reply_default(message.get());
          }
          continue;
        }
        if (state != SSH_PUBLICKEY_STATE_VALID || !key) {
          ssh_message_reply_default(message.get());
          continue;
        }
        login = co_await env_.files->LoginWithKey(client, name, *key);
      }
      if (login.ok()) {
        ssh_message_auth_reply_success(message.get(), 0);
        user = std::move(login).value();
        if (env_.registry != nullptr) env_.registry->LoggedIn(handle, user->user());
        break;
      }
      ssh_message_reply_default(message.get());
      if (login.status().code() == ErrorCode::kAuthFailed && ++failures >= env_.max_login_attempts) {
        link.Pump();
        spdlog::info("{}: closed after {} failed logins (sftp)", peer, failures);
        co_return;
      }
    }

    // The session: channels one after another (a client may open another when one ends), each with the sftp
    // subsystem or a command; the connection stays until the client closes it, as OpenSSH's does.
    ChannelState state;
    ssh_server_callbacks_struct server_callbacks{};
    server_callbacks.userdata = &state;
    server_callbacks.channel_open_request_session_function = OnSessionChannel;
    ssh_callbacks_init(&server_callbacks);
    ssh_set_server_callbacks(session, &server_callbacks);
    std::unique_ptr<SftpServer> sftp;
    std::unique_ptr<SshExec> exec;
    auto idle_deadline = Clock::now() + env_.idle_timeout;
    std::string stream_error;
    // Ends the current channel: the exit status (0 unless the SFTP stream broke), EOF and close, then the client's
    // close, before another channel or the disconnect (a client cut off before that reports a failure: scp exits 1).
    // A program still running is killed and recorded as ended by the disconnect.
    auto end_channel = [&]() -> asio::awaitable<bool> {
      if (sftp) sftp->CloseAll();
      exec.reset();
      if (!stream_error.empty()) spdlog::info("{}: SFTP session ended: {}", peer, EscapeControl(stream_error));
      if (ssh_channel_is_open(state.channel)) {
        // The subsystem's end, as sftp-server's exit reads to the client.
        if (state.sftp) ssh_channel_request_send_exit_status(state.channel, stream_error.empty() ? 0 : 1);
        ssh_channel_send_eof(state.channel);
        ssh_channel_close(state.channel);
      }
      const auto close_deadline = Clock::now() + std::chrono::seconds(2);
      bool alive = true;
      // (Not one while condition `a && (b || c) && co_await d`: g++ 12 runs that co_await even when the left is false.)
      while (true) {
        alive = link.Pump();
        if (!alive || (!link.write_pending() && state.closed)) break;
        if (!co_await link.Wait(close_deadline)) break;
      }
      ssh_channel_free(state.channel);
      sftp.reset();
      state.channel = nullptr;
      state.sftp = state.exec = state.eof = state.closed = false;
      state.command.reset();
      state.refuse.reset();
      state.input.clear();
      state.window_max = state.capped_window = 0;
      state.uncapped = false;
      state.capped_since.reset();
      co_return alive && stream_error.empty();
    };
    // Starts the command the client asked for, or says on the channel why not.
    auto run_command = [&](const std::string& command) -> Result<service::RunningProgram> {
      const service::ProgramService* programs = env_.programs;
      if (programs == nullptr) {
        return Status(ErrorCode::kNotPermitted, "this server does not run commands over SSH: use sftp or scp");
      }
      const bool shell = programs->policy().allow_shell;
      std::vector<std::string> argv{command};
      if (!shell) {
        auto words = SplitCommand(command);
        if (!words.ok()) return words.status();
        argv = std::move(words).value();
      }
      if (argv.empty() || (shell && command.find_first_not_of(" \t") == std::string::npos)) {
        return Status(ErrorCode::kInvalid, "an empty command");
      }
      return programs->Start(*user, "/", std::move(argv), shell, true);
    };
    auto start_command = [&](const std::string& command) {
      auto program = run_command(command);
      if (!program.ok()) {
        state.refuse = fmt::format("ferryd: {}\r\n", program.status().message());
        // As a shell reports a program it cannot find.
        state.refuse_status = program.status().code() == ErrorCode::kNotFound ? 127 : 1;
        state.exec = false;
        return;
      }
      exec = std::make_unique<SshExec>(executor, std::move(program).value(), env_.programs->policy());
    };
    // A shutdown wakes the session to look at `draining` (SessionRegistry::DrainAll); until then, it shuts the
    // connection down.
    handle->wake = [&link] { link.Wake(); };
    bool shutting_down = false;
    while (true) {
      if (!link.Pump()) break;
      bool progress = false;
      if (handle->draining) {
        // The server is shutting down: a program asked for now is refused, one running is stopped, and SFTP takes
        // no new handle or change (also checked below, where the SFTP server is made).
        if (state.command) {
          state.command.reset();
          state.exec = false;
          state.refuse = "ferryd: the server is shutting down\r\n";
        }
        if (exec && !exec->exited()) exec->ShutDown();
        if (sftp) sftp->ShutDown();
      }
      if (state.command) {
        const std::string command = std::move(*state.command);
        state.command.reset();
        start_command(command);
        progress = true;
      }
      if (state.channel != nullptr && state.refuse) {
        ssh_channel_write_stderr(state.channel, state.refuse->data(), static_cast<uint32_t>(state.refuse->size()));
        ssh_channel_request_send_exit_status(state.channel, state.refuse_status);
        state.refuse_status = 1;
        ssh_channel_send_eof(state.channel);
        ssh_channel_close(state.channel);
        state.refuse.reset();
        state.sftp = false;
        progress = true;
      }
      if (exec) {
        if (Clock::now() >= exec->next_deadline()) co_await exec->Tick();
        // Data the callback had no room for waits in libssh's channel buffer: take it once the program has taken
        // what came before.
        while (state.input.size() < kInputLimit && ssh_channel_is_open(state.channel)) {
          char buffer[64 * 1024];
          const std::size_t room = std::min(sizeof buffer, kInputLimit - state.input.size());
          const int n = ssh_channel_read_nonblocking(state.channel, buffer, static_cast<uint32_t>(room), 0);
          if (n <= 0) break;
          state.input.append(buffer, static_cast<std::size_t>(n));
        }
        // The client's EOF ends the program's input only once libssh holds none of its data either.
        const bool input_eof = state.eof && ssh_channel_poll(state.channel, 0) <= 0;
        if (exec->Step(state.channel, state.input, input_eof, !link.write_pending())) progress = true;
        if (exec->done() && !link.write_pending()) {
          exec->Conclude(state.channel);
          if (!co_await end_channel()) break;
          idle_deadline = Clock::now() + env_.idle_timeout;
          continue;
        }
      }
      if (state.sftp && !sftp) sftp = std::make_unique<SftpServer>(user.get());
      if (sftp && handle->draining) sftp->ShutDown();
      if (state.sftp) {
        if (!state.input.empty()) {
          sftp->Append(state.input);
          state.input.clear();
          progress = true;
        }
        sftp->Process();
        // Data the callback had no room for waits in libssh's channel buffer: take it now that there is room.
        while (sftp->pending_input() < kInputLimit && ssh_channel_is_open(state.channel)) {
          char buffer[64 * 1024];
          const int n = ssh_channel_read_nonblocking(state.channel, buffer, sizeof buffer, 0);
          if (n <= 0) break;
          sftp->Append(std::string_view(buffer, static_cast<std::size_t>(n)));
          sftp->Process();
          progress = true;
        }
        if (sftp->failed()) stream_error = "malformed SFTP stream";
        std::string& out = sftp->output();
        std::size_t sent = 0;
        while (stream_error.empty() && sent < out.size() && !link.write_pending() &&
               ssh_channel_is_open(state.channel)) {
          const std::size_t window = ssh_channel_window_size(state.channel);
          state.window_max = std::max(state.window_max, window);
          const std::size_t in_flight = state.window_max - window;
          if (!state.uncapped && in_flight >= kMaxInFlight) {
            const auto now = Clock::now();
            if (!state.capped_since || window != state.capped_window) {
              state.capped_since = now;
              state.capped_window = window;
            } else if (now - *state.capped_since >= kInFlightPatience) {
              state.uncapped = true;
              state.capped_since.reset();
              continue;
            }
            break;  // a window adjust wakes the loop
          }
          state.capped_since.reset();
          const std::size_t room = state.uncapped ? kWriteChunk : kMaxInFlight - in_flight;
          const std::size_t chunk = std::min({kWriteChunk, room, out.size() - sent});
          const int n = ssh_channel_write(state.channel, out.data() + sent, static_cast<uint32_t>(chunk));
          if (n < 0) {
            stream_error = ssh_get_error(session);
            break;
          }
          if (n == 0) break;  // the client's window is closed
          sent += static_cast<std::size_t>(n);
          progress = true;
          if (!link.Pump()) break;
        }
        out.erase(0, sent);
      }
      // An SFTP channel ends at the client's EOF once every request it sent has been answered and sent.
      const auto sftp_done = [&] {
        if (!state.sftp || !state.eof || !sftp->output().empty() || link.write_pending()) return false;
        if (ssh_channel_poll(state.channel, 0) > 0) return false;  // data still in libssh
        sftp->Process();
        return sftp->output().empty();
      };
      if (state.channel != nullptr &&
          (!stream_error.empty() || state.closed || !ssh_channel_is_open(state.channel) || sftp_done())) {
        if (!co_await end_channel()) break;
        idle_deadline = Clock::now() + env_.idle_timeout;
        continue;
      }
      // libssh may have run the callbacks inside a write or a read above: what they recorded is handled before any
      // wait, since the socket has nothing more to say about it.
      if (progress || (!exec && !state.input.empty()) || state.refuse || state.command) {
        idle_deadline = Clock::now() + env_.idle_timeout;
        continue;
      }
      if (handle->draining) {
        // The server is shutting down (see the top of the loop): open files may finish, within the grace period. Once
        // nothing is open and every answer has gone out, the client is told why it ends.
        if (!exec && (!sftp || (sftp->open_handles() == 0 && sftp->output().empty())) && !link.write_pending()) {
          spdlog::info("{}: closed: the server is shutting down (sftp)", peer);
          ssh_session_set_disconnect_message(session, "the server is shutting down");
          shutting_down = true;
          break;
        }
      }
      if (exec) {
        // A running program is bounded by its own time limit, not the idle timeout; once it has ended, a client that
        // takes nothing more of its output is idle.
        const auto deadline = exec->exited() ? std::min(exec->next_deadline(), idle_deadline) : exec->next_deadline();
        if (!co_await link.Wait(deadline, &exec->wait_descriptor()) && exec->exited() &&
            Clock::now() >= idle_deadline) {
          spdlog::info("{}: closed after the idle timeout (sftp)", peer);
          break;
        }
        continue;
      }
      // Output held at the in-flight cap is looked at again when the patience for an adjust runs out.
      const auto wake = state.capped_since ? std::min(idle_deadline, *state.capped_since + kInFlightPatience)
                                           : idle_deadline;
      if (!co_await link.Wait(wake) && Clock::now() >= idle_deadline) {
        spdlog::info("{}: closed after the idle timeout (sftp)", peer);
        break;
      }
    }
    if (shutting_down) {
      // Straight to the disconnect (the link's end sends it), which the client shows: a channel closed first would
      // end an sftp or ssh client before it reads why.
      if (sftp) sftp->CloseAll();
      exec.reset();
    } else if (state.channel != nullptr) {
      co_await end_channel();
    }
    spdlog::debug("{}: disconnected (sftp)", peer);
  } catch (const std::exception& error) {
    spdlog::error("{}: sftp session ended by an exception: {}", peer, error.what());
  }
}

}  // namespace ferry::frontends::sftp
