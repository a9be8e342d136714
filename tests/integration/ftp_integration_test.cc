// FTP and FTPS against a real ferryd, with the stock clients people use (curl, lftp, wget, Python's ftplib) and with
// raw commands for what those clients never send: the jail, quotas, permissions, limits, passive-port theft, bounce
// attempts and the audit log, all through the file service the Ferry protocol uses too.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/audit_lines.h"
#include "support/ftp_control.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/test_files.h"
#include "support/test_server.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A server with FTP: over TLS (FTPS, the defaults) unless `plain`, which serves plain FTP only.
TestServerOptions FtpServer(bool plain, const std::string& ftp_settings = "", const std::string& other = "") {
  TestServerOptions options;
  options.ftp = true;
  options.tls = !plain;
  options.config = other + "[ftp]\n" + (plain ? "require_tls = false\n" : "") + ftp_settings;
  return options;
}

// Runs a stock client with HOME in `home` (lftp and wget keep state there).
ProcessResult RunClient(const std::vector<std::string>& argv, const TempDir& home, const std::string& input = "") {
  return RunProcess(argv, {{"HOME", home.path()}, {"LC_ALL", "C"}}, input, std::chrono::seconds(120));
}

std::string Url(const TestServer& server, const std::string& path = "/") {
  return "ftp://127.0.0.1:" + std::to_string(server.ftp_port()) + path;
}

void SetQuota(const TestServer& server, const std::string& user, const std::string& size) {
  const auto result = RunProcess({FerrydPath(), "user", "set-quota", "--root", server.root(), user, size});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// ---------------------------------------------------------------------------------------------------------------
// Stock clients

TEST(FtpClients, CurlOverPlainFtpUploadsListsDownloadsAndResumes) {
  TestServer server(FtpServer(/*plain=*/true));
  TempDir local;
  const std::string data = RandomBytes(3 * 1024 * 1024 + 17, 1);
  WriteFile(local.path() + "/big.bin", data);
  const std::vector<std::string> curl = {"/usr/bin/curl", "-sS", "--max-time", "60", "-u", "alice:alice-secret"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = curl;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunClient(argv, local);
  };
  auto up = with({"-T", local.path() + "/big.bin", Url(server, "/docs/"), "--ftp-create-dirs"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/docs/big.bin") == data);
  auto list = with({Url(server, "/docs/")});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr(" alice alice "));
  EXPECT_THAT(list.out, HasSubstr(std::to_string(data.size()) + " "));
  EXPECT_THAT(list.out, HasSubstr(" big.bin\n")) << list.out;  // curl turns the listing's CRLFs into LFs
  // Download by EPSV and by PASV.
  auto down = with({"-o", local.path() + "/down.bin", Url(server, "/docs/big.bin")});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_TRUE(ReadFile(local.path() + "/down.bin") == data);
  auto pasv = with({"--disable-epsv", "-o", local.path() + "/pasv.bin", Url(server, "/docs/big.bin")});
  ASSERT_EQ(pasv.exit_code, 0) << pasv.err;
  EXPECT_TRUE(ReadFile(local.path() + "/pasv.bin") == data);
  // An upload cut off after 1 MB (a reset, not a clean end) is continued by curl -C -: SIZE, then APPE.
  {
    FtpControl ftp(server.ftp_port());
    ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
    const int cut = ftp.OpenPassive();
    ASSERT_EQ(ftp.Command("STOR docs/resumed-up.bin").code, 150);
    ASSERT_EQ(::send(cut, data.data(), 1024 * 1024, MSG_NOSIGNAL), 1024 * 1024);
    ::linger reset{1, 0};
    ::setsockopt(cut, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(cut);
    EXPECT_EQ(ftp.Read().code, 426);
  }
  EXPECT_FALSE(std::filesystem::exists(server.home("alice") + "/docs/resumed-up.bin"));
  auto continued = with({"-C", "-", "-T", local.path() + "/big.bin", Url(server, "/docs/resumed-up.bin")});
  ASSERT_EQ(continued.exit_code, 0) << continued.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/docs/resumed-up.bin") == data);
  // Resume: the first megabyte is already here; curl asks for the rest with REST.
  WriteFile(local.path() + "/resumed.bin", data.substr(0, 1024 * 1024));
  auto resumed = with({"-C", "-", "-o", local.path() + "/resumed.bin", Url(server, "/docs/big.bin")});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(ReadFile(local.path() + "/resumed.bin") == data);
}

TEST(FtpClients, CurlOverFtpsResumesTheControlSessionOnDataConnections) {
  TestServer server(FtpServer(/*plain=*/false));
  ASSERT_TRUE(server.started());
  TempDir local;
  const std::string data = RandomBytes(2 * 1024 * 1024 + 5, 2);
  WriteFile(local.path() + "/f.bin", data);
  const std::vector<std::string> curl = {"/usr/bin/curl", "-sS", "--max-time", "60", "--ssl-reqd", "-k",
                                         "-u",            "alice:alice-secret"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = curl;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunClient(argv, local);
  };
  auto up = with({"-T", local.path() + "/f.bin", Url(server)});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_TRUE(ReadFile(server.home("alice") + "/f.bin") == data);
  auto down = with({"--disable-epsv", "-o", local.path() + "/back.bin", Url(server, "/f.bin")});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_TRUE(ReadFile(local.path() + "/back.bin") == data);
  // Every data connection resumed the control connection's session: none was refused.
  EXPECT_THAT(server.process().ReadStderrNow(), Not(HasSubstr("did not resume")));
  // Plain FTP is refused before login.
  auto plain = RunClient({"/usr/bin/curl", "-sS", "--max-time", "30", "-u", "alice:alice-secret", Url(server)}, local);
  EXPECT_NE(plain.exit_code, 0);
}

TEST(FtpClients, LftpMirrorsATreeBothWaysOverFtpsAndRegetsAFile) {
  TestServer server(FtpServer(/*plain=*/false));
  TempDir local;
  const std::string tree = local.path() + "/tree";
  std::filesystem::create_directories(tree + "/sub/deeper");
  for (int i = 0; i < 1000; ++i) {
    const std::string folder = i % 3 == 0 ? tree : i % 3 == 1 ? tree + "/sub" : tree + "/sub/deeper";
    WriteFile(folder + "/f" + std::to_string(i), RandomBytes(static_cast<std::size_t>(i * 7 + 1), 100 + i));
  }
  const std::string open = "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; "
                           "set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; "
                           "open -u alice,alice-secret -p " + std::to_string(server.ftp_port()) + " 127.0.0.1; ";
  auto up = RunClient({"/usr/bin/lftp", "-c", open + "mirror -R --parallel=8 " + tree + " tree"}, local);
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto down = RunClient({"/usr/bin/lftp", "-c", open + "mirror --parallel=8 tree " + local.path() + "/back"}, local);
  ASSERT_EQ(down.exit_code, 0) << down.err;
  auto same = RunProcess({"/usr/bin/diff", "-r", tree, server.home("alice") + "/tree"});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  same = RunProcess({"/usr/bin/diff", "-r", tree, local.path() + "/back"});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  // reget continues a download cut short.
  const std::string big = RandomBytes(1024 * 1024, 3);
  WriteFile(server.home("alice") + "/big.bin", big);
  WriteFile(local.path() + "/big.bin", big.substr(0, 300000));
  auto reget = RunClient({"/usr/bin/lftp", "-c", open + "lcd " + local.path() + "; reget big.bin"}, local);
  ASSERT_EQ(reget.exit_code, 0) << reget.err;
  EXPECT_TRUE(ReadFile(local.path() + "/big.bin") == big);
}

// The ftplib script: logs in over FTPS and runs `body` with `f` as the session (`Resuming` resumes sessions).
std::string FtplibScript(std::uint16_t port, const std::string& client_class, const std::string& body) {
  return "import ftplib, ssl, io, sys\n"
         "ctx = ssl.create_default_context()\n"
         "ctx.check_hostname = False\n"
         "ctx.verify_mode = ssl.CERT_NONE\n"
         "class Resuming(ftplib.FTP_TLS):\n"
         "    def ntransfercmd(self, cmd, rest=None):\n"
         "        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)\n"
         "        if self._prot_p:\n"
         "            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)\n"
         "        return conn, size\n"
         "f = " + client_class + "(context=ctx)\n"
         "f.connect('127.0.0.1', " + std::to_string(port) + ", timeout=20)\n"
         "f.login('alice', 'alice-secret')\n"
         "f.prot_p()\n" + body;
}

TEST(FtpClients, PythonFtplibWorksWhenItResumesSessionsOrWhenResumptionIsOptional) {
  TestServer server(FtpServer(/*plain=*/false));
  TempDir local;
  const std::string body =
      "f.mkd('py dir')\n"
      "f.storbinary('STOR py dir/a.bin', io.BytesIO(b'x' * 100000))\n"
      "print(f.size('py dir/a.bin'))\n"
      "print(sorted(name for name, facts in f.mlsd('py dir')))\n"
      "out = io.BytesIO()\n"
      "f.retrbinary('RETR py dir/a.bin', out.write)\n"
      "print(len(out.getvalue()))\n"
      "print(f.sendcmd('HASH py dir/a.bin'))\n"
      "f.rename('py dir/a.bin', 'py dir/b.bin')\n"
      "f.delete('py dir/b.bin')\n"
      "f.rmd('py dir')\n"
      "f.quit()\n";
  auto resuming = RunClient({"/usr/bin/python3", "-c", FtplibScript(server.ftp_port(), "Resuming", body)}, local);
  ASSERT_EQ(resuming.exit_code, 0) << resuming.err;
  EXPECT_EQ(resuming.out,
            "100000\n['a.bin']\n100000\n"
            "213 SHA-256 0-100000 d69e68988157833272305aaf21f453c800346e8a3640db6578e260215542e5d4 py dir/a.bin\n");
  // ftplib as it ships does not resume: its data connections are refused, and the server says why.
  auto stock = RunClient({"/usr/bin/python3", "-c", FtplibScript(server.ftp_port(), "ftplib.FTP_TLS", "print(f.nlst())\n")},
                   local);
  EXPECT_NE(stock.exit_code, 0);
  EXPECT_THAT(server.process().ReadStderrNow(), HasSubstr("did not resume the control connection's TLS session"));
}

TEST(FtpClients, StockFtplibWorksWithOptionalSessionReuseAndPlainFtpWhenAllowed) {
  TestServer optional(FtpServer(/*plain=*/false, "tls_session_reuse = \"optional\"\n"));
  TempDir local;
  auto stock = RunClient({"/usr/bin/python3", "-c",
                    FtplibScript(optional.ftp_port(), "ftplib.FTP_TLS",
                                 "f.storbinary('STOR s.txt', io.BytesIO(b'hello'))\nprint(f.nlst())\nf.quit()\n")},
                   local);
  ASSERT_EQ(stock.exit_code, 0) << stock.err;
  EXPECT_EQ(stock.out, "['s.txt']\n");
  TestServer plain(FtpServer(/*plain=*/true));
  auto ftp = RunClient({"/usr/bin/python3", "-c",
                  "import ftplib, io\n"
                  "f = ftplib.FTP()\n"
                  "f.connect('127.0.0.1', " + std::to_string(plain.ftp_port()) + ", timeout=20)\n"
                  "f.login('alice', 'alice-secret')\n"
                  "f.storlines('STOR t.txt', io.BytesIO(b'one\\ntwo\\n'))\n"
                  "lines = []\n"
                  "f.retrlines('RETR t.txt', lines.append)\n"
                  "print(lines)\n"
                  "f.quit()\n"},
                 local);
  ASSERT_EQ(ftp.exit_code, 0) << ftp.err;
  EXPECT_EQ(ftp.out, "['one', 'two']\n");
}

TEST(FtpClients, WgetDownloadsOverFtpsAndContinues) {
  TestServer server(FtpServer(/*plain=*/false));
  TempDir local;
  const std::string data = RandomBytes(700000, 4);
  WriteFile(server.home("alice") + "/w.bin", data);
  const std::string url =
      "ftps://alice:alice-secret@127.0.0.1:" + std::to_string(server.ftp_port()) + "/w.bin";
  auto got = RunClient({"/usr/bin/wget", "-q", "--no-check-certificate", "-O", local.path() + "/w.bin", url}, local);
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(ReadFile(local.path() + "/w.bin") == data);
  std::filesystem::create_directories(local.path() + "/part");
  WriteFile(local.path() + "/part/w.bin", data.substr(0, 100000));
  auto continued = RunClient({"/usr/bin/wget", "-q", "-c", "--no-check-certificate", "-P", local.path() + "/part", url}, local);
  ASSERT_EQ(continued.exit_code, 0) << continued.err;
  EXPECT_TRUE(ReadFile(local.path() + "/part/w.bin") == data);
}

// ---------------------------------------------------------------------------------------------------------------
// What stock clients never send

TEST(FtpClients, CurlOverImplicitFtps) {
  TestServerOptions options = FtpServer(/*plain=*/false);
  options.ftps_implicit = true;
  TestServer server(options);
  ASSERT_NE(server.ftps_implicit_port(), 0);
  TempDir local;
  WriteFile(server.home("alice") + "/i.txt", "implicit");
  auto got = RunClient({"/usr/bin/curl", "-sS", "--max-time", "60", "-k", "-u", "alice:alice-secret",
                        "ftps://127.0.0.1:" + std::to_string(server.ftps_implicit_port()) + "/i.txt"},
                       local);
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, "implicit");
}

TEST(FtpSecurity, NoLoginBeforeAuthTlsWhenTlsIsRequired) {
  TestServer server(FtpServer(/*plain=*/false));
  FtpControl ftp(server.ftp_port());
  EXPECT_EQ(ftp.greeting().code, 220);
  const auto user = ftp.Command("USER alice");
  EXPECT_EQ(user.code, 530);
  EXPECT_THAT(user.text, HasSubstr("AUTH TLS"));
  EXPECT_EQ(ftp.Command("PASS alice-secret").code, 503);
  EXPECT_EQ(ftp.Command("PROT C").code, 503);  // no AUTH TLS yet
  EXPECT_EQ(ftp.Command("LIST").code, 530);
  EXPECT_THAT(ftp.Command("FEAT").text, HasSubstr(" AUTH TLS\r\n"));
}

TEST(FtpSecurity, ProtCIsRefusedAndCommandsSentWithAuthTlsAreNotRun) {
  TestServer server(FtpServer(/*plain=*/false, "", "[limits]\nhandshake_timeout_seconds = 1\n"));
  TempDir local;
  // Over TLS: PROT C is refused while TLS is required, CCC always.
  auto prot = RunClient({"/usr/bin/python3", "-c",
                   FtplibScript(server.ftp_port(), "ftplib.FTP_TLS",
                                "for c in ('PROT C', 'CCC'):\n"
                                "    try:\n"
                                "        print(f.sendcmd(c))\n"
                                "    except ftplib.error_perm as e:\n"
                                "        print(e)\n")},
                  local);
  ASSERT_EQ(prot.exit_code, 0) << prot.err;
  EXPECT_THAT(prot.out, HasSubstr("534 This server requires protected data connections (PROT P)."));
  EXPECT_THAT(prot.out, HasSubstr("534 CCC is refused"));
  // A command sent in the same packet as AUTH TLS came unprotected: it is dropped, never run after the handshake.
  FtpControl ftp(server.ftp_port());
  ftp.SendRaw("AUTH TLS\r\nUSER alice\r\n");
  EXPECT_EQ(ftp.Read().code, 234);
  EXPECT_EQ(ftp.Read().code, 0);  // the USER got no reply: only a TLS handshake is awaited now
}

TEST(FtpSecurity, ADataConnectionFromAnotherAddressIsRefused) {
  TestServer server(FtpServer(/*plain=*/true));
  WriteFile(server.home("alice") + "/secret.txt", "only for alice");
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  const auto epsv = ftp.Command("EPSV");
  ASSERT_EQ(epsv.code, 229);
  const int port = std::stoi(epsv.text.substr(epsv.text.find("|||") + 3));
  // Someone else gets there first: closed with nothing sent, and the wait for the client goes on.
  const int thief = ConnectLoopback(static_cast<std::uint16_t>(port), "127.0.0.2");
  ASSERT_GE(thief, 0);
  ASSERT_TRUE(server.process().WaitForStderrLine("refused a data connection from 127.0.0.2", std::chrono::seconds(20)));
  const int client = ConnectLoopback(static_cast<std::uint16_t>(port));
  ASSERT_GE(client, 0);
  EXPECT_EQ(ftp.Command("RETR secret.txt").code, 150);
  EXPECT_EQ(ReadAllAndClose(client), "only for alice");
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_EQ(ReadAllAndClose(thief), "");
  // A transfer with no PASV first, or after the passive port was used, has no data connection.
  EXPECT_EQ(ftp.Command("RETR secret.txt").code, 425);
}

TEST(FtpSecurity, ActiveModeIsOffByDefaultAndNeverBounces) {
  TestServer off(FtpServer(/*plain=*/true));
  FtpControl ftp(off.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  EXPECT_EQ(ftp.Command("PORT 127,0,0,1,200,10").code, 502);
  EXPECT_EQ(ftp.Command("EPRT |1|127.0.0.1|51210|").code, 502);
  TestServer on(FtpServer(/*plain=*/true, "active_mode = true\n"));
  FtpControl active(on.ftp_port());
  ASSERT_TRUE(active.Login("alice", "alice-secret"));
  EXPECT_EQ(active.Command("PORT 127,0,0,2,200,10").code, 504);   // another address
  EXPECT_EQ(active.Command("PORT 127,0,0,1,0,80").code, 504);     // a privileged port
  EXPECT_EQ(active.Command("EPRT |1|127.0.0.2|51210|").code, 504);
  EXPECT_EQ(active.Command("PORT 127,0,0,1,x,1").code, 501);
  EXPECT_EQ(active.Command("EPSV ALL").code, 200);
  EXPECT_EQ(active.Command("PORT 127,0,0,1,200,10").code, 503);
  EXPECT_EQ(active.Command("PASV").code, 503);
}

TEST(FtpSecurity, PathsNeverLeaveTheHome) {
  TestServer server(FtpServer(/*plain=*/true));
  TempDir decoy;
  WriteFile(decoy.path() + "/outside.txt", "outside");
  WriteFile(server.home("bob") + "/bobs.txt", "bob's");
  ASSERT_EQ(::symlink(decoy.path().c_str(), (server.home("alice") + "/out").c_str()), 0);
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  EXPECT_EQ(ftp.Command("CWD ../../..").code, 250);
  EXPECT_THAT(ftp.Command("PWD").text, HasSubstr("\"/\""));  // ".." stops at the home
  for (const std::string command : {"SIZE ../bob/bobs.txt", "SIZE /../bob/bobs.txt", "SIZE out/outside.txt",
                                    "CWD out", "MDTM ../../ferry.db", "DELE ../bob/bobs.txt", "MKD out/new",
                                    "RNFR ../bob/bobs.txt", "MLST out/outside.txt"}) {
    const auto reply = ftp.Command(command);
    EXPECT_EQ(reply.code / 100, 5) << command << ": " << reply.text;
  }
  EXPECT_EQ(ReadFile(server.home("bob") + "/bobs.txt"), "bob's");
  EXPECT_FALSE(std::filesystem::exists(decoy.path() + "/new"));
  // A listing of ".." is the home's.
  const int data = ftp.OpenPassive();
  ASSERT_GE(data, 0);
  EXPECT_EQ(ftp.Command("NLST ..").code, 150);
  const std::string names = ReadAllAndClose(data);
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_THAT(names, HasSubstr("out\r\n"));
  EXPECT_THAT(names, Not(HasSubstr("bob")));
}

TEST(FtpSecurity, AnUploadPastTheQuotaIsRefusedAndLeavesNothing) {
  TestServer server(FtpServer(/*plain=*/true));
  SetQuota(server, "alice", "100K");
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  const int data = ftp.OpenPassive();
  ASSERT_GE(data, 0);
  EXPECT_EQ(ftp.Command("STOR big.bin").code, 150);
  WriteAllAndClose(data, RandomBytes(1024 * 1024, 5));
  const auto done = ftp.Read();
  EXPECT_EQ(done.code, 552) << done.text;
  EXPECT_FALSE(std::filesystem::exists(server.home("alice") + "/big.bin"));
  EXPECT_EQ(ftp.Command("AVBL").text, "213 102400\r\n");  // all of it is free again
  // What fits goes in.
  const int small = ftp.OpenPassive();
  EXPECT_EQ(ftp.Command("STOR small.bin").code, 150);
  WriteAllAndClose(small, RandomBytes(50000, 6));
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_EQ(ftp.Command("AVBL").text, "213 52400\r\n");
}

TEST(FtpSecurity, AReadOnlyAccountCannotChangeAnything) {
  TestServer server(FtpServer(/*plain=*/true));
  WriteFile(server.home("alice") + "/keep.txt", "keep");
  const auto ro = RunProcess({FerrydPath(), "user", "set-perm", "--root", server.root(), "alice", "--read-only"});
  ASSERT_EQ(ro.exit_code, 0) << ro.err;
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  ASSERT_GE(ftp.OpenPassive(), 0);
  for (const std::string command : {"STOR new.txt", "APPE keep.txt", "DELE keep.txt", "RNFR keep.txt", "MKD d",
                                    "RMD d", "MFMT 20200101000000 keep.txt"}) {
    const auto reply = ftp.Command(command);
    EXPECT_EQ(reply.code, 550) << command << ": " << reply.text;
    EXPECT_THAT(reply.text, HasSubstr("read-only")) << command;
  }
  EXPECT_EQ(ReadFile(server.home("alice") + "/keep.txt"), "keep");
  EXPECT_FALSE(std::filesystem::exists(server.home("alice") + "/new.txt"));
}

TEST(FtpSecurity, ALongLineAFloodAndAnIdleConnectionAreEachEnded) {
  TestServer server(FtpServer(/*plain=*/true, "", "[limits]\nidle_timeout_seconds = 1\nlogin_timeout_seconds = 2\n"));
  {
    FtpControl ftp(server.ftp_port());
    ftp.SendRaw(std::string(100000, 'A'));
    const auto reply = ftp.Read();
    EXPECT_EQ(reply.code, 500);
    EXPECT_THAT(reply.text, HasSubstr("too long"));
    EXPECT_TRUE(ftp.Closed());
  }
  {
    // A flood of commands is answered in order, each once.
    FtpControl ftp(server.ftp_port());
    std::string flood;
    for (int i = 0; i < 2000; ++i) flood += "NOOP\r\n";
    ftp.SendRaw(flood);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(ftp.Read().code, 200) << i;
  }
  {
    FtpControl ftp(server.ftp_port());
    ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
    const auto closing = ftp.Read();  // nothing sent: the idle timeout ends it
    EXPECT_EQ(closing.code, 421);
    EXPECT_TRUE(ftp.Closed());
  }
  {
    FtpControl ftp(server.ftp_port());  // never logs in
    EXPECT_EQ(ftp.Read().code, 421);
    EXPECT_TRUE(ftp.Closed());
  }
}

TEST(FtpSecurity, FailedLoginsLookAlikeAndEndTheConnectionAtTheLimit) {
  TestServer server(FtpServer(/*plain=*/true));
  FtpControl ftp(server.ftp_port());
  EXPECT_EQ(ftp.Command("USER alice").code, 331);
  const auto wrong = ftp.Command("PASS not-it");
  EXPECT_EQ(ftp.Command("USER nobody-here").code, 331);
  const auto unknown = ftp.Command("PASS whatever");
  EXPECT_EQ(wrong.code, 530);
  EXPECT_EQ(wrong.text, unknown.text);
  EXPECT_EQ(ftp.Command("USER alice").code, 331);
  EXPECT_EQ(ftp.Command("PASS again-wrong").code, 530);
  EXPECT_TRUE(ftp.Closed());  // the third failure (auth.max_login_attempts)
}

TEST(FtpSecurity, AnInterruptedUploadResumesWithRestOrAppe) {
  TestServer server(FtpServer(/*plain=*/true));
  const std::string data = RandomBytes(600000, 7);
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  // The connection is cut (reset, not a clean end) after 200,000 bytes: nothing is published.
  int first = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("STOR r.bin").code, 150);
  ::send(first, data.data(), 200000, MSG_NOSIGNAL);
  ::linger reset{1, 0};
  ::setsockopt(first, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(first);
  const auto cut = ftp.Read();
  ASSERT_EQ(cut.code, 426) << cut.text;
  EXPECT_FALSE(std::filesystem::exists(server.home("alice") + "/r.bin"));
  // What arrived before the reset is kept, and the reply says how much: "aborted after N bytes".
  const auto after = cut.text.find("after ");
  ASSERT_NE(after, std::string::npos) << cut.text;
  const std::size_t kept = std::stoul(cut.text.substr(after + 6));
  ASSERT_LE(kept, 200000u);
  // SIZE tells a client where to resume (there is no file yet, but what arrived is kept).
  EXPECT_EQ(ftp.Command("SIZE r.bin").text, "213 " + std::to_string(kept) + "\r\n");
  // REST past what arrived is refused, saying where to resume.
  ASSERT_EQ(ftp.Command("REST 300000").code, 350);
  ASSERT_GE(ftp.OpenPassive(), 0);
  const auto past = ftp.Command("STOR r.bin");
  EXPECT_EQ(past.code, 554);
  EXPECT_THAT(past.text, HasSubstr("REST " + std::to_string(kept)));
  // APPE continues the partial.
  const int rest = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("APPE r.bin").code, 150);
  WriteAllAndClose(rest, data.substr(kept));
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_TRUE(ReadFile(server.home("alice") + "/r.bin") == data);
  // APPE to a complete file appends to it.
  const int more = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("APPE r.bin").code, 150);
  WriteAllAndClose(more, "tail");
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_TRUE(ReadFile(server.home("alice") + "/r.bin") == data + "tail");
  // REST n below what is here rewrites from n on.
  const int again = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("REST 1000").code, 350);
  // (a complete file has no partial: REST + STOR starts a new upload, which has 0 bytes to resume from)
  EXPECT_EQ(ftp.Command("STOR r.bin").code, 554);
  ::close(again);
}

TEST(FtpSecurity, AborStopsATransferInProgress) {
  TestServer server(FtpServer(/*plain=*/true));
  const std::string big = RandomBytes(64 * 1024 * 1024, 8);
  WriteFile(server.home("alice") + "/big.bin", big);
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  // A download the client does not read: the server is stuck writing when ABOR comes.
  const int download = ftp.OpenPassive();
  ASSERT_GE(download, 0);
  ASSERT_EQ(ftp.Command("RETR big.bin").code, 150);
  ftp.SendRaw("\xff\xf4\xff\xf2" "ABOR\r\n");  // Telnet IP and Synch first, as RFC 959 asks
  const auto stopped = ftp.Read();
  EXPECT_EQ(stopped.code, 426) << stopped.text;
  EXPECT_EQ(ftp.Read().code, 226);
  ::close(download);
  // An upload in progress: nothing is published, and what arrived waits for APPE.
  const int upload = ftp.OpenPassive();
  ASSERT_GE(upload, 0);
  ASSERT_EQ(ftp.Command("STOR half.bin").code, 150);
  ASSERT_EQ(::send(upload, big.data(), 100000, MSG_NOSIGNAL), 100000);
  const auto aborted = ftp.Command("ABOR");
  EXPECT_EQ(aborted.code, 426) << aborted.text;
  EXPECT_EQ(ftp.Read().code, 226);
  ::close(upload);
  EXPECT_FALSE(std::filesystem::exists(server.home("alice") + "/half.bin"));
  // Commands sent during a transfer are answered after it, in order.
  const int listing = ftp.OpenPassive();
  ftp.SendRaw("NLST\r\nNOOP\r\nPWD\r\n");
  EXPECT_EQ(ftp.Read().code, 150);
  EXPECT_THAT(ReadAllAndClose(listing), HasSubstr("big.bin\r\n"));
  EXPECT_EQ(ftp.Read().code, 226);
  EXPECT_EQ(ftp.Read().code, 200);
  EXPECT_EQ(ftp.Read().code, 257);
  // With no transfer, ABOR has nothing to stop.
  EXPECT_EQ(ftp.Command("ABOR").code, 225);
}

TEST(FtpCommands, RestAndRnfrLastOnlyUntilTheCommandTheySetUp) {
  TestServer server(FtpServer(/*plain=*/true));
  WriteFile(server.home("alice") + "/a.txt", "0123456789");
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  const auto download = [&ftp] {
    const int data = ftp.OpenPassive();
    if (data < 0) return std::string("(no data connection)");
    if (ftp.Command("RETR a.txt").code != 150) {
      ::close(data);
      return std::string("(no download)");
    }
    std::string content = ReadAllAndClose(data);
    return ftp.Read().code == 226 ? content : "(no 226)";
  };
  // Commands that set a transfer up (TYPE, EPSV) keep a REST offset for it.
  ASSERT_EQ(ftp.Command("REST 4").code, 350);
  ASSERT_EQ(ftp.Command("TYPE I").code, 200);
  EXPECT_EQ(download(), "456789");
  // Any other command in between forgets it: the next download starts at 0.
  ASSERT_EQ(ftp.Command("REST 4").code, 350);
  ASSERT_EQ(ftp.Command("NOOP").code, 200);
  EXPECT_EQ(download(), "0123456789");
  // RNFR is for the RNTO right after it, in any case of letters.
  ASSERT_EQ(ftp.Command("RNFR a.txt").code, 350);
  ASSERT_EQ(ftp.Command("PWD").code, 257);
  EXPECT_EQ(ftp.Command("RNTO b.txt").code, 503);
  ASSERT_EQ(ftp.Command("rnfr a.txt").code, 350);
  ASSERT_EQ(ftp.Command("rnto b.txt").code, 250);
  EXPECT_TRUE(std::filesystem::exists(server.home("alice") + "/b.txt"));
  EXPECT_EQ(ftp.Command("XYZW").code, 500);
}

// STOU stores under a name no entry has, which the 150 and 226 replies give (RFC 1123: "FILE: name"); each STOU
// gets its own.
TEST(FtpCommands, StouStoresEachUploadUnderANewName) {
  TestServer server(FtpServer(/*plain=*/true));
  WriteFile(server.home("alice") + "/there.txt", "was here");
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  std::vector<std::string> names;
  for (const std::string content : {"first upload", "second upload"}) {
    const int data = ftp.OpenPassive();
    ASSERT_GE(data, 0);
    const auto opening = ftp.Command("STOU");
    ASSERT_EQ(opening.code, 150) << opening.text;
    const auto at = opening.text.find("FILE: ");
    ASSERT_NE(at, std::string::npos) << opening.text;
    std::string name = opening.text.substr(at + 6);
    name = name.substr(0, name.find_first_of("\r\n"));
    WriteAllAndClose(data, content);
    const auto done = ftp.Read();
    EXPECT_EQ(done.code, 226) << done.text;
    EXPECT_THAT(done.text, HasSubstr("FILE: " + name));
    EXPECT_EQ(ReadFile(server.home("alice") + "/" + name), content) << name;
    names.push_back(name);
  }
  EXPECT_NE(names[0], names[1]);
  EXPECT_EQ(ReadFile(server.home("alice") + "/there.txt"), "was here");
}

TEST(FtpAudit, EveryChangeAndTransferIsAuditedAsFtp) {
  TestServer server(FtpServer(/*plain=*/true));
  FtpControl ftp(server.ftp_port());
  ASSERT_TRUE(ftp.Login("alice", "alice-secret"));
  EXPECT_EQ(ftp.Command("MKD d").code, 257);
  int data = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("STOR d/a.txt").code, 150);
  WriteAllAndClose(data, "audited");
  ASSERT_EQ(ftp.Read().code, 226);
  data = ftp.OpenPassive();
  ASSERT_EQ(ftp.Command("RETR d/a.txt").code, 150);
  EXPECT_EQ(ReadAllAndClose(data), "audited");
  ASSERT_EQ(ftp.Read().code, 226);
  ASSERT_EQ(ftp.Command("RNFR d/a.txt").code, 350);
  ASSERT_EQ(ftp.Command("RNTO d/b.txt").code, 250);
  ASSERT_EQ(ftp.Command("DELE d/b.txt").code, 250);
  ASSERT_EQ(ftp.Command("QUIT").code, 221);
  ASSERT_TRUE(ftp.Closed());
  std::vector<std::string> events;
  for (const auto& line : ReadAuditLines(server.root() + "/audit.log")) {
    if (line.value("user", "") != "alice") continue;
    EXPECT_EQ(line.value("protocol", ""), "ftp") << line.dump();
    events.push_back(line.value("event", "") + " " + line.value("path", "") + " " + line.value("result", ""));
  }
  EXPECT_THAT(events, ::testing::Contains("mkdir /d ok"));
  EXPECT_THAT(events, ::testing::Contains("upload /d/a.txt ok"));
  EXPECT_THAT(events, ::testing::Contains("download /d/a.txt ok"));
  EXPECT_THAT(events, ::testing::Contains("rename /d/a.txt ok"));
  EXPECT_THAT(events, ::testing::Contains("delete /d/b.txt ok"));
  EXPECT_THAT(events, ::testing::Contains("login  ok"));
}

}  // namespace
}  // namespace ferry::testing
