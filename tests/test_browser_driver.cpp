// The headless Chromium driver (tests/browser/cdp_drive.js): a page served
// by Python's http.server opens a WebSocket to the Python echo server, and
// the driver waits for the echo in the DOM. Also: failures are reported,
// and Chromium and its profile never outlive the driver.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "support/child_process.hpp"
#include "support/json_line.hpp"
#include "support/peers.hpp"

using namespace websockets::testing;
using namespace std::chrono_literals;

namespace {

// Chromium's first start on a busy machine can take a while.
constexpr auto browser_timeout = 60000ms;

json_object next_json(child_process& p) {
  auto line = p.read_line(browser_timeout);
  if (!line) throw std::runtime_error(p.failure("stdout ended"));
  return json_object::parse(*line);
}

// The next line that is not a console message or page exception.
json_object next_result(child_process& p) {
  for (;;) {
    auto o = next_json(p);
    if (o.contains("event") && (o.string("event") == "console" || o.string("event") == "exception"))
      continue;
    return o;
  }
}

// Python's http.server on 127.0.0.1, port 0, serving tests/browser.
std::unique_ptr<child_process> start_http_server(std::uint16_t& port) {
  auto server = std::make_unique<child_process>(
      python3(), std::vector<std::string>{"-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                          "--directory", browser_dir()});
  auto m = server->expect_line(std::regex(R"(Serving HTTP on \S+ port (\d+).*)"), 15000ms,
                               "the http.server banner");
  port = static_cast<std::uint16_t>(std::stoul(m[1]));
  return server;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool gone_soon(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    if (process_gone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("cdp_drive: a page's WebSocket echo shows in the DOM", "[browser]") {
  auto echo = start_python_peer("py_echo_server.py");
  std::uint16_t ws_port = echo->wait_for_port();
  std::uint16_t http_port = 0;
  auto http = start_http_server(http_port);

  std::string url = "http://127.0.0.1:" + std::to_string(http_port) +
                    "/selftest.html?ws=" + std::to_string(ws_port);
  std::string steps = R"([{"wait":"document.getElementById('state').textContent === 'echoed'"},)"
                      R"({"eval":"document.getElementById('out').textContent"},)"
                      R"({"wait":"document.title === 'closed 1000'"}])";
  auto driver = start_browser_driver({"--steps", steps, url});

  auto ready = next_json(*driver);
  INFO(ready.text());
  REQUIRE(ready.string("event") == "ready");
  CHECK(ready.string("browser").find("Chrome") != std::string::npos);
  auto browser_pid = static_cast<pid_t>(ready.integer("pid"));
  std::string profile = ready.string("profile");
  CHECK(exists(profile));

  auto opened = next_result(*driver);
  CHECK(opened.integer("step") == 0);
  CHECK(opened.boolean("ok"));
  CHECK(opened.string("open") == url);
  auto echoed = next_result(*driver);
  INFO(echoed.text());
  CHECK(echoed.boolean("ok"));
  auto text = next_result(*driver);
  CHECK(text.boolean("ok"));
  CHECK(text.string("value") == "hello from Chromium \xE2\x9C\x93");
  CHECK(next_result(*driver).boolean("ok"));
  CHECK(driver->wait_exit(browser_timeout).success());

  // The echo server saw the page's message, and the page's clean close.
  auto open = json_object::parse(echo->expect_line(std::regex(R"(\{"event":"open".*)"))[0]);
  CHECK(open.string("path") == "/selftest");
  auto message = json_object::parse(echo->expect_line(std::regex(R"(\{"event":"message".*)"))[0]);
  CHECK(message.string("data") == "hello from Chromium \xE2\x9C\x93");
  CHECK(message.boolean("rsv1"));  // Chromium compresses with permessage-deflate
  auto closed = json_object::parse(echo->expect_line(std::regex(R"(\{"event":"close".*)"))[0]);
  CHECK(closed.integer("code") == 1000);
  CHECK(closed.string("reason") == "done");

  // Chromium and its profile are gone.
  CHECK(gone_soon(browser_pid));
  CHECK_FALSE(exists(profile));
}

TEST_CASE("cdp_drive: a condition that stays false fails the run, and cleans up", "[browser]") {
  auto driver = start_browser_driver(
      {"--steps",
       R"([{"eval":"1 + 1"},{"wait":"window.never === true","timeout":300},{"eval":"2"}])",
       "about:blank"});
  auto ready = next_json(*driver);
  REQUIRE(ready.string("event") == "ready");
  auto browser_pid = static_cast<pid_t>(ready.integer("pid"));
  std::string profile = ready.string("profile");

  CHECK(next_result(*driver).boolean("ok"));  // open
  auto sum = next_result(*driver);
  CHECK(sum.integer("value") == 2);
  auto waited = next_result(*driver);
  CHECK_FALSE(waited.boolean("ok"));
  CHECK(waited.integer("step") == 2);
  CHECK(waited.string("error").find("still false after 300 ms") != std::string::npos);
  CHECK(driver->read_line(browser_timeout) == std::nullopt);  // the last step never ran
  CHECK(driver->wait_exit(browser_timeout).code == 1);
  CHECK(gone_soon(browser_pid));
  CHECK_FALSE(exists(profile));
}

TEST_CASE("cdp_drive: page exceptions are reported, and SIGTERM stops it cleanly", "[browser]") {
  auto driver = start_browser_driver(
      {"--steps",
       R"([{"eval":"setTimeout(() => { throw new Error('boom') }, 0); 'thrown'"},)"
       R"({"wait":"false","timeout":120000}])",
       "about:blank"});
  auto ready = next_json(*driver);
  REQUIRE(ready.string("event") == "ready");
  auto browser_pid = static_cast<pid_t>(ready.integer("pid"));
  std::string profile = ready.string("profile");

  // The exception line may come before or after the eval's result.
  bool saw_exception = false, saw_eval = false;
  while (!saw_exception || !saw_eval) {
    auto o = next_json(*driver);
    INFO(o.text());
    if (o.contains("event") && o.string("event") == "exception") {
      CHECK(o.string("text").find("boom") != std::string::npos);
      saw_exception = true;
    } else if (o.contains("step") && o.integer("step") == 1) {
      CHECK(o.string("value") == "thrown");
      saw_eval = true;
    }
  }
  // Only the driver gets the signal (not its process group): it must still
  // take Chromium down with it.
  ::kill(driver->pid(), SIGTERM);
  auto stopped = next_result(*driver);
  CHECK(stopped.string("error") == "stopped by SIGTERM");
  CHECK(driver->wait_exit(browser_timeout).code == 1);
  CHECK(gone_soon(browser_pid));
  CHECK_FALSE(exists(profile));
}
