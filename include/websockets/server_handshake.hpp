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
// A peer that closes before sending anything gets no answer
// (cancel_handshake), nor one whose connection fails (std::system_error).
#pragma once

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdint>
#include <cstdio>
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

#include "websockets/detail/stream_traits.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/http_io.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/options.hpp"
#include "websockets/uri.hpp"
#include "websockets/websocket.hpp"

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <asio/ssl/stream.hpp>
#endif

namespace websockets {

// The subprotocol the reference picks by default: among those both sides
// list, the one whose positions in the two lists add up to the least; on a
// tie, the client's preference wins. std::nullopt when they share none.
inline std::optional<std::string> select_subprotocol_by_rank(std::span<const std::string> client,
                                                             std::span<const std::string> server) {
  std::optional<std::string> best;
  std::size_t best_rank = 0;
  for (std::size_t i = 0; i < client.size(); ++i) {
    auto it = std::find(server.begin(), server.end(), client[i]);
    if (it == server.end()) continue;
    const std::size_t rank = i + static_cast<std::size_t>(it - server.begin());
    if (!best || rank < best_rank) {
      best = client[i];
      best_rank = rank;
    }
  }
  return best;
}

namespace detail {

// An HTTP date (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::string http_date(std::time_t t = std::time(nullptr)) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[96];
  const int n = std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                              days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(out, n > 0 ? static_cast<std::size_t>(n) : 0);
}

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

// Splits a Host header ("example.com:8080", "[::1]") into host and port;
// the port is the scheme's default when the header has none.
inline std::pair<std::string, std::uint16_t> split_host_header(std::string_view value,
                                                               bool secure) {
  std::string_view host = value;
  std::string_view port;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close != std::string_view::npos) {
      host = value.substr(1, close - 1);
      if (value.substr(close + 1).starts_with(':')) port = value.substr(close + 2);
    }
  } else if (const auto colon = value.rfind(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  std::uint32_t number = 0;
  bool valid = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') valid = false;
    number = number * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (!valid || number > 65535) number = default_port(secure);
  return {std::string(host), static_cast<std::uint16_t>(number)};
}

// A plain-text refusal: `status`, and the reason as the body.
inline http_response refusal(int status, std::string_view reason, std::string_view hint = {}) {
  http_response r;
  r.status_code = status;
  r.body = "WebSocket handshake refused: ";
  r.body += reason;
  r.body += '\n';
  r.body += hint;
  return r;
}

// The response for a handshake that failed with `failure`, or std::nullopt
// when the peer should get none.
inline std::optional<http_response> refusal_for(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const abort_handshake& e) {
    http_response r;
    r.status_code = e.status();
    r.headers = headers(e.headers());
    r.body = e.body();
    return r;
  } catch (const invalid_origin& e) {
    return refusal(403, e.what());
  } catch (const invalid_upgrade& e) {
    auto r = refusal(426, e.what(),
                     "This address serves WebSocket connections: use a WebSocket client.\n");
    r.headers.add("Upgrade", "websocket");
    return r;
  } catch (const invalid_header_value& e) {
    if (!iequals(e.name(), "Sec-WebSocket-Version")) return refusal(400, e.what());
    auto r = refusal(426, e.what(), "This server speaks WebSocket version 13.\n");
    r.headers.add("Sec-WebSocket-Version", "13");
    return r;
  } catch (const invalid_handshake& e) {
    return refusal(400, e.what());
  } catch (const cancel_handshake&) {
    return std::nullopt;
  } catch (const std::system_error&) {
    return std::nullopt;  // the connection failed: nobody to answer
  } catch (...) {
    http_response r;
    r.status_code = 500;
    r.body = "Internal server error.\n";
    return r;
  }
}

// Adds what every refusal carries, unless the response has it already.
inline void complete_refusal(http_response& r, const server_options& options) {
  if (!r.headers.contains("Date")) r.headers.add("Date", http_date());
  if (!options.server_header.empty() && !r.headers.contains("Server"))
    r.headers.add("Server", options.server_header);
  const bool bodiless = r.status_code < 200 || r.status_code == 204 || r.status_code == 304;
  if (!bodiless && !r.headers.contains("Content-Length"))
    r.headers.add("Content-Length", std::to_string(r.body.size()));
  if (!r.body.empty() && !r.headers.contains("Content-Type"))
    r.headers.add("Content-Type", "text/plain; charset=utf-8");
  if (!r.headers.contains("Connection")) r.headers.add("Connection", "close");
}

// The bytes of a refusal; a response that can't be serialized (a header
// with a line break from process_request, say) becomes a 500, and
// `failure` says why.
inline std::string serialize_refusal(http_response& r, const server_options& options,
                                     std::exception_ptr& failure) {
  complete_refusal(r, options);
  try {
    return serialize(r);
  } catch (const std::invalid_argument&) {
    failure = std::current_exception();
  }
  http_response internal;
  internal.status_code = 500;
  internal.body = "Internal server error.\n";
  complete_refusal(internal, options);
  return serialize(internal);
}

// Answers the client's extension offers, in order, with the factories of
// `options`; the negotiated extensions go to `accepted`. Returns the
// response's Sec-WebSocket-Extensions, if any offer was accepted.
inline std::optional<std::string> negotiate_server_extensions(
    const headers& request, const server_options& options,
    std::vector<std::unique_ptr<extension>>& accepted) {
  auto values = request.get_all("Sec-WebSocket-Extensions");
  if (values.empty()) return std::nullopt;
  const bool add_deflate =
      options.compression == compression::deflate &&
      std::none_of(options.extensions.begin(), options.extensions.end(),
                   [](const auto& f) { return f && f->name() == detail::permessage_deflate_name; });
  std::vector<extension_header> answers;
  auto try_factory = [&](const server_extension_factory& factory, const extension_header& offer) {
    if (factory.name() != offer.name) return false;
    try {
      auto [params, ext] = factory.process_request_params(offer.params, accepted);
      answers.push_back({offer.name, std::move(params)});
      accepted.push_back(std::move(ext));
      return true;
    } catch (const negotiation_error&) {
      return false;  // decline this offer; the next one may do
    }
  };
  for (auto value : values) {
    for (const auto& offer : parse_extension_list(value)) {
      bool done = false;
      for (const auto& factory : options.extensions) {
        if (factory && try_factory(*factory, offer)) {
          done = true;
          break;
        }
      }
      if (!done && add_deflate) try_factory(*default_server_deflate(), offer);
    }
  }
  if (answers.empty()) return std::nullopt;
  return build_extension_list(answers);
}

// Picks the subprotocol for the request, if both sides have some.
inline std::optional<std::string> negotiate_server_subprotocol(const headers& request,
                                                               const server_options& options) {
  if (options.subprotocols.empty()) return std::nullopt;
  std::vector<std::string> offered;
  for (auto value : request.get_all("Sec-WebSocket-Protocol")) {
    auto list = parse_subprotocol_list(value);
    offered.insert(offered.end(), std::make_move_iterator(list.begin()),
                   std::make_move_iterator(list.end()));
  }
  if (offered.empty()) return std::nullopt;
  auto chosen = options.select_subprotocol
                    ? options.select_subprotocol(offered, options.subprotocols)
                    : select_subprotocol_by_rank(offered, options.subprotocols);
  if (chosen && std::find(offered.begin(), offered.end(), *chosen) == offered.end())
    throw std::logic_error("select_subprotocol returned " + detail::printable(*chosen) +
                           ", which the client didn't offer");
  return chosen;
}

// Checks Origin against `options.origins`.
inline void check_origin(const headers& request, const server_options& options) {
  if (!options.origins) return;
  auto values = request.get_all("Origin");
  if (values.size() > 1) throw invalid_header("Origin", "more than one Origin header found");
  std::optional<std::string> origin;
  if (!values.empty()) origin = std::string(values.front());
  if (std::find(options.origins->begin(), options.origins->end(), origin) == options.origins->end())
    throw invalid_origin(origin);
}

// The server side of the opening handshake on `stream`, which stays the
// caller's: on success, what the connection needs; on failure, the refusal
// is sent, the stream is half-closed (shutdown_send) and the exception
// rethrown.
template <class Stream>
asio::awaitable<opening_handshake> server_handshake(Stream& stream, const server_options& options) {
  std::string buffer;
  std::optional<http_response> answer;  // a refusal decided on the spot
  std::exception_ptr failure;
  opening_handshake result;
  try {
    http_request request;
    {
      auto dynamic = asio::dynamic_buffer(buffer);
      std::exception_ptr read_failure;
      try {
        request = co_await read_request(stream, dynamic, options.request_limits);
      } catch (const invalid_message&) {
        read_failure = std::current_exception();
      }
      if (read_failure) {
        if (buffer.empty()) throw cancel_handshake();  // closed before saying anything
        std::rethrow_exception(read_failure);
      }
    }

    if (request.method != "GET") {
      answer = refusal(405, "the method of a WebSocket handshake is GET");
      answer->headers.add("Allow", "GET");
      throw invalid_message("unsupported HTTP method " + detail::printable(request.method) +
                            "; a WebSocket handshake is a GET");
    }
    if (request.http_major == 1 && request.http_minor < 1)
      throw invalid_message("HTTP/1." + std::to_string(request.http_minor) +
                            " request; a WebSocket handshake needs HTTP/1.1");

    if (options.process_request) {
      auto early = co_await options.process_request(request.path, request.headers);
      if (early) {
        if (early->status_code == 101)
          throw std::invalid_argument("process_request returned a 101 response");
        std::vector<headers::value_type> fields(early->headers.begin(), early->headers.end());
        const int status = early->status_code;
        std::string body = early->body;
        answer = std::move(*early);
        throw abort_handshake(status, std::move(fields), std::move(body));
      }
    }

    const std::string_view host = detail::single_header(request.headers, "Host");
    if (request.headers.contains("Transfer-Encoding") ||
        request.headers.get("Content-Length").value_or("0") != "0")
      throw invalid_message("a WebSocket handshake request can't have a body");
    const std::string key = check_request(request.headers);
    check_origin(request.headers, options);

    headers response_headers;
    build_response(response_headers, key);
    if (auto extensions = negotiate_server_extensions(request.headers, options, result.extensions))
      response_headers.add("Sec-WebSocket-Extensions", std::move(*extensions));
    result.subprotocol = negotiate_server_subprotocol(request.headers, options);
    if (result.subprotocol) response_headers.add("Sec-WebSocket-Protocol", *result.subprotocol);
    options.extra_headers.append_to(response_headers, request.path, request.headers);
    if (!response_headers.contains("Date")) response_headers.add("Date", http_date());
    if (!options.server_header.empty() && !response_headers.contains("Server"))
      response_headers.add("Server", options.server_header);

    result.secure = stream_is_tls(stream);
    auto [host_name, port] = split_host_header(host, result.secure);
    result.host = std::move(host_name);
    result.port = port;

    http_response switching;
    switching.headers = std::move(response_headers);
    const std::string bytes = serialize(switching);  // throws before writing anything
    co_await asio::async_write(stream, asio::buffer(bytes), asio::use_awaitable);

    result.path = std::move(request.path);
    result.request_headers = std::move(request.headers);
    result.response_headers = std::move(switching.headers);
    result.leftover = std::move(buffer);  // the client's first frames, if any
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) co_return result;

  if (!answer) answer = refusal_for(failure);
  if (answer) {
    const std::string bytes = serialize_refusal(*answer, options, failure);
    std::error_code ec;
    co_await asio::async_write(stream, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    shutdown_send(stream);
  }
  std::rethrow_exception(failure);
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
