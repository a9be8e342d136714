// FtpControl: a plain FTP control connection driven by hand (raw commands, raw replies), and the data connections a
// test opens itself, from any loopback address: what stock clients never send.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::testing {

struct FtpReply {
  int code = 0;      // 0 when the connection ended or timed out
  std::string text;  // every line, CRLFs included
};

class FtpControl {
 public:
  // Connects to 127.0.0.1:port, from `source` if given (such as 127.0.0.2), and reads the greeting.
  explicit FtpControl(std::uint16_t port, const std::string& source = "");
  ~FtpControl();
  FtpControl(const FtpControl&) = delete;
  FtpControl& operator=(const FtpControl&) = delete;

  const FtpReply& greeting() const { return greeting_; }
  // Sends `line` and CRLF, and reads the reply.
  FtpReply Command(const std::string& line);
  // Sends bytes as they are (no CRLF added).
  void SendRaw(const std::string& bytes);
  // Reads one reply (a multi-line reply whole), waiting up to 20 s.
  FtpReply Read();
  // Whether the server closed the connection (within 20 s), after any replies still to read.
  bool Closed();
  // USER and PASS; whether the login succeeded (230).
  bool Login(const std::string& user, const std::string& password);
  // EPSV, then a data connection to the port it names from `source` (""
  // for the default); -1 if either failed.
  int OpenPassive(const std::string& source = "");

 private:
  int fd_ = -1;
  std::string buffer_;
  FtpReply greeting_;
};

// Everything `fd` delivers until the peer closes it (at most 20 s); closes fd.
std::string ReadAllAndClose(int fd);
// Writes all of `bytes` to `fd` and closes it.
void WriteAllAndClose(int fd, const std::string& bytes);
// A TCP connection to 127.0.0.1:port from `source` (or the default address); -1 on failure.
int ConnectLoopback(std::uint16_t port, const std::string& source = "");

}  // namespace ferry::testing
