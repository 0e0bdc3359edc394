// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): options built in the call to run().
// tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

int main() {
  websockets::run(echo, "127.0.0.1", 8765, {.max_size = 1 << 16});
}
