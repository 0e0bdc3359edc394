// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): options built inside co_await unix_serve().
// tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

asio::awaitable<void> form() {
  auto srv = co_await websockets::unix_serve(echo, "/tmp/x.sock", {.max_size = 1 << 16});
}

int main() {}
