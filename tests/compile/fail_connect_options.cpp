// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): options built inside co_await connect().
// tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

asio::awaitable<void> form() {
  auto ws = co_await websockets::connect("ws://127.0.0.1:8765/", {.origin = "https://x"});
}

int main() {}
