// In-process tests of the Ferry front end: a real Session over a socket pair (tests/support/session_harness.h), on
// the services ferryd builds, in a temporary data root.
#include "frontends/ferry/session.h"

#include <sodium.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/frame_decoder.h"
#include "server/data_root.h"
#include "support/session_harness.h"
#include "support/temp_dir.h"
#include "support/test_files.h"

namespace ferry::testing {
namespace {

using protocol::Json;
using Session = frontends::native::Session;

class FerrySessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    ASSERT_TRUE(server::DataRoot::Init(data_).ok());
    const server::DataRoot root(data_);
    const storage::PasswordHashCost cheap{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    ASSERT_TRUE(root.AddUser("alice", "alice-secret", cheap).ok());
    ASSERT_TRUE(root.AddUser("bob", "bob-secret", cheap, {.read_only = true, .can_exec = false}).ok());
    for (const char* user : {"alice", "bob"}) {
      WriteFile(root.home_of(user) + "/file.txt", "some text\n");
      ASSERT_EQ(::mkdir((root.home_of(user) + "/empty").c_str(), 0755), 0);
    }
    auto users = root.OpenUsers();
    ASSERT_TRUE(users.ok());
    users_ = std::move(users).value();
    auto audit = service::AuditLog::Open(data_ + "/audit.log");
    ASSERT_TRUE(audit.ok());
    audit_ = std::move(audit).value();
  }

  // Sends hello, a login as `user` and then `requests` (ids from 3 on) in one go, and returns the first reply header
  // for each id.
  std::map<std::uint64_t, Json> Converse(const std::string& user, const std::vector<Json>& requests) {
    std::string input = protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 1}, {"versions", {1}}});
    input += protocol::EncodeFrame(Json{{"op", "login"}, {"id", 2}, {"user", user}, {"password", user + "-secret"}});
    for (const Json& request : requests) input += protocol::EncodeFrame(request);
    SessionServices services(data_, users_.get(), &pool_, audit_.get());
    const SessionExchange exchange = RunSession(services.environment(), input, std::chrono::seconds(30));
    EXPECT_TRUE(exchange.ended);
    protocol::FrameDecoder decoder(protocol::FrameLimits{});
    decoder.Feed(exchange.received);
    std::map<std::uint64_t, Json> replies;
    protocol::Frame frame;
    while (decoder.Next(frame) == protocol::FrameDecoder::State::kFrame) {
      if (frame.header.contains("id") && frame.header["id"].is_number_unsigned()) {
        replies.try_emplace(frame.header["id"].get<std::uint64_t>(), frame.header);
      }
    }
    EXPECT_TRUE(decoder.error().ok()) << decoder.error().ToString();
    return replies;
  }

  TempDir dir_;
  std::string data_ = dir_.path() + "/data";
  std::unique_ptr<storage::UserStore> users_;
  std::unique_ptr<service::AuditLog> audit_;
  asio::thread_pool pool_{1};
};

// A request for every operation in the table that would succeed for a user who may write. A new operation fails the
// test until it has one here, so whether it writes is always checked.
Json SampleRequest(std::string_view op) {
  static const std::map<std::string_view, Json> kSamples = {
      {"get", {{"path", "file.txt"}}},
      {"put", {{"path", "new.txt"}, {"size", 0}}},
      {"put_close", {{"ref", 999}, {"checksum", ""}}},
      {"put_abort", {{"ref", 999}}},
      {"stat", {{"path", "file.txt"}}},
      {"ls", {{"path", "/"}}},
      {"sum", {{"path", "file.txt"}}},
      {"cd", {{"path", "empty"}}},
      {"pwd", Json::object()},
      {"mkdir", {{"path", "/made"}}},
      {"cp", {{"from", "/file.txt"}, {"to", "/copy.txt"}}},
      {"rm", {{"path", "/file.txt"}}},
      {"rmdir", {{"path", "/empty"}}},
      {"mv", {{"from", "/made"}, {"to", "/renamed"}}},
      {"symlink", {{"path", "/link"}, {"target", "file.txt"}}},
      {"setstat", {{"path", "/renamed"}, {"mode", 0700}}},
      {"quota", Json::object()},
      {"whoami", Json::object()},
      {"exec", {{"argv", {"true"}}}},
      {"noop", Json::object()},
      {"hello", {{"versions", {1}}}},
      {"login", {{"user", "x"}, {"password", "y"}}},
      {"quit", Json::object()},
  };
  const auto it = kSamples.find(op);
  if (it == kSamples.end()) return nullptr;
  Json request = it->second;
  request["op"] = op;
  return request;
}

// Every operation, in table order with quit last, each with its id from 3 on.
std::vector<Json> EveryOperation(std::map<std::uint64_t, std::string>& names) {
  std::vector<Json> requests;
  std::uint64_t id = 3;
  for (const auto& op : Session::Operations()) {
    if (op.name == "quit") continue;
    Json request = SampleRequest(op.name);
    EXPECT_FALSE(request.is_null()) << "no sample request for '" << op.name << "'";
    if (request.is_null()) continue;
    request["id"] = id;
    names[id++] = std::string(op.name);
    requests.push_back(request);
  }
  requests.push_back(Json{{"op", "quit"}, {"id", id}});
  names[id] = "quit";
  return requests;
}

// The operations that change a home: the file service refuses each for a read-only account (and audits it).
const std::set<std::string> kWriting = {"mkdir", "cp", "rm", "rmdir", "mv", "symlink", "setstat", "put"};

TEST_F(FerrySessionTest, AReadOnlyAccountIsRefusedExactlyTheOperationsThatWrite) {
  std::map<std::uint64_t, std::string> names;
  const auto replies = Converse("bob", EveryOperation(names));
  ASSERT_EQ(replies.at(2).value("ok", false), true) << replies.at(2).dump();
  const std::set<std::string>& writing = kWriting;
  for (const auto& [id, name] : names) {
    ASSERT_TRUE(replies.count(id)) << "no reply to " << name;
    const Json& reply = replies.at(id);
    // exec has a permission of its own (can_exec), which bob lacks too.
    const bool refused = reply.value("code", "") == "EPERM";
    if (name == "exec") {
      EXPECT_TRUE(refused) << reply.dump();
      continue;
    }
    EXPECT_EQ(refused, writing.count(name) == 1) << name << ": " << reply.dump();
  }
  // Nothing changed on disk.
  const server::DataRoot root(data_);
  EXPECT_TRUE(Exists(root.home_of("bob") + "/file.txt"));
  EXPECT_TRUE(Exists(root.home_of("bob") + "/empty"));
  EXPECT_FALSE(Exists(root.home_of("bob") + "/made"));
  EXPECT_FALSE(Exists(root.home_of("bob") + "/new.txt"));
  EXPECT_FALSE(Exists(root.home_of("bob") + "/copy.txt"));
}

TEST_F(FerrySessionTest, AnAccountThatMayWriteGetsEveryWritingOperationDone) {
  std::map<std::uint64_t, std::string> names;
  const auto replies = Converse("alice", EveryOperation(names));
  for (const auto& [id, op_name] : names) {
    const std::string& name = op_name;  // a lambda cannot capture a structured binding (clang 14)
    ASSERT_TRUE(replies.count(id)) << "no reply to " << name;
    if (kWriting.count(name) == 1) {
      EXPECT_TRUE(replies.at(id).value("ok", false)) << name << ": " << replies.at(id).dump();
    }
  }
  const server::DataRoot root(data_);
  EXPECT_FALSE(Exists(root.home_of("alice") + "/file.txt"));
  EXPECT_FALSE(Exists(root.home_of("alice") + "/empty"));
  EXPECT_TRUE(Exists(root.home_of("alice") + "/renamed"));
  EXPECT_TRUE(Exists(root.home_of("alice") + "/copy.txt"));
}

TEST_F(FerrySessionTest, RequestsBeforeHelloOrLoginAreRefusedByState) {
  SessionServices services(data_, users_.get(), &pool_, audit_.get());
  // Before hello: anything else ends the connection.
  auto early = RunSession(services.environment(), protocol::EncodeFrame(Json{{"op", "ls"}, {"id", 1}}),
                          std::chrono::seconds(30));
  EXPECT_TRUE(early.ended);
  protocol::FrameDecoder decoder(protocol::FrameLimits{});
  decoder.Feed(early.received);
  protocol::Frame frame;
  ASSERT_EQ(decoder.Next(frame), protocol::FrameDecoder::State::kFrame);
  EXPECT_EQ(frame.header.value("code", ""), "EPROTO");
  // After hello, before login: EPERM for a known operation and an unknown one alike; noop is answered.
  std::string input = protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 1}, {"versions", {1}}});
  input += protocol::EncodeFrame(Json{{"op", "put"}, {"id", 2}, {"path", "x"}, {"size", 1}});
  input += protocol::EncodeFrame(Json{{"op", "frobnicate"}, {"id", 3}});
  input += protocol::EncodeFrame(Json{{"op", "noop"}, {"id", 4}});
  auto later = RunSession(services.environment(), input, std::chrono::seconds(30));
  EXPECT_TRUE(later.ended);
  protocol::FrameDecoder replies(protocol::FrameLimits{});
  replies.Feed(later.received);
  std::vector<Json> headers;
  while (replies.Next(frame) == protocol::FrameDecoder::State::kFrame) headers.push_back(frame.header);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[1].value("code", ""), "EPERM");
  EXPECT_EQ(headers[2].value("code", ""), "EPERM");
  EXPECT_TRUE(headers[3].value("ok", false));
}

// The headers of the frames in `received`, in order.
std::vector<Json> HeadersOf(const std::string& received) {
  protocol::FrameDecoder decoder(protocol::FrameLimits{});
  decoder.Feed(received);
  std::vector<Json> headers;
  protocol::Frame frame;
  while (decoder.Next(frame) == protocol::FrameDecoder::State::kFrame) headers.push_back(frame.header);
  return headers;
}

// Before login the session reads no body: a header that declares one is refused at once (the body is never
// waited for), and so is a header larger than a login can need.
TEST_F(FerrySessionTest, ABodyOrALargeHeaderBeforeLoginIsRefusedAtTheHeader) {
  SessionServices services(data_, users_.get(), &pool_, audit_.get());
  for (const bool after_hello : {false, true}) {
    std::string input;
    if (after_hello) input = protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 1}, {"versions", {1}}});
    protocol::AppendFrameHeader(input, Json{{"op", after_hello ? "login" : "hello"}, {"id", 2}}, 4u << 20);
    // The session must answer without the body: the input stays open until the session ends or the time is up.
    auto exchange = RunSession(services.environment(), input, std::chrono::seconds(30), /*close_input=*/false);
    EXPECT_TRUE(exchange.ended);
    const std::vector<Json> headers = HeadersOf(exchange.received);
    ASSERT_EQ(headers.size(), after_hello ? 2u : 1u);
    EXPECT_EQ(headers.back().value("code", ""), "ETOOBIG") << headers.back().dump();
  }
  std::string input = protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 1}, {"versions", {1}}});
  input += protocol::EncodeFrame(Json{{"op", "login"}, {"id", 2}, {"user", "alice"}, {"password", std::string(20000, 'p')}});
  auto large = RunSession(services.environment(), input, std::chrono::seconds(30), /*close_input=*/false);
  EXPECT_TRUE(large.ended);
  const std::vector<Json> headers = HeadersOf(large.received);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[1].value("code", ""), "ETOOBIG") << headers[1].dump();
}

// A second hello before login is a repeated hello, not a request that needs a login.
TEST_F(FerrySessionTest, HelloTwiceBeforeLoginSaysHelloWasAlreadyExchanged) {
  SessionServices services(data_, users_.get(), &pool_, audit_.get());
  std::string input = protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 1}, {"versions", {1}}});
  input += protocol::EncodeFrame(Json{{"op", "hello"}, {"id", 2}, {"versions", {1}}});
  input += protocol::EncodeFrame(Json{{"op", "noop"}, {"id", 3}});
  auto exchange = RunSession(services.environment(), input, std::chrono::seconds(30));
  const std::vector<Json> headers = HeadersOf(exchange.received);
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[1].value("code", ""), "EPROTO");
  EXPECT_EQ(headers[1].value("message", ""), "hello was already exchanged");
  EXPECT_TRUE(headers[2].value("ok", false)) << "the session goes on";
}

// put_abort gives up an upload for good: its partial goes with it. A ref no upload has is an error, not a silent ok.
TEST_F(FerrySessionTest, PutAbortRemovesThePartialAndRefusesAnUnknownRef) {
  const server::DataRoot root(data_);
  auto replies = Converse("alice", {Json{{"op", "put"}, {"id", 3}, {"path", "big.bin"}, {"size", 1000}},
                                    Json{{"op", "put_abort"}, {"id", 4}, {"ref", 3}},
                                    Json{{"op", "put_abort"}, {"id", 5}, {"ref", 99}},
                                    Json{{"op", "put_abort"}, {"id", 6}, {"ref", 3}}});
  ASSERT_TRUE(replies.count(3) && replies.count(4) && replies.count(5) && replies.count(6));
  EXPECT_TRUE(replies.at(3).value("ok", false)) << replies.at(3).dump();
  EXPECT_TRUE(replies.at(4).value("ok", false)) << replies.at(4).dump();
  EXPECT_EQ(replies.at(5).value("code", ""), "ENOENT");
  EXPECT_EQ(replies.at(6).value("code", ""), "ENOENT") << "aborted once is gone";
  EXPECT_TRUE(Names(root.partials_of("alice")).empty());
  EXPECT_FALSE(Exists(root.home_of("alice") + "/big.bin"));
}

}  // namespace
}  // namespace ferry::testing
