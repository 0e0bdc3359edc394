// Boost.Beast's echo server for the side-by-side benchmarks: the fastest
// idiomatic Beast we know how to write. One io thread, C++20 coroutines,
// websocket::stream over a plain socket (no tcp_stream timers on the hot
// path), one flat_buffer per connection reused for every message, message
// type preserved, auto_fragment off, a read limit that fits 16 MiB.
//
//   bench_beast_echo PORT [--deflate] [--window-bits N] [--level N] [--mem-level N]
//
// --deflate enables permessage-deflate. Its settings default to the ones
// our own server uses (12-bit windows both ways, level 6, memLevel 4), so
// that both do the same compression work; Beast's own defaults are 15-bit
// windows and level 8.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

struct server_settings {
  bool deflate = false;
  int window_bits = 12;
  int level = 6;
  int mem_level = 4;
};

asio::awaitable<void> echo(tcp::socket socket, server_settings settings) {
  socket.set_option(tcp::no_delay(true));
  websocket::stream<tcp::socket> ws(std::move(socket));
  if (settings.deflate) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.server_max_window_bits = settings.window_bits;
    pmd.client_max_window_bits = settings.window_bits;
    pmd.compLevel = settings.level;
    pmd.memLevel = settings.mem_level;
    ws.set_option(pmd);
  }
  ws.auto_fragment(false);
  ws.read_message_max(64ull * 1024 * 1024);
  beast::error_code ec;
  co_await ws.async_accept(asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  beast::flat_buffer buffer;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // closed by the client, or an error: either way, done
    ws.text(ws.got_text());
    co_await ws.async_write(buffer.data(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    buffer.consume(buffer.size());
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, server_settings settings) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket), settings), asio::detached);
  }
}

int parse_int(const char* text) {
  return static_cast<int>(std::strtol(text, nullptr, 10));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s PORT [--deflate] [--window-bits N] [--level N] [--mem-level N]\n",
                 argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(parse_int(argv[1]));
  server_settings settings;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--deflate") {
      settings.deflate = true;
    } else if (arg == "--window-bits" && has_value) {
      settings.window_bits = parse_int(argv[++i]);
    } else if (arg == "--level" && has_value) {
      settings.level = parse_int(argv[++i]);
    } else if (arg == "--mem-level" && has_value) {
      settings.mem_level = parse_int(argv[++i]);
    } else {
      std::fprintf(stderr, "bench_beast_echo: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  try {
    asio::io_context io(1);
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(io, accept_loop(std::move(acceptor), settings), asio::detached);
    // SIGINT and SIGTERM end the process normally, so that profilers write their reports.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](const beast::error_code&, int) { io.stop(); });
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_beast_echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
