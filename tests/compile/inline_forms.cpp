// The forms the g++ < 13 guard rejects (see the fail_*.cpp next to this
// file) run correctly on the compilers that accept them: options built
// inside co_await, std::move(options), a lambda capturing a std::string by
// value. Registered by tests/compile.cmake except on g++ < 13, where
// these lines would corrupt the heap. The options are checked as they
// arrive (headers, limits), so a mangled copy shows.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <websockets/websockets.hpp>

#include <unistd.h>

#include "websockets/detail/coawait_guard.hpp"

static_assert(!websockets::detail::coawait_guard, "this test is for compilers without the guard");

namespace {

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

template <class Body>
void run_coroutine(Body body) {
  asio::io_context io(1);
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.run_for(std::chrono::seconds(30));
  REQUIRE(done);
  if (failure) std::rethrow_exception(failure);
}

std::string uri_of(const websockets::server& srv) {
  return "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port()) + "/";
}

}  // namespace

TEST_CASE("serve() and connect() with options built inside co_await", "[compile]") {
  run_coroutine([]() -> asio::awaitable<void> {
    auto srv = co_await websockets::serve(
        echo, "127.0.0.1", 0,
        {.max_size = 1 << 16, .server_header = "inline-server", .logger = nullptr});
    auto ws = co_await websockets::connect(uri_of(srv),
                                           {.origin = "https://inline.example", .user_agent = "x"});
    REQUIRE(ws.response_headers().get("Server") == "inline-server");
    co_await ws.send("inline options");
    auto reply = co_await ws.recv();
    REQUIRE(reply.text() == "inline options");
    // max_size arrived intact: a bigger message closes with 1009.
    co_await ws.send(std::string((1 << 16) + 1, 'x'));
    REQUIRE_THROWS(co_await ws.recv());
    REQUIRE(ws.close_code() == 1009);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("std::move(options) and a lambda capturing by value, inside co_await", "[compile]") {
  run_coroutine([]() -> asio::awaitable<void> {
    websockets::server_options options{.server_header = "moved", .logger = nullptr};
    auto srv = co_await websockets::serve(
        [greeting = std::string("hello from a by-value capture")](
            websockets::server_connection& ws) -> asio::awaitable<void> {
          co_await ws.send(greeting);
          co_await ws.close();
        },
        "127.0.0.1", 0, std::move(options));
    websockets::client_options client{.user_agent = "moved-client"};
    auto ws = co_await websockets::connect(uri_of(srv), std::move(client));
    REQUIRE(ws.response_headers().get("Server") == "moved");
    auto greeting = co_await ws.recv();
    REQUIRE(greeting.text() == "hello from a by-value capture");
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("unix_serve() and unix_connect() with options built inside co_await", "[compile]") {
  const std::string path = "/tmp/websockets-inline-forms-" + std::to_string(::getpid()) + ".sock";
  run_coroutine([path]() -> asio::awaitable<void> {
    auto srv = co_await websockets::unix_serve(echo, path,
                                               {.server_header = "unix-inline", .logger = nullptr});
    auto ws = co_await websockets::unix_connect(path, "ws://localhost/", {.user_agent = "u"});
    REQUIRE(ws.response_headers().get("Server") == "unix-inline");
    co_await ws.send("over a unix socket");
    auto reply = co_await ws.recv();
    REQUIRE(reply.text() == "over a unix socket");
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
  });
}
