// echo_server HOST PORT: sends every message back as it came, text as text
// and binary as binary.
//
// The target of conformance runs (Autobahn|Testsuite's fuzzing client) and
// of the benchmarks, so it does the least a correct server can:
// permessage-deflate with the library's defaults, messages up to 64 MiB, no
// keepalive pings and no output per message. Port 0 picks a free port; the
// one line printed at start says which. SIGINT or SIGTERM closes every
// connection with 1001 (going away) and exits with status 0; a second
// signal exits at once.
//
//   ./echo_server 127.0.0.1 9001
//   listening on 127.0.0.1:9001
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <websockets/websockets.hpp>

namespace {

asio::awaitable<void> echo(websockets::server_connection& ws) {
  while (auto message = co_await ws.next()) co_await ws.send(*message);
}

// Serves until the first signal, then closes the server and waits for its
// connections to finish their closing handshakes.
asio::awaitable<void> serve_until_signal(asio::io_context& io, std::string host,
                                         std::uint16_t port) {
  // Registered first, so that a signal arriving during start-up is caught.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  websockets::server_options options;
  options.ping_interval = std::nullopt;
  options.max_size = std::size_t{64} << 20;
  auto server = co_await websockets::serve(echo, host, port, options);

  // "listening on 127.0.0.1:9001", or "[::1]:9001".
  const auto bound = std::to_string(server.endpoints().at(0).port());
  const bool ipv6 = host.find(':') != std::string::npos;
  std::printf("listening on %s%s%s:%s\n", ipv6 ? "[" : "", host.c_str(), ipv6 ? "]" : "",
              bound.c_str());
  std::fflush(stdout);

  co_await signals.async_wait(asio::use_awaitable);
  server.close();
  signals.async_wait([&io](std::error_code ec, int) {
    if (!ec) io.stop();
  });
  co_await server.wait_closed();
  signals.cancel();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  const std::string_view port_text = argc == 3 ? argv[2] : "";
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (argc != 3 || error != std::errc() || end != port_text.data() + port_text.size() ||
      port_text.empty()) {
    std::fprintf(stderr, "usage: echo_server HOST PORT   (PORT 0 picks a free port)\n");
    return 2;
  }
  // One thread: connections then skip their strands entirely.
  asio::io_context io(1);
  std::exception_ptr failure;
  asio::co_spawn(io, serve_until_signal(io, argv[1], port),
                 [&failure](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "echo_server: %s\n", e.what());
    }
    return 1;
  }
  return 0;
}
