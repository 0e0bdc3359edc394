// connect(): open a WebSocket connection to a ws:// or wss:// URI.
//
//   auto ws = co_await websockets::connect("wss://example.com/chat");
//   co_await ws.send("hello");
//   auto reply = co_await ws.recv();
//
// connect() resolves the host, tries each address in turn, sets
// TCP_NODELAY, runs the TLS handshake for wss:// (SNI set, certificate and
// host name verified) and then the opening handshake, all within
// open_timeout. Errors:
//   invalid_uri            the URI isn't a ws:// or wss:// URI
//   std::system_error      resolving, connecting or TLS failed, or
//                          open_timeout passed (asio::error::timed_out);
//                          the message names the host and port
//   invalid_status_code    the server answered with another status than 101
//   invalid_handshake      (and its other subclasses) a bad 101 response
#pragma once

#include <asio/awaitable.hpp>
#include <concepts>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "websockets/any_stream.hpp"
#include "websockets/detail/coawait_guard.hpp"
#include "websockets/impl/client_connect.hpp"
#include "websockets/options.hpp"
#include "websockets/websocket.hpp"

namespace websockets {

// A connection opened by connect() or unix_connect(), over TCP, TLS or a
// Unix socket as the URI and the function say.
using client_connection = basic_websocket<any_stream>;

#ifdef WEBSOCKETS_WITH_OPENSSL
// The TLS context connect() uses when client_options has none: TLS 1.2 or
// later, the system's trusted CAs, the peer's certificate verified. Made
// once and shared.
inline std::shared_ptr<asio::ssl::context> default_ssl_context();
#endif

// Opens a connection to `uri` (ws:// or wss://) with `options`; see the top
// of this header for what it throws. The URI is copied at once, so it may
// be a temporary.
//
// Pass the options as a variable: g++ < 13 corrupts the heap with options
// built inside the co_await, so there this is a compile error (see
// detail/coawait_guard.hpp).
//   websockets::client_options options{.origin = "https://example.com"};
//   auto ws = co_await websockets::connect("wss://example.com/chat", options);
inline asio::awaitable<client_connection> connect(std::string_view uri,
                                                  const client_options& options) {
  return detail::connect_to(std::string(uri), std::string(), options);
}
// Options defaults to client_options, so that a braced list lands here.
template <class Options = client_options>
requires std::same_as<Options, client_options> asio::awaitable<client_connection> connect(
    std::string_view uri, Options&& options) {
  static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
  return detail::connect_to(std::string(uri), std::string(), std::move(options));
}
inline asio::awaitable<client_connection> connect(std::string_view uri) {
  return detail::connect_to(std::string(uri), std::string(), client_options{});
}

// Opens a connection over the Unix socket at `path`; `uri` gives the Host
// header and the resource name (ws:// only). Options are passed as to
// connect().
inline asio::awaitable<client_connection> unix_connect(std::string path, std::string_view uri,
                                                       const client_options& options) {
  if (path.empty()) throw std::invalid_argument("unix_connect: empty socket path");
  return detail::connect_to(std::string(uri), std::move(path), options);
}
template <class Options = client_options>
requires std::same_as<Options, client_options> asio::awaitable<client_connection> unix_connect(
    std::string path, std::string_view uri, Options&& options) {
  static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
  if (path.empty()) throw std::invalid_argument("unix_connect: empty socket path");
  return detail::connect_to(std::string(uri), std::move(path), std::move(options));
}
inline asio::awaitable<client_connection> unix_connect(std::string path,
                                                       std::string_view uri = "ws://localhost/") {
  if (path.empty()) throw std::invalid_argument("unix_connect: empty socket path");
  return detail::connect_to(std::string(uri), std::move(path), client_options{});
}

}  // namespace websockets
