// SftpServer: SFTP version 3 (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it) on one user's session.
//
// Pure: bytes of the channel go in (Append), replies come out (output); no socket, no SSH. Requests are answered in
// the order they arrive, as many as have arrived, so a client may keep many in flight. Every length read from the
// stream is checked against a limit before it is used; a packet that breaks the framing ends the stream (failed()).
// Used on one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "service/user_session.h"

namespace ferry::frontends::sftp {

class SftpServer {
 public:
  // Largest packet taken in (a WRITE of kMaxWriteLength and its header fit).
  static constexpr std::uint32_t kMaxPacket = 256 * 1024 + 1024;
  // Longest READ answered (a longer one gets this much, as OpenSSH's server does) and WRITE accepted.
  static constexpr std::uint32_t kMaxReadLength = 256 * 1024;
  static constexpr std::uint32_t kMaxWriteLength = 256 * 1024;
  // Handles open at once; one more is refused with a failure status.
  static constexpr std::size_t kMaxHandles = 256;
  // Replies waiting to be sent past which no further request is taken in (the channel then pushes back).
  static constexpr std::size_t kOutputHighWater = 4 * 1024 * 1024;

  // REQUIRES: `session` outlives this server.
  explicit SftpServer(service::UserSession* session);
  ~SftpServer();
  SftpServer(const SftpServer&) = delete;
  SftpServer& operator=(const SftpServer&) = delete;

  // Takes in bytes of the stream; complete requests are answered by Process.
  void Append(std::string_view bytes) { input_.append(bytes.data(), bytes.size()); }
  // Bytes taken in and not yet processed.
  std::size_t pending_input() const { return input_.size() - consumed_; }
  // Answers every complete request while the output is below kOutputHighWater.
  void Process();
  // Replies to send, in order; the caller erases what it sent.
  std::string& output() { return output_; }
  // The stream broke SFTP's framing (a length past the limits, a packet before INIT): close the channel.
  bool failed() const { return failed_; }
  // Ends every open transfer: downloads are finished with what was read, uploads left as partials for a resume.
  void CloseAll();
  // The server is shutting down: requests that would open a handle or change something are refused from now on.
  void ShutDown() { shutting_down_ = true; }
  // Handles (files and folders) the client has open.
  std::size_t open_handles() const { return handles_.size(); }

 private:
  struct Handle;
  class Reader;

  void Dispatch(std::uint8_t type, std::string_view body);
  // While shutting down, refuses request `id` (a status is sent) and returns true.
  bool RefusedForShutdown(std::uint32_t id);
  void HandleOpen(std::uint32_t id, Reader& in);
  void HandleClose(std::uint32_t id, Reader& in);
  void HandleRead(std::uint32_t id, Reader& in);
  void HandleWrite(std::uint32_t id, Reader& in);
  void HandleOpenDir(std::uint32_t id, Reader& in);
  void HandleReadDir(std::uint32_t id, Reader& in);
  void HandleStat(std::uint32_t id, Reader& in, bool follow);
  void HandleFstat(std::uint32_t id, Reader& in);
  // SETSTAT, and lsetstat@openssh.com (`follow` false: a link is changed itself).
  void HandleSetStat(std::uint32_t id, Reader& in, bool follow);
  void HandleFsetStat(std::uint32_t id, Reader& in);
  void HandleRealPath(std::uint32_t id, Reader& in);
  void HandleRename(std::uint32_t id, Reader& in, bool posix);
  void HandleReadLink(std::uint32_t id, Reader& in);
  void HandleSymlink(std::uint32_t id, Reader& in);
  void HandleExtended(std::uint32_t id, Reader& in);
  void HandleStatvfs(std::uint32_t id);
  void HandleLimits(std::uint32_t id);

  // The handle a request names (and its number, in `number`), or null (a status is then sent).
  struct Handle* FindHandle(std::uint32_t id, std::string_view handle, std::uint32_t* number = nullptr);
  std::optional<std::uint32_t> AddHandle(std::uint32_t id, std::unique_ptr<struct Handle> handle);
  // The virtual path a client path names ("" and "." are the home).
  std::string PathOf(std::string_view path) const;

  void SendStatus(std::uint32_t id, std::uint32_t code, std::string_view message);
  void SendError(std::uint32_t id, const Status& status);
  void SendHandle(std::uint32_t id, std::uint32_t handle);
  void SendAttrs(std::uint32_t id, const service::FileInfo& info);
  void SendName(std::uint32_t id, std::string_view name, const service::FileInfo* info);
  // Starts a packet of `type` for request `id`; FinishPacket writes its length.
  std::size_t BeginPacket(std::uint8_t type, std::optional<std::uint32_t> id);
  void FinishPacket(std::size_t start);

  service::UserSession* session_;
  std::string input_;
  std::size_t consumed_ = 0;
  std::string output_;
  bool initialised_ = false;
  bool failed_ = false;
  bool shutting_down_ = false;
  std::uint32_t next_handle_ = 1;
  std::map<std::uint32_t, std::unique_ptr<struct Handle>> handles_;
};

}  // namespace ferry::frontends::sftp
