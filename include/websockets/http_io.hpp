// Reading and writing the HTTP messages of the opening handshake on an Asio
// stream, with the parsers of http.hpp.
//
// Reads go through a dynamic buffer that the caller owns, because a read
// may bring in bytes past the HTTP head: the peer's first WebSocket frames.
// They stay in the buffer for the connection to use.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "websockets/config.hpp"
#include "websockets/http.hpp"

namespace websockets {

namespace detail {

// How much to ask of the stream per read while parsing a head: enough for a
// typical handshake in one read, small enough not to matter per connection.
inline constexpr std::size_t http_read_size = 4096;

// Feeds the parser the bytes of `buffer` from `offset` on, through
// `feed(parser, bytes)`; returns the offset after the bytes it took.
template <class DynamicBuffer, class Feed>
std::size_t feed_buffer(DynamicBuffer& buffer, std::size_t offset, Feed feed) {
  auto data = buffer.data(offset, buffer.size() - offset);
  for (auto it = asio::buffer_sequence_begin(data); it != asio::buffer_sequence_end(data); ++it) {
    asio::const_buffer b = *it;
    std::size_t used = feed(std::string_view(static_cast<const char*>(b.data()), b.size()));
    offset += used;
    if (used < b.size()) break;
  }
  return offset;
}

// Reads once from the stream into the end of the buffer; false at EOF.
template <class AsyncReadStream, class DynamicBuffer>
asio::awaitable<bool> read_some_into(AsyncReadStream& stream, DynamicBuffer& buffer) {
  const std::size_t old_size = buffer.size();
  const std::size_t room = std::min(http_read_size, buffer.max_size() - old_size);
  if (room == 0) throw invalid_message("HTTP head doesn't fit in the read buffer");
  buffer.grow(room);
  asio::error_code ec;
  std::size_t n = co_await stream.async_read_some(buffer.data(old_size, room),
                                                  asio::redirect_error(asio::use_awaitable, ec));
  buffer.shrink(room - n);
  if (ec == asio::error::eof) co_return false;
  if (ec) throw asio::system_error(ec);
  co_return true;
}

// Reads until `parser` has a complete head, then removes the head from the
// buffer.
template <class Parser, class AsyncReadStream, class DynamicBuffer>
asio::awaitable<void> read_head(AsyncReadStream& stream, DynamicBuffer& buffer, Parser& parser) {
  static_assert(asio::is_dynamic_buffer_v2<DynamicBuffer>::value,
                "pass a dynamic buffer such as asio::dynamic_buffer(some_std_string)");
  std::size_t parsed = 0;
  for (;;) {
    parsed = feed_buffer(buffer, parsed, [&](std::string_view s) { return parser.feed(s); });
    if (parser.head_complete()) break;
    if (!co_await read_some_into(stream, buffer)) parser.finish();  // throws
  }
  buffer.consume(parsed);
}

}  // namespace detail

// Reads an HTTP request head from `stream`. Bytes already in `buffer` are
// parsed first; bytes read past the head are left in it. The request's body,
// if it has one, isn't read. Throws invalid_message when the request is
// malformed or over `limits`, or when the connection closes before the end
// of the head ("connection closed during the HTTP head"), and
// asio::system_error when reading fails.
//
// The method and the version aren't checked: a server answers a request
// that isn't an HTTP/1.1 GET as it sees fit.
template <class AsyncReadStream, class DynamicBuffer>
asio::awaitable<http_request> read_request(AsyncReadStream& stream, DynamicBuffer& buffer,
                                           http_limits limits = {}) {
  http_request_parser parser(limits);
  co_await detail::read_head(stream, buffer, parser);
  co_return std::move(parser.message());
}

// Reads an HTTP response from `stream`, as read_request() does: bytes past
// the head stay in `buffer`. A 101 response ends with its head. Any other
// response has its body read too, up to limits.max_body bytes, so that a
// client can report why the server refused; that body is removed from the
// buffer as well.
template <class AsyncReadStream, class DynamicBuffer>
asio::awaitable<http_response> read_response(AsyncReadStream& stream, DynamicBuffer& buffer,
                                             http_limits limits = {}) {
  http_response_parser parser(limits);
  co_await detail::read_head(stream, buffer, parser);
  if (parser.message().status_code != 101) {
    std::size_t parsed = 0;
    for (;;) {
      parsed = detail::feed_buffer(buffer, parsed,
                                   [&](std::string_view s) { return parser.feed_body(s); });
      if (parser.complete()) break;
      if (!co_await detail::read_some_into(stream, buffer)) {
        parser.finish();  // completes a body that lasts until EOF, or throws
        break;
      }
    }
    buffer.consume(parsed);
  }
  co_return std::move(parser.message());
}

namespace detail {

template <class AsyncWriteStream>
asio::awaitable<void> write_all(AsyncWriteStream& stream, std::string bytes) {
  co_await asio::async_write(stream, asio::buffer(bytes), asio::use_awaitable);
}

}  // namespace detail

// Writes a request head to `stream`. The request is serialized at the call,
// so it needn't outlive the returned awaitable; serialize() throws
// std::invalid_argument for a request it refuses, and nothing is written.
template <class AsyncWriteStream>
asio::awaitable<void> write_request(AsyncWriteStream& stream, const http_request& request) {
  return detail::write_all(stream, serialize(request));
}

// Writes a response, head and body, to `stream`; as write_request() does.
template <class AsyncWriteStream>
asio::awaitable<void> write_response(AsyncWriteStream& stream, const http_response& response) {
  return detail::write_all(stream, serialize(response));
}

}  // namespace websockets
