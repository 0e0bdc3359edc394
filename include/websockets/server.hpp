// serve(): a WebSocket server on TCP (ws:// and, with a TLS context,
// wss://) or on a Unix socket, running a handler coroutine per connection.
//
//   asio::awaitable<void> echo(websockets::server_connection& ws) {
//     while (auto message = co_await ws.next()) co_await ws.send(*message);
//   }
//   auto srv = co_await websockets::serve(echo, "localhost", 8765);
//   co_await srv.wait_closed();
//
// Each accepted connection goes through the opening handshake (TLS first
// when configured), bounded by open_timeout; a request that isn't a valid
// WebSocket handshake gets an HTTP error and never reaches the handler.
// The handler then runs on the connection's strand. When it returns, the
// server closes the connection with 1000; when it throws, with 1011, and
// the exception goes to the logger with the peer's address and the path.
//
// Every TCP connection, here and in connect(), has TCP_NODELAY set: a
// WebSocket frame is written whole, so Nagle's algorithm only adds delay.
#pragma once

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <concepts>
#include <csignal>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "websockets/any_stream.hpp"
#include "websockets/detail/coawait_guard.hpp"
#include "websockets/impl/server_state.hpp"
#include "websockets/options.hpp"
#include "websockets/websocket.hpp"

namespace websockets {

// A connection accepted by serve() or unix_serve(): over TCP, TLS or a Unix
// socket, as the server was configured.
using server_connection = basic_websocket<any_stream>;

// What serve() runs for each connection: a coroutine taking the connection.
template <class Handler>
concept connection_handler = std::invocable<Handler&, server_connection&> &&
    std::same_as<std::invoke_result_t<Handler&, server_connection&>, asio::awaitable<void>>;

// A running server, as serve() and unix_serve() return it.
//
// Destroying it closes it (as close() does, in the background); keep it
// alive as long as it should serve, and destroy it before its io_context.
class server {
 public:
  // An empty server: closed, no endpoints.
  server() = default;
  explicit server(std::shared_ptr<detail::server_state> state) : state_(std::move(state)) {}

  server(server&&) noexcept = default;
  server& operator=(server&& other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  ~server() { close(); }

  // Stops accepting connections and closes every open one with 1001 (going
  // away): handlers see connection_closed on their next call. Handshakes
  // under way are dropped. Returns at once; wait_closed() waits for the
  // end. Idempotent, and safe from any thread.
  void close() noexcept {
    if (!state_) return;
    try {
      state_->close();
    } catch (...) {
    }
  }

  // Waits until the server is closed (by close(), from anywhere), every
  // connection's TCP connection is closed and every handler has returned.
  asio::awaitable<void> wait_closed() {
    auto state = state_;  // keeps the state alive while waiting
    if (!state) co_return;
    // The initiation captures a plain pointer: g++ 12 destroys the
    // captures of a lambda inside a co_await expression twice.
    auto* s = state.get();
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::error_code)>(
        [s](auto handler) { s->when_closed(std::move(handler)); }, asio::use_awaitable);
  }

  // The local endpoints the server listens on, one per bound address: with
  // port 0, this says which port was chosen. Empty for a Unix socket and
  // once the server is closed.
  std::vector<asio::ip::tcp::endpoint> endpoints() const {
    return state_ ? state_->endpoints() : std::vector<asio::ip::tcp::endpoint>{};
  }

 private:
  std::shared_ptr<detail::server_state> state_;
};

namespace detail {

// The coroutines behind serve() and unix_serve(). They own their arguments
// (by value); the entry points below check first how they were passed.
template <class Handler>
asio::awaitable<server> serve_tcp(Handler handler, std::string host, std::uint16_t port,
                                  server_options options) {
  const auto caller = co_await asio::this_coro::executor;
  const auto io = detail::base_executor(caller);
  auto state = std::make_shared<detail::server_state>(io, detail::erase_handler(std::move(handler)),
                                                      std::move(options));
  std::vector<asio::ip::tcp::endpoint> addresses;
  std::error_code ec;
  const auto numeric = asio::ip::make_address(host, ec);
  if (!ec) {
    addresses.emplace_back(numeric, port);
  } else {
    asio::ip::tcp::resolver resolver(io);
    const std::string service = std::to_string(port);
    auto results = co_await resolver.async_resolve(
        host, service, asio::ip::resolver_base::passive | asio::ip::resolver_base::numeric_service,
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      throw std::system_error(
          ec, "can't resolve " + host + " to listen on port " + std::to_string(port));
    for (const auto& entry : results) {
      const auto endpoint = entry.endpoint();
      if (std::find(addresses.begin(), addresses.end(), endpoint) == addresses.end())
        addresses.push_back(endpoint);
    }
  }
  detail::bind_all(state->acceptors(), io, addresses, host, port);
  state->start();
  co_return server(std::move(state));
}

template <class Handler>
asio::awaitable<server> serve_unix(Handler handler, std::string path, server_options options) {
#ifdef WEBSOCKETS_WITH_OPENSSL
  if (options.ssl_context)
    throw std::invalid_argument("unix_serve: TLS over a Unix socket isn't supported");
#endif
  const auto caller = co_await asio::this_coro::executor;
  const auto io = detail::base_executor(caller);
  auto state = std::make_shared<detail::server_state>(io, detail::erase_handler(std::move(handler)),
                                                      std::move(options));
  detail::bind_unix(state->acceptors(), io, std::move(path));
  state->start();
  co_return server(std::move(state));
}
}  // namespace detail

// Starts a server on `host`:`port` and returns it once it listens. `host`
// may be an address, a name that resolves to several (each is bound, IPv4
// and IPv6 alike), or "" for every interface. Port 0 picks a free port,
// the same for every address; server::endpoints() tells which. Throws
// std::system_error when resolving or binding fails.
//
// `handler` is called with each connection once its opening handshake is
// done, on the connection's strand: `asio::awaitable<void>(server_connection&)`.
// Run it from a coroutine on the io_context that should run the server.
//
// Pass the options, and a handler that captures by value, as variables:
// g++ < 13 corrupts the heap with one built inside the co_await, so there
// this is a compile error (see detail/coawait_guard.hpp).
//   websockets::server_options options{.max_size = 1 << 16};
//   auto srv = co_await websockets::serve(echo, "localhost", 8765, options);
// The handler is copied; a move-only one goes in as std::ref(handler), and
// must then outlive the server.
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> serve(
    Handler&& handler, std::string host, std::uint16_t port, const server_options& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  return detail::serve_tcp(std::forward<Handler>(handler), std::move(host), port, options);
}
// Options defaults to server_options, so that a braced list lands here.
template <class Handler, class Options = server_options>
requires connection_handler<std::decay_t<Handler>> && std::same_as<Options, server_options>
    asio::awaitable<server> serve(Handler&& handler, std::string host, std::uint16_t port,
                                  Options&& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
  return detail::serve_tcp(std::forward<Handler>(handler), std::move(host), port,
                           std::move(options));
}
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> serve(
    Handler&& handler, std::string host, std::uint16_t port) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  return detail::serve_tcp(std::forward<Handler>(handler), std::move(host), port, server_options{});
}

// Starts a server on the Unix socket at `path` (a stale socket file there
// is replaced, and removed again on close). Throws std::system_error when
// binding fails, std::invalid_argument with a TLS context. Options and
// handler are passed as to serve().
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> unix_serve(
    Handler&& handler, std::string path, const server_options& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  return detail::serve_unix(std::forward<Handler>(handler), std::move(path), options);
}
template <class Handler, class Options = server_options>
requires connection_handler<std::decay_t<Handler>> && std::same_as<Options, server_options>
    asio::awaitable<server> unix_serve(Handler&& handler, std::string path, Options&& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
  return detail::serve_unix(std::forward<Handler>(handler), std::move(path), std::move(options));
}
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> unix_serve(
    Handler&& handler, std::string path) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  return detail::serve_unix(std::forward<Handler>(handler), std::move(path), server_options{});
}

// Serves on `host`:`port` until SIGINT or SIGTERM, then closes the server
// and returns once every connection is closed; a second signal stops at
// once. For main(): it runs its own io_context on the calling thread.
// Throws what serve() throws. Options and handler are passed as to serve()
// (no default argument for the options: g++ 12 mishandles an aggregate
// default argument as it does a braced temporary).
template <class Handler>
requires connection_handler<std::decay_t<Handler>>
void run(Handler&& handler, std::string host, std::uint16_t port, const server_options& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  asio::io_context context(1);
  asio::signal_set signals(context, SIGINT, SIGTERM);
  std::exception_ptr failure;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        // The options as an lvalue, the handler as it came: what the guard accepts.
        server srv = co_await serve(std::forward<Handler>(handler), std::move(host), port, options);
        signals.async_wait([&](std::error_code ec, int) {
          if (ec) return;
          srv.close();
          signals.async_wait([&](std::error_code ec2, int) {
            if (!ec2) context.stop();
          });
        });
        co_await srv.wait_closed();
      },
      [&](std::exception_ptr e) {
        failure = e;
        signals.cancel();
      });
  context.run();
  if (failure) std::rethrow_exception(failure);
}
template <class Handler, class Options = server_options>
requires connection_handler<std::decay_t<Handler>> && std::same_as<Options, server_options>
void run(Handler&& handler, std::string host, std::uint16_t port, Options&& options) {
  static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
  static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
  const server_options& named = options;  // run() blocks: the reference outlives the server
  run(std::forward<Handler>(handler), std::move(host), port, named);
}
template <class Handler>
requires connection_handler<std::decay_t<Handler>>
void run(Handler&& handler, std::string host, std::uint16_t port) {
  const server_options options{};
  run(std::forward<Handler>(handler), std::move(host), port, options);
}

}  // namespace websockets
