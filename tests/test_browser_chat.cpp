// The chat example with a real browser: headless Chromium, driven by
// tests/browser/cdp_drive.js, loads the page from chat_server, sends a
// message from it; our client, connected to the same server, receives it
// and answers, and the page shows the answer.
#include <signal.h>

#include <asio/steady_timer.hpp>
#include <iostream>
#include <regex>

#include "interop_harness.hpp"

using namespace interop;

namespace {

// The steps the driver runs in the page (tests/browser/README.md).
std::string page_steps() {
  return R"json([
  {"wait": "document.body.dataset.state === 'open' && document.querySelectorAll('#users li').length === 2",
   "timeout": 20000},
  {"eval": "document.getElementById('text').value = 'hello from Chromium'; document.getElementById('form').requestSubmit(); document.getElementById('text').value"},
  {"wait": "[...document.querySelectorAll('#messages li')].some(li => li.querySelector('.from')?.textContent === 'guest-1' && li.querySelector('.text')?.textContent === 'hello from C++ \u00fc')",
   "timeout": 20000},
  {"eval": "[...document.querySelectorAll('#messages li.mine .text')].map(e => e.textContent)"},
  {"eval": "[...document.querySelectorAll('#users li')].map(e => e.textContent)"}
])json";
}

}  // namespace

TEST_CASE("chat example: a message from Chromium reaches our client, and back",
          "[browser][examples]") {
  child_process server(CHAT_SERVER_PATH, {"127.0.0.1", "0"});
  static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
  const auto port = std::stoul(server.expect_line(listening, 15s, "the listening line")[1]);
  const std::string page = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::cout << "chat_server listening on 127.0.0.1:" << port << "; page " << page << std::endl;

  std::unique_ptr<child_process> browser;
  std::vector<std::string> got;
  run_client([&]() -> asio::awaitable<void> {
    const auto options = client_options_for_tests();
    auto ws = co_await websockets::connect("ws://127.0.0.1:" + std::to_string(port) + "/", options);
    got.push_back(std::string((co_await ws.recv()).text()));  // welcome, as guest-1

    browser = websockets::testing::start_browser_driver(
        {"--timeout", "60000", "--steps", page_steps(), page});
    got.push_back(std::string((co_await ws.recv()).text()));  // the page joins
    got.push_back(std::string((co_await ws.recv()).text()));  // and speaks
    co_await ws.send("hello from C++ \xC3\xBC");
    got.push_back(std::string((co_await ws.recv()).text()));  // ours, broadcast

    // Stays connected (the page counts two users) until the driver is done.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!browser->wait(0ms) && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(20ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_await ws.close();
  });

  CHECK(got == std::vector<std::string>{
                   R"({"type":"welcome","name":"guest-1","users":["guest-1"]})",
                   R"({"type":"join","name":"guest-2"})",
                   R"({"type":"message","from":"guest-2","text":"hello from Chromium"})",
                   "{\"type\":\"message\",\"from\":\"guest-1\",\"text\":\"hello from C++ "
                   "\xC3\xBC\"}",
               });

  REQUIRE(browser);
  const auto status = browser->wait_exit(10s);
  std::vector<json_object> steps;
  for (;;) {
    auto line = browser->read_line(5s);
    if (!line) break;
    auto o = json_object::parse(*line);
    INFO(*line);
    CHECK_FALSE((o.contains("event") && o.string("event") == "exception"));
    CHECK_FALSE((o.contains("event") && o.string("event") == "error"));
    if (o.contains("step")) steps.push_back(std::move(o));
  }
  CHECK(status.success());
  REQUIRE(steps.size() == 6);  // the page opened, then the five steps
  for (const auto& s : steps) {
    INFO(s.text());
    CHECK(s.boolean("ok"));
  }
  CHECK(steps[2].string("value") == "");  // the form sent and cleared its field
  CHECK(steps[4].nested("value") == R"(["hello from Chromium"])");
  CHECK(steps[5].nested("value") == R"json(["guest-1","guest-2 (you)"])json");

  server.signal(SIGINT);
  CHECK(server.wait_exit().success());
}
