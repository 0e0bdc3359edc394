// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): std::move(options), which can't be told from a
// temporary. tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

asio::awaitable<void> form() {
  websockets::server_options options{.max_size = 1 << 16};
  auto srv = co_await websockets::serve(echo, "127.0.0.1", 0, std::move(options));
}

int main() {}
