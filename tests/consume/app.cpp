// A program that uses the library the way a user's would: a server and a
// client in one io_context exchange one message. Built three ways by
// consume.sh (add_subdirectory, find_package, plain -I include); exits 0 when
// the echo came back.
#include <websockets/websockets.hpp>

#include <cstdio>

int main() {
  asio::io_context io(1);
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto srv = co_await websockets::serve(
            [](websockets::server_connection& ws) -> asio::awaitable<void> {
              while (auto m = co_await ws.next()) co_await ws.send(*m);
            },
            "127.0.0.1", 0);
        const auto port = srv.endpoints().front().port();
        auto ws = co_await websockets::connect("ws://127.0.0.1:" + std::to_string(port) + "/");
        co_await ws.send("consumed");
        auto reply = co_await ws.recv();
        co_await ws.close();
        srv.close();
        co_await srv.wait_closed();
        if (reply.text() == "consumed") status = 0;
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::fprintf(stderr, "error: %s\n", x.what());
        }
      });
  io.run();
  std::puts(status == 0 ? "echo received" : "no echo");
  return status;
}
