// Must not compile with g++ < 13 (the guard in
// include/websockets/detail/coawait_guard.hpp): a client_options temporary inside co_await
// unix_connect(). tests/compile.cmake checks the error and its message.
#include <websockets/websockets.hpp>

asio::awaitable<void> form() {
  auto ws = co_await websockets::unix_connect("/tmp/x.sock", "ws://localhost/",
                                              websockets::client_options{});
}

int main() {}
