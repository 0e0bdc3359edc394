// The ceiling for the echo benchmarks: a TCP echo server with no WebSocket
// framing at all, on standalone Asio with C++20 coroutines and one io thread.
//
// Each connection runs the loop a WebSocket echo runs, minus the protocol:
// read what is there into a buffer, write it all back, repeat. Whatever a
// WebSocket server costs above this is the price of its framing, masking,
// validation and buffering.
//
//   bench_raw_echo PORT [--buffer BYTES]
#include <asio.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

namespace {

using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket, std::size_t buffer_size) {
  socket.set_option(tcp::no_delay(true));
  // Left uninitialized, so that an idle connection's buffer isn't resident.
  const auto buffer = std::make_unique_for_overwrite<char[]>(buffer_size);
  std::error_code ec;
  for (;;) {
    const std::size_t n = co_await socket.async_read_some(
        asio::buffer(buffer.get(), buffer_size), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(socket, asio::buffer(buffer.get(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::size_t buffer_size) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket), buffer_size), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [--buffer BYTES]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  std::size_t buffer_size = 64 * 1024;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--buffer") buffer_size = std::strtoull(argv[i + 1], nullptr, 10);
  }
  try {
    asio::io_context io(1);
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(io, accept_loop(std::move(acceptor), buffer_size), asio::detached);
    // SIGINT and SIGTERM end the process normally, so that profilers and
    // valgrind write their reports.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](const std::error_code&, int) { io.stop(); });
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_raw_echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
