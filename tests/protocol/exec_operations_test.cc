// exec and its frames, exec_input, exec_kill: round trips, the server's checks, the client's strict replies.
#include "protocol/exec_operations.h"

#include <gtest/gtest.h>

#include "message_test_util.h"

namespace ferry::protocol {
namespace {

using testing::ExpectRoundTrip;
using testing::FailsNaming;
using testing::FailsWith;
using testing::ReplyRoundTrip;
using testing::RequestRoundTrip;
using testing::With;
using testing::Without;

Json ExecHeader(Json argv) {
  return Json({{"op", "exec"}, {"argv", std::move(argv)}});
}

// ---- exec ----

TEST(ExecRequest, RoundTrips) {
  const ExecRequest plain{{"ls", "-l", "a b"}, false, true};
  ExpectRoundTrip(RequestRoundTrip(plain), plain);
  const ExecRequest shell{{"ls | wc -l"}, true, false};
  ExpectRoundTrip(RequestRoundTrip(shell), shell);
}

TEST(ExecRequest, EncodesStdinUnderItsWireName) {
  EXPECT_EQ(ExecRequest({{"cat"}, false, true}).Encode(),
            Json({{"op", "exec"}, {"argv", {"cat"}}, {"shell", false}, {"stdin", true}}));
}

TEST(ExecRequest, ShellAndStdinDefaultToFalse) {
  auto parsed = ExecRequest::Parse(ExecHeader({"ls"}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, (ExecRequest{{"ls"}, false, false}));
}

TEST(ExecRequest, RequiresANonEmptyArrayOfArguments) {
  EXPECT_TRUE(FailsNaming(ExecRequest::Parse(Json({{"op", "exec"}})).status(), ErrorCode::kProtocol, "argv"));
  EXPECT_TRUE(FailsNaming(ExecRequest::Parse(ExecHeader(Json::array())).status(), ErrorCode::kProtocol, "argv"));
  EXPECT_TRUE(FailsNaming(ExecRequest::Parse(ExecHeader("ls -l")).status(), ErrorCode::kProtocol, "argv"));
}

TEST(ExecRequest, RejectsArgumentsThatAreNotStrings) {
  EXPECT_TRUE(FailsWith(ExecRequest::Parse(ExecHeader({"ls", 1})).status(), ErrorCode::kProtocol));
  EXPECT_TRUE(FailsWith(ExecRequest::Parse(ExecHeader({"ls", nullptr})).status(), ErrorCode::kProtocol));
}

TEST(ExecRequest, RejectsTooManyArguments) {
  const std::vector<std::string> most(kMaxArguments, "a");
  EXPECT_TRUE(RequestRoundTrip(ExecRequest{most, false, false}).ok());
  std::vector<std::string> too_many = most;
  too_many.push_back("a");
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ExecRequest{too_many, false, false}).status(), ErrorCode::kTooBig));
}

TEST(ExecRequest, RejectsArgumentsAboveTheTotalSize) {
  // Each argument counts with its NUL, as execve counts it.
  const std::vector<std::string> fits = {"echo", std::string(kMaxArgumentBytes - 5 - 1, 'x')};
  EXPECT_TRUE(RequestRoundTrip(ExecRequest{fits, false, false}).ok());
  const std::vector<std::string> too_long = {"echo", std::string(kMaxArgumentBytes - 5, 'x')};
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ExecRequest{too_long, false, false}).status(), ErrorCode::kTooBig));
}

TEST(ExecRequest, RejectsANulByteInAnArgument) {
  const ExecRequest request{{"echo", std::string("a\0b", 3)}, false, false};
  EXPECT_TRUE(FailsWith(RequestRoundTrip(request).status(), ErrorCode::kInvalid));
}

TEST(ExecRequest, RejectsAnEmptyProgramName) {
  EXPECT_TRUE(FailsWith(RequestRoundTrip(ExecRequest{{"", "x"}, false, false}).status(), ErrorCode::kInvalid));
  EXPECT_TRUE(RequestRoundTrip(ExecRequest{{"echo", ""}, false, false}).ok());
}

TEST(ExecRequest, RejectsFlagsThatAreNotBooleans) {
  EXPECT_TRUE(FailsNaming(ExecRequest::Parse(With(ExecHeader({"ls"}), "shell", "yes")).status(), ErrorCode::kProtocol,
                          "shell"));
  EXPECT_TRUE(
      FailsNaming(ExecRequest::Parse(With(ExecHeader({"ls"}), "stdin", 1)).status(), ErrorCode::kProtocol, "stdin"));
}

TEST(ExecStartReply, RoundTrips) {
  EXPECT_EQ(OkReply(12, ExecStartReply{}), Json({{"id", 12}, {"ok", true}, {"more", true}}));
  EXPECT_TRUE(ReplyRoundTrip(ExecStartReply{}).ok());
}

TEST(ExecStartReply, RequiresMoreToFollow) {
  EXPECT_TRUE(FailsNaming(ExecStartReply::Parse(OkReply(12)).status(), ErrorCode::kProtocol, "more"));
  EXPECT_TRUE(FailsWith(ExecStartReply::Parse(With(OkReply(12), "more", false)).status(), ErrorCode::kProtocol));
}

TEST(ExecOutputReply, RoundTripsBothStreams) {
  ExpectRoundTrip(ReplyRoundTrip(ExecOutputReply{OutputStream::kStdout}), ExecOutputReply{OutputStream::kStdout});
  ExpectRoundTrip(ReplyRoundTrip(ExecOutputReply{OutputStream::kStderr}), ExecOutputReply{OutputStream::kStderr});
  EXPECT_EQ(OkReply(12, ExecOutputReply{OutputStream::kStderr})["stream"], "stderr");
}

TEST(ExecOutputReply, RejectsAMissingOrUnknownStream) {
  const Json reply = OkReply(12, ExecOutputReply{});
  EXPECT_TRUE(FailsNaming(ExecOutputReply::Parse(Without(reply, "stream")).status(), ErrorCode::kProtocol, "stream"));
  EXPECT_TRUE(
      FailsNaming(ExecOutputReply::Parse(With(reply, "stream", "stdin")).status(), ErrorCode::kProtocol, "stream"));
  EXPECT_TRUE(FailsNaming(ExecOutputReply::Parse(Without(reply, "more")).status(), ErrorCode::kProtocol, "more"));
}

TEST(ExecEndReply, RoundTrips) {
  ExecEndReply exited;
  exited.exit_code = 3;
  ExecEndReply signalled;
  signalled.exit_code = 137;
  signalled.signal = 9;
  signalled.killed = true;
  ExecEndReply limited;
  limited.exit_code = 0;
  limited.timed_out = true;
  limited.truncated = true;
  limited.output_limit = 64ull << 20;
  ExecEndReply stopped;
  stopped.exit_code = 137;
  stopped.signal = 9;
  stopped.stopped = "the program passed your quota (10.3 MiB used of 10.0 MiB)";
  for (const ExecEndReply& reply : {exited, signalled, limited, stopped}) {
    ExpectRoundTrip(ReplyRoundTrip(reply), reply);
  }
}

TEST(ExecEndReply, FlagsAreOnTheWireOnlyWhenSet) {
  EXPECT_EQ(OkReply(12, ExecEndReply{}), Json({{"id", 12}, {"ok", true}, {"more", false}, {"exit_code", 0}}));
}

TEST(ExecEndReply, RequiresAnExitCode) {
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(Without(OkReply(12, ExecEndReply{}), "exit_code")).status(),
                          ErrorCode::kProtocol, "exit_code"));
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(With(OkReply(12, ExecEndReply{}), "exit_code", -1)).status(),
                          ErrorCode::kProtocol, "exit_code"));
}

TEST(ExecEndReply, RequiresTheOutputLimitWhenTruncated) {
  const Json reply = With(OkReply(12, ExecEndReply{}), "truncated", true);
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(reply).status(), ErrorCode::kProtocol, "output_limit"));
}

TEST(ExecEndReply, RejectsOptionalFieldsOfTheWrongType) {
  const Json reply = OkReply(12, ExecEndReply{});
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(With(reply, "signal", "KILL")).status(), ErrorCode::kProtocol, "signal"));
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(With(reply, "killed", 1)).status(), ErrorCode::kProtocol, "killed"));
  EXPECT_TRUE(
      FailsNaming(ExecEndReply::Parse(With(reply, "timed_out", "no")).status(), ErrorCode::kProtocol, "timed_out"));
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(With(reply, "stopped", true)).status(), ErrorCode::kProtocol, "stopped"));
}

TEST(ExecEndReply, RequiresTheStreamToEnd) {
  EXPECT_TRUE(FailsNaming(ExecEndReply::Parse(With(OkReply(12, ExecEndReply{}), "more", true)).status(),
                          ErrorCode::kProtocol, "more"));
}

// ---- exec_input, exec_kill ----

TEST(ExecInputFrame, RoundTripsWithoutAnId) {
  for (const ExecInputFrame& frame : {ExecInputFrame{12, false}, ExecInputFrame{12, true}}) {
    ExpectRoundTrip(ExecInputFrame::Parse(testing::OverTheWire(frame.Encode())), frame);
    EXPECT_FALSE(frame.Encode().contains("id"));
  }
  EXPECT_EQ(ExecInputFrame({12, true}).Encode(), Json({{"op", "exec_input"}, {"ref", 12}, {"eof", true}}));
}

TEST(ExecInputFrame, RejectsAMissingRefOrANonBooleanEof) {
  EXPECT_TRUE(FailsNaming(ExecInputFrame::Parse(Json({{"op", "exec_input"}})).status(), ErrorCode::kProtocol, "ref"));
  EXPECT_TRUE(FailsNaming(ExecInputFrame::Parse(Json({{"op", "exec_input"}, {"ref", 1}, {"eof", "yes"}})).status(),
                          ErrorCode::kProtocol, "eof"));
}

TEST(ExecKillFrame, RoundTripsWithoutAnId) {
  EXPECT_EQ(ExecKillFrame{12}.Encode(), Json({{"op", "exec_kill"}, {"ref", 12}}));
  ExpectRoundTrip(ExecKillFrame::Parse(testing::OverTheWire(ExecKillFrame{12}.Encode())), ExecKillFrame{12});
}

TEST(ExecKillFrame, RejectsAMissingRef) {
  EXPECT_TRUE(FailsNaming(ExecKillFrame::Parse(Json({{"op", "exec_kill"}})).status(), ErrorCode::kProtocol, "ref"));
}

}  // namespace
}  // namespace ferry::protocol
