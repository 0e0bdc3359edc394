// Connected pairs of streams of each kind a connection runs on, for tests
// that run the same scenario over all of them: the in-memory test stream,
// TCP on 127.0.0.1, a Unix socket pair, and TLS over TCP.
#pragma once

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <utility>

#include "support/self_signed_tls.hpp"
#include "websockets/test_stream.hpp"

namespace websockets::test {

// Runs the coroutine `body(executor)` on a fresh io_context run by
// `threads` threads, stops everything it started when it ends, and rethrows
// what it threw. Fails if it takes longer than `timeout`.
template <class Body>
void run_async(Body&& body, std::chrono::steady_clock::duration timeout = std::chrono::seconds(30),
               int threads = 1) {
  asio::io_context ioc(threads);
  std::exception_ptr error;
  std::atomic<bool> done{false};
  asio::co_spawn(ioc, body(ioc.get_executor()), [&](std::exception_ptr e) {
    error = e;
    done = true;
    ioc.stop();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run_for(timeout); });
  ioc.run_for(timeout);
  for (auto& t : pool) t.join();
  if (!done) throw std::runtime_error("the test coroutine didn't finish in time");
  if (error) std::rethrow_exception(error);
}

struct test_stream_pair {
  using stream_type = websockets::test_stream;
  static constexpr const char* name = "test_stream";
  static asio::awaitable<std::pair<stream_type, stream_type>> make(asio::any_io_executor ex) {
    auto [a, b] = make_test_stream_pair(ex);
    co_return std::pair<stream_type, stream_type>(std::move(a), std::move(b));
  }
};

struct tcp_pair {
  using stream_type = asio::ip::tcp::socket;
  static constexpr const char* name = "tcp";
  static asio::awaitable<std::pair<stream_type, stream_type>> make(asio::any_io_executor ex) {
    asio::ip::tcp::acceptor acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0});
    stream_type client(ex);
    co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    stream_type server = co_await acceptor.async_accept(asio::use_awaitable);
    client.set_option(asio::ip::tcp::no_delay(true));
    server.set_option(asio::ip::tcp::no_delay(true));
    co_return std::pair<stream_type, stream_type>(std::move(client), std::move(server));
  }
};

struct unix_pair {
  using stream_type = asio::local::stream_protocol::socket;
  static constexpr const char* name = "unix";
  static asio::awaitable<std::pair<stream_type, stream_type>> make(asio::any_io_executor ex) {
    stream_type a(ex), b(ex);
    asio::local::connect_pair(a, b);
    co_return std::pair<stream_type, stream_type>(std::move(a), std::move(b));
  }
};

struct tls_pair {
  using stream_type = asio::ssl::stream<asio::ip::tcp::socket>;
  static constexpr const char* name = "tls";
  static asio::awaitable<std::pair<stream_type, stream_type>> make(asio::any_io_executor ex) {
    static const self_signed_tls tls;
    static const auto server_ctx = tls.server_context();
    static const auto client_ctx = tls.client_context();
    auto [c, s] = co_await tcp_pair::make(ex);
    stream_type client(std::move(c), *client_ctx);
    stream_type server(std::move(s), *server_ctx);
    SSL_set_tlsext_host_name(client.native_handle(), "localhost");
    client.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    using namespace asio::experimental::awaitable_operators;
    co_await (client.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable) &&
              server.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable));
    co_return std::pair<stream_type, stream_type>(std::move(client), std::move(server));
  }
};

}  // namespace websockets::test
