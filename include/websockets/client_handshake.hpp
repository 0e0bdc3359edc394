// The client side of the opening handshake over any Asio stream: send the
// request for a URI, check the response, and open the connection.
//
//   auto ws = co_await websockets::handshake(std::move(stream), "ws://example.com/chat", options);
//
// connect() runs it after connecting (and TLS); handshake() is for clients
// that bring their own streams (a proxy tunnel, a test_stream).
//
// Failures, after which the stream is closed:
//   invalid_status_code   the server answered with another status than 101
//   invalid_upgrade, invalid_header, invalid_header_value
//                         a 101 whose headers don't complete the handshake
//   negotiation_error     an extension or subprotocol this client didn't
//                         offer or can't accept
//   invalid_message       a response that isn't HTTP
//   std::system_error     the connection failed
#pragma once

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/client_check.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/http_io.hpp"
#include "websockets/impl/stream_traits.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/options.hpp"
#include "websockets/uri.hpp"
#include "websockets/websocket.hpp"

namespace websockets {

namespace detail {

// The factories whose offers the request carries, in order: the options'
// own, then the default permessage-deflate when compression asks for it
// and none is listed.
inline std::vector<const client_extension_factory*> client_factories(
    const client_options& options) {
  std::vector<const client_extension_factory*> out;
  out.reserve(options.extensions.size() + 1);
  bool has_deflate = false;
  for (const auto& f : options.extensions) {
    if (!f) continue;
    out.push_back(f.get());
    has_deflate = has_deflate || f->name() == permessage_deflate_name;
  }
  if (options.compression == compression::deflate && !has_deflate)
    out.push_back(default_client_deflate().get());
  return out;
}

// The request for `uri`: Host, Authorization for the URI's user info,
// Origin, the handshake's own fields, offers, extra headers, User-Agent.
// Returns the key that the response must answer.
inline std::string build_client_request(
    http_request& request, const websocket_uri& uri, const client_options& options,
    std::span<const client_extension_factory* const> factories) {
  request.path = uri.resource_name;
  headers& h = request.headers;
  h.add("Host", host_header(uri));
  if (uri.user_info)
    h.add("Authorization", build_authorization_basic(uri.user_info->first, uri.user_info->second));
  if (options.origin) h.add("Origin", *options.origin);
  std::string key = build_request(h);
  if (!factories.empty()) {
    std::vector<extension_header> offers;
    offers.reserve(factories.size());
    for (const auto* f : factories)
      offers.push_back({std::string(f->name()), f->get_request_params()});
    h.add("Sec-WebSocket-Extensions", build_extension_list(offers));
  }
  if (!options.subprotocols.empty())
    h.add("Sec-WebSocket-Protocol", build_subprotocol_list(options.subprotocols));
  for (const auto& [name, value] : options.extra_headers) h.add(name, value);
  if (!options.user_agent.empty() && !h.contains("User-Agent"))
    h.add("User-Agent", options.user_agent);
  return key;
}

// The client side of the opening handshake on `stream`, which stays the
// caller's: writes the request, reads the response and checks it with
// check_handshake_response(). Returns what the connection needs; throws on
// any failure.
template <class Stream>
asio::awaitable<opening_handshake> client_handshake(Stream& stream, const websocket_uri& uri,
                                                    const client_options& options) {
  const auto factories = client_factories(options);
  http_request request;
  const std::string key = build_client_request(request, uri, options, factories);
  co_await write_request(stream, request);

  std::string buffer;
  auto dynamic = asio::dynamic_buffer(buffer);
  http_response response = co_await read_response(stream, dynamic, options.response_limits);

  const client_offer offer{
      .key = key, .extensions = factories, .subprotocols = options.subprotocols};
  opening_handshake result = check_handshake_response(std::move(response), offer);
  result.path = uri.resource_name;
  result.request_headers = std::move(request.headers);
  result.leftover = std::move(buffer);  // the server's first frames, if any
  result.host = uri.host;
  result.port = uri.port;
  result.secure = uri.secure;
  co_return result;
}

}  // namespace detail

// Runs the client side of the opening handshake for `uri` on `stream`, on
// which any TLS handshake is done, and returns the open connection. Throws
// what client_handshake.hpp's header lists, after closing the stream.
// There is no timeout here: connect() bounds the handshake with
// open_timeout; otherwise cancel the coroutine or close the stream.
template <class Stream>
asio::awaitable<basic_websocket<Stream>> handshake(Stream stream, websocket_uri uri,
                                                   client_options options) {
  opening_handshake result;
  std::exception_ptr failure;
  try {
    result = co_await detail::client_handshake(stream, uri, options);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    detail::close_stream(stream);
    std::rethrow_exception(failure);
  }
  co_return basic_websocket<Stream>(std::move(stream), role::client, connection_options_of(options),
                                    std::move(result));
}

// The same for a URI given as text; throws invalid_uri at once when it
// isn't a ws:// or wss:// URI.
template <class Stream>
asio::awaitable<basic_websocket<Stream>> handshake(Stream stream, std::string_view uri,
                                                   client_options options) {
  return handshake(std::move(stream), parse_uri(uri), std::move(options));
}
template <class Stream>
asio::awaitable<basic_websocket<Stream>> handshake(Stream stream, std::string_view uri) {
  return handshake(std::move(stream), parse_uri(uri), client_options{});
}

}  // namespace websockets
