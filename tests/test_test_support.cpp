// The helpers of tests/support: child processes, JSON lines, payloads.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "support/child_process.hpp"
#include "support/json_line.hpp"
#include "support/payload.hpp"

using namespace websockets::testing;
using namespace std::chrono_literals;

namespace {

child_process shell(const std::string& script, spawn_options options = {}) {
  return child_process("/bin/sh", {"-c", script}, std::move(options));
}

// Waits (bounded) until `pid` is gone; the kernel may take a moment to
// finish a killed process.
bool gone_soon(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (process_gone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("child_process reads lines, finds the port line, writes stdin, gets the exit code") {
  auto p = shell("echo starting; echo 'PORT 4242'; read line; echo \"got $line\"; exit 3");
  CHECK(p.wait_for_port() == 4242);
  p.write_line("abc");
  auto m = p.expect_line(std::regex("got (.*)"));
  REQUIRE(m.size() == 2);
  CHECK(m[1] == "abc");
  CHECK(p.read_line() == std::nullopt);  // end of output
  auto status = p.wait_exit();
  CHECK(status.code == 3);
  CHECK_FALSE(status.success());
}

TEST_CASE("child_process read_line returns each line in order, CR LF included") {
  auto p = shell("printf 'one\\r\\ntwo\\nthree'");
  CHECK(p.read_line() == "one");
  CHECK(p.read_line() == "two");
  CHECK(p.read_line() == "three");  // the last line needs no newline
  CHECK(p.read_line() == std::nullopt);
  CHECK(p.wait_exit().success());
}

TEST_CASE("child_process passes environment variables and the working directory") {
  auto p = shell("echo \"$WS_TEST_VALUE\"; pwd",
                 {.env = {"WS_TEST_VALUE=forty two"}, .working_directory = "/tmp"});
  CHECK(p.read_line() == "forty two");
  CHECK(p.read_line() == "/tmp");
}

TEST_CASE("child_process failures name the program and quote its stderr") {
  auto p = shell("echo 'something broke' >&2; echo partial; exit 1", {.echo_stderr = false});
  try {
    p.expect_line(std::regex("PORT \\d+"));
    FAIL("expect_line should have thrown");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    CHECK(what.find("/bin/sh") != std::string::npos);
    CHECK(what.find("stdout ended") != std::string::npos);
    CHECK(what.find("something broke") != std::string::npos);
  }
  CHECK(p.wait_exit().code == 1);
  CHECK(p.stderr_text() == "something broke\n");
}

TEST_CASE("child_process read_line throws when nothing comes in time") {
  auto p = shell("read never || echo 'end of stdin'");
  CHECK_THROWS_WITH(p.read_line(50ms), Catch::Contains("no line on stdout within 50 ms"));
  p.close_stdin();  // `read` gets end of file: the shell goes on
  CHECK(p.read_line() == "end of stdin");
  CHECK(p.wait_exit().success());
}

TEST_CASE("child_process cannot start a missing program") {
  CHECK_THROWS_WITH(child_process("/nonexistent/program", {}),
                    Catch::Contains("cannot start /nonexistent/program"));
}

TEST_CASE("child_process writing to a child that exited throws instead of SIGPIPE") {
  auto p = shell("exec 0<&-; echo closed");
  CHECK(p.read_line() == "closed");
  p.wait_exit();
  std::string big(1 << 20, 'x');
  CHECK_THROWS_WITH(p.write(big), Catch::Contains("cannot write to stdin"));
}

TEST_CASE("child_process signals reach the child") {
  auto p = shell("trap 'echo TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done");
  CHECK(p.read_line() == "ready");
  p.signal(SIGTERM);
  CHECK(p.expect_line(std::regex("TERM"))[0] == "TERM");
  CHECK(p.wait_exit().code == 7);
}

TEST_CASE("child_process destruction kills the whole process group") {
  pid_t grandchild = 0, child = 0;
  {
    // The shell ignores SIGTERM and stdin: only SIGKILL ends it.
    auto p = shell("trap '' TERM; sleep 1000 & echo \"CHILD $!\"; wait");
    auto m = p.expect_line(std::regex("CHILD (\\d+)"));
    grandchild = static_cast<pid_t>(std::stol(m[1]));
    child = p.pid();
    CHECK_FALSE(process_gone(grandchild));
    p.stop(100ms);
  }
  CHECK(gone_soon(child));
  CHECK(gone_soon(grandchild));
}

TEST_CASE("json_object parses the peers' lines") {
  auto o = json_object::parse(
      R"({"event":"open","id":1,"ok":true,"sub":null,"text":"h\u00e9llo \ud83d\ude00 \"q\"\n",)"
      R"("utf8":"€","neg":-2.5e1,"nested":{"a":[1,{"b":"}"}]},"list":[]})");
  CHECK(o.string("event") == "open");
  CHECK(o.integer("id") == 1);
  CHECK(o.boolean("ok"));
  CHECK(o.is_null("sub"));
  CHECK(o.optional_string("sub") == std::nullopt);
  CHECK(o.optional_string("absent") == std::nullopt);
  CHECK(o.string("text") == "h\xC3\xA9llo \xF0\x9F\x98\x80 \"q\"\n");
  CHECK(o.string("utf8") == "\xE2\x82\xAC");
  CHECK(o.number("neg") == -25.0);
  CHECK(o.nested("nested") == R"({"a":[1,{"b":"}"}]})");
  CHECK(o.nested("list") == "[]");
  CHECK(o.type("ok") == json_object::kind::boolean);
  CHECK_THROWS_AS(o.string("id"), std::invalid_argument);
  CHECK_THROWS_AS(o.string("missing"), std::out_of_range);
  CHECK(json_object::parse(" {} ").text() == " {} ");
}

TEST_CASE("json_object rejects malformed lines, saying where") {
  CHECK_THROWS_WITH(json_object::parse(R"({"a":1)"), Catch::Contains("offset 6"));
  CHECK_THROWS_WITH(json_object::parse(R"({"a":"x} )"), Catch::Contains("unterminated string"));
  CHECK_THROWS_WITH(json_object::parse(R"({"a":1} x)"), Catch::Contains("text after the object"));
  CHECK_THROWS_WITH(json_object::parse("PORT 1234"), Catch::Contains("expected '{'"));
  CHECK_THROWS_AS(json_object::parse(R"({"a":})"), std::invalid_argument);
  CHECK_THROWS_AS(json_object::parse(R"({"a":"\ud800\u0041"})"), std::invalid_argument);
}

TEST_CASE("json_quote round-trips through json_object") {
  std::string nasty = "quote\" back\\slash \x01 tab\t nl\n \xE2\x82\xAC";
  auto o = json_object::parse("{\"v\":" + json_quote(nasty) + "}");
  CHECK(o.string("v") == nasty);
  CHECK(json_quote("a\x1f") == "\"a\\u001f\"");
}

TEST_CASE("payloads are deterministic and checksummed like zlib") {
  CHECK(crc32_of("123456789") == 0xCBF43926u);  // the CRC-32 check value
  CHECK(crc32_of("") == 0u);
  CHECK(make_payload(1000, 5) == make_payload(1000, 5));
  CHECK(make_payload(1000, 5) != make_payload(1000, 6));
  auto text = make_payload(5000, 9, true);
  CHECK(text.size() == 5000);
  CHECK(std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '.';
  }));
  // xorshift32 from seed 1: 270369 = 0x42021, so the first byte is 0x21.
  CHECK(static_cast<unsigned char>(make_payload(1, 1)[0]) == 0x21);
}
