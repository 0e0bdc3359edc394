// Compiles on every compiler, g++ < 13 included: the forms the g++ < 13
// guard (include/websockets/detail/coawait_guard.hpp) must keep accepting.
// Built by tests/compile.cmake, never run.
#include <websockets/websockets.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace {

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

// A handler that can't be copied: it goes in as std::ref.
struct move_only_handler {
  std::unique_ptr<int> state = std::make_unique<int>(0);
  asio::awaitable<void> operator()(websockets::server_connection& ws) {
    ++*state;
    co_await ws.close();
  }
};

asio::awaitable<void> safe_forms() {
  websockets::server_options options{.max_size = 1 << 16};
  const websockets::server_options const_options{};
  auto a = co_await websockets::serve(echo, "127.0.0.1", 0, options);
  auto b = co_await websockets::serve(&echo, "127.0.0.1", 0, const_options);
  auto c = co_await websockets::serve(echo, "127.0.0.1", 0);
  auto d = co_await websockets::unix_serve(echo, "/tmp/websockets-safe-forms.sock", options);
  auto e = co_await websockets::unix_serve(echo, "/tmp/websockets-safe-forms.sock");

  // Captureless lambdas, lambdas capturing by reference, and a named lambda
  // capturing by value.
  int count = 0;
  auto f = co_await websockets::serve(
      [](websockets::server_connection& ws) -> asio::awaitable<void> { co_await ws.close(); },
      "127.0.0.1", 0, options);
  auto g = co_await websockets::serve(
      [&count](websockets::server_connection& ws) -> asio::awaitable<void> {
        ++count;
        co_await ws.close();
      },
      "127.0.0.1", 0);
  auto greet = [greeting = std::string("hello")](
                   websockets::server_connection& ws) -> asio::awaitable<void> {
    co_await ws.send(greeting);
  };
  auto h = co_await websockets::serve(greet, "127.0.0.1", 0, options);
  move_only_handler unique;
  auto i = co_await websockets::serve(std::ref(unique), "127.0.0.1", 0, options);
  std::function<asio::awaitable<void>(websockets::server_connection&)> erased = echo;
  auto j = co_await websockets::unix_serve(erased, "/tmp/websockets-safe-forms.sock", options);

  websockets::client_options client{.origin = "https://example.com"};
  auto k = co_await websockets::connect("ws://127.0.0.1:1/", client);
  auto l = co_await websockets::connect("ws://127.0.0.1:1/");
  auto m = co_await websockets::unix_connect("/tmp/websockets-safe-forms.sock");
  auto n = co_await websockets::unix_connect("/tmp/websockets-safe-forms.sock", "ws://x/", client);
}

}  // namespace

int main() {
  asio::io_context io;
  asio::co_spawn(io, safe_forms(), asio::detached);
  websockets::server_options options{};
  websockets::run(echo, "127.0.0.1", 0, options);
  websockets::run(echo, "127.0.0.1", 0);
  move_only_handler unique;
  websockets::run(std::ref(unique), "127.0.0.1", 0, options);
}
