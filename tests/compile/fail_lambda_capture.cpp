// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): a lambda capturing a std::string by value, built
// inside co_await serve(). tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

#include <string>

asio::awaitable<void> form() {
  auto srv = co_await websockets::serve(
      [greeting = std::string("hello")](websockets::server_connection& ws)
          -> asio::awaitable<void> { co_await ws.send(greeting); },
      "127.0.0.1", 0);
}

int main() {}
