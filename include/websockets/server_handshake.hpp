// The server side of the opening handshake over any Asio stream: read the
// request, answer it with 101 or with an HTTP error, and open the
// connection.
//
//   auto ws = co_await websockets::accept(std::move(stream), options);
//
// serve() runs it for each connection it accepts; accept() is for servers
// that bring their own streams (or tests that run over test_stream).
//
// A request that can't open a WebSocket connection gets an HTTP response
// with a one-line reason, then the stream is closed and the exception that
// says why reaches the caller:
//   400  a malformed request, a missing Host, a bad Sec-WebSocket-Key, ...
//   403  an Origin that `origins` doesn't list          (invalid_origin)
//   405  a method other than GET                        (invalid_message)
//   426  no "Upgrade: websocket"                        (invalid_upgrade)
//        or a Sec-WebSocket-Version other than 13       (invalid_header_value)
//   500  an exception from one of the options' callables
// process_request's response goes out the same way, with abort_handshake.
// server_accept.hpp makes these decisions, without I/O, and lists them all.
// A peer that closes before sending anything gets no answer
// (cancel_handshake), nor one whose connection fails (std::system_error).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/use_awaitable.hpp>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "websockets/exceptions.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/http_io.hpp"
#include "websockets/impl/stream_traits.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/options.hpp"
#include "websockets/server_accept.hpp"
#include "websockets/uri.hpp"
#include "websockets/websocket.hpp"

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <asio/ssl/stream.hpp>
#endif

namespace websockets {

// The handshake settings of `options`, as accept_request() takes them: views
// of its fields, valid while `options` lives.
inline accept_settings accept_settings_of(const server_options& options) {
  accept_settings settings;
  settings.deflate = options.compression == compression::deflate;
  if (options.origins) settings.origins = *options.origins;
  settings.extensions = options.extensions;
  settings.subprotocols = options.subprotocols;
  if (options.select_subprotocol)
    settings.select_subprotocol = [&select = options.select_subprotocol](
                                      std::span<const std::string> client,
                                      std::span<const std::string> server) {
      return select(client, server);
    };
  if (!options.extra_headers.empty())
    settings.extra_headers = [&extra = options.extra_headers](
                                 headers& response, std::string_view path, const headers& request) {
      extra.append_to(response, path, request);
    };
  settings.server_header = options.server_header;
  return settings;
}

namespace detail {

#ifdef WEBSOCKETS_WITH_OPENSSL
template <class T>
inline constexpr bool is_ssl_stream = false;
template <class Next>
inline constexpr bool is_ssl_stream<asio::ssl::stream<Next>> = true;
#endif

// Whether the connection is encrypted: a TLS stream, or an any_stream over
// TLS.
template <class Stream>
bool stream_is_tls(Stream& s) {
  if constexpr (requires { s.is_tls(); }) {
    return s.is_tls();
  }
#ifdef WEBSOCKETS_WITH_OPENSSL
  else if constexpr (is_ssl_stream<Stream>) {
    return true;
  }
#endif
  else {
    return false;
  }
}

// The server side of the opening handshake on `stream`, which stays the
// caller's: reads the request, runs process_request, and sends what
// accept_request() decides. On success, returns what the connection needs;
// on failure, the refusal is sent, the stream is half-closed
// (shutdown_send) and the exception rethrown.
template <class Stream>
asio::awaitable<opening_handshake> server_handshake(Stream& stream, const server_options& options) {
  const accept_settings settings = accept_settings_of(options);
  accept_context context{.secure = stream_is_tls(stream), .now = 0};
  std::string buffer;
  http_request request;
  std::exception_ptr read_failure;
  try {
    auto dynamic = asio::dynamic_buffer(buffer);
    request = co_await read_request(stream, dynamic, options.request_limits);
  } catch (const invalid_message&) {
    read_failure = buffer.empty() ? std::make_exception_ptr(cancel_handshake())  // said nothing
                                  : std::current_exception();
  } catch (...) {
    read_failure = std::current_exception();
  }

  context.now = std::time(nullptr);
  std::optional<accept_result> decision;
  if (read_failure) decision = refuse(std::move(read_failure), settings, context);
  if (!decision) decision = screen_request(request, settings, context);
  if (!decision && options.process_request) {
    std::optional<http_response> early;
    std::exception_ptr failure;
    try {
      early = co_await options.process_request(request.path, request.headers);
    } catch (...) {
      failure = std::current_exception();
    }
    context.now = std::time(nullptr);
    if (failure)
      decision = refuse(std::move(failure), settings, context);
    else if (early)
      decision = respond_instead(std::move(*early), settings, context);
  }
  if (!decision) decision = accept_request(std::move(request), settings, context);

  if (decision->accepted()) {
    co_await asio::async_write(stream, asio::buffer(decision->bytes), asio::use_awaitable);
    opening_handshake result = std::move(decision->handshake);
    result.leftover = std::move(buffer);  // the client's first frames, if any
    co_return result;
  }
  if (decision->response) {
    std::error_code ec;
    co_await asio::async_write(stream, asio::buffer(decision->bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    shutdown_send(stream);
  }
  std::rethrow_exception(decision->failure);
}

}  // namespace detail

// Runs the server side of the opening handshake on `stream` with the
// handshake settings of `options` and returns the open connection. Throws
// what server_handshake.hpp's header lists, after sending the refusal and
// closing the stream. There is no timeout here: serve() bounds the
// handshake with open_timeout; otherwise cancel the coroutine or close the
// stream.
template <class Stream>
asio::awaitable<basic_websocket<Stream>> accept(Stream stream, server_options options) {
  opening_handshake handshake;
  std::exception_ptr failure;
  try {
    handshake = co_await detail::server_handshake(stream, options);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    detail::close_stream(stream);
    std::rethrow_exception(failure);
  }
  co_return basic_websocket<Stream>(std::move(stream), role::server, connection_options_of(options),
                                    std::move(handshake));
}
template <class Stream>
asio::awaitable<basic_websocket<Stream>> accept(Stream stream) {
  return accept(std::move(stream), server_options{});
}

}  // namespace websockets
