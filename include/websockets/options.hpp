// The options of serve() and connect(): the reference's keyword arguments as
// flat aggregates, so that designated initializers work:
//
//   websockets::server_options options{.ping_interval = std::nullopt,
//                                      .subprotocols = {"chat"}};
//   auto srv = co_await websockets::serve(handler, "", 8765, options);
//
// Each struct starts with the fields of connection_options (same names,
// same defaults) and goes on with what only one side needs.
//
// With g++ 12, build options (and handler lambdas that capture by value) in
// a variable before the co_await: g++ 12 destroys a braced temporary or a
// capturing lambda written inside a co_await expression twice. On g++ < 13
// the entry points make the other forms a compile error
// (detail/coawait_guard.hpp); on every compiler, this form works.
//
//   websockets::client_options options{.subprotocols = {"chat"}};
//   auto ws = co_await websockets::connect(uri, options);
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "websockets/config.hpp"
#include "websockets/connection_options.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <asio/ssl/context.hpp>
#endif

namespace websockets {

// What a connection offers or accepts for compressing messages.
enum class compression {
  none,     // no compression extension, unless listed in `extensions`
  deflate,  // permessage-deflate (RFC 7692) with the library's defaults
};

// How much a log line matters. The default logger prints warnings and errors.
enum class log_level { debug, info, warning, error };

// Receives the server's log lines: one event per call, without a newline.
using logger_function = std::function<void(log_level, std::string_view)>;

// Writes warnings and errors to stderr, one line each; drops the rest.
inline void default_logger(log_level level, std::string_view line) {
  if (level < log_level::warning) return;
  std::string out = level == log_level::error ? "websockets error: " : "websockets warning: ";
  out.append(line);
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stderr);  // one call: lines don't interleave
}

// The product token sent in User-Agent and Server headers.
inline constexpr std::string_view default_user_agent = "websockets-cpp/0.1.0";

// Extra headers for a server's handshake responses: a fixed set, or a
// function of each request's path and headers.
//
//   .extra_headers = {{"X-Served-By", "node-3"}}
//   .extra_headers = [](std::string_view path, const websockets::headers& request) { ... }
class header_source {
 public:
  using function_type = std::function<headers(std::string_view path, const headers& request)>;

  header_source() = default;

  // The same headers for every response.
  header_source(headers fixed) : fixed_(std::move(fixed)) {}
  header_source(std::initializer_list<std::pair<std::string_view, std::string_view>> fields)
      : fixed_(fields) {}

  // Headers computed per request by `f(path, request_headers)`.
  template <class F>
  requires(!std::is_convertible_v<F, headers>) &&
      std::is_invocable_r_v<headers, F&, std::string_view, const headers&> header_source(F f)
      : compute_(std::move(f)) {}

  // Appends the headers for a request on `path` to `out`.
  void append_to(headers& out, std::string_view path, const headers& request) const {
    for (const auto& [name, value] : fixed_) out.add(name, value);
    if (compute_) {
      for (const auto& [name, value] : compute_(path, request)) out.add(name, value);
    }
  }

  bool empty() const noexcept { return fixed_.empty() && !compute_; }

 private:
  headers fixed_;
  function_type compute_;
};

// The options of serve() and unix_serve(): the reference's serve() arguments.
struct server_options {
  // ---- The connection (see connection_options) --------------------------
  std::optional<duration> ping_interval = connection_defaults::ping_interval;
  std::optional<duration> ping_timeout = connection_defaults::ping_timeout;
  std::optional<duration> close_timeout = connection_defaults::close_timeout;
  std::optional<std::size_t> max_size = connection_defaults::max_size;
  std::size_t max_queue = connection_defaults::max_queue;
  std::size_t read_limit = connection_defaults::read_limit;
  std::size_t write_limit = connection_defaults::write_limit;

  // ---- The opening handshake --------------------------------------------

  // deflate accepts permessage-deflate offers with the library's defaults,
  // unless `extensions` already holds a permessage-deflate factory.
  websockets::compression compression = websockets::compression::deflate;

  // The accepted values of the request's Origin header. std::nullopt
  // accepts any request; otherwise a request whose Origin isn't listed gets
  // 403, and a std::nullopt element accepts requests without Origin:
  //   .origins = {{"https://example.com", std::nullopt}}
  std::optional<std::vector<std::optional<std::string>>> origins = std::nullopt;

  // Extension factories, by decreasing preference: each offer of the client
  // goes, in order, to the factories of the same name; the first that
  // accepts it wins, and an offer none accepts is declined.
  std::vector<std::shared_ptr<server_extension_factory>> extensions = {};

  // Subprotocols this server speaks, by decreasing preference.
  std::vector<std::string> subprotocols = {};

  // Headers added to every 101 response.
  header_source extra_headers = {};

  // Looks at each request before the handshake: std::nullopt goes on with
  // the handshake, a response is sent instead (a health check, a 401, a web
  // page) and the connection is closed. May throw abort_handshake too.
  std::function<asio::awaitable<std::optional<http_response>>(std::string_view path,
                                                              const headers& request_headers)>
      process_request = {};

  // Picks the subprotocol from the client's offer and `subprotocols`, when
  // both are non-empty; std::nullopt: none. It must return one the client
  // offered. Unset: among the subprotocols both sides list, the one whose
  // positions in the two lists add up to the least (client's order breaks
  // ties).
  std::function<std::optional<std::string>(std::span<const std::string> client,
                                           std::span<const std::string> server)>
      select_subprotocol = {};

  // How long the TLS and WebSocket handshakes may take together; a
  // connection that hasn't completed them by then is dropped.
  // std::nullopt: no limit.
  std::optional<duration> open_timeout = std::chrono::seconds(10);

  // Limits on the request's head; a request over them gets 400.
  http_limits request_limits = {};

  // The Server header of every response; empty: none.
  std::string server_header = std::string(default_user_agent);

  // Where the server reports failed handshakes (info), exceptions thrown by
  // handlers (error) and accept() failures (warning).
  logger_function logger = default_logger;

#ifdef WEBSOCKETS_WITH_OPENSSL
  // Serves wss:// when set: every connection starts with a TLS handshake
  // presenting this context's certificate.
  std::shared_ptr<asio::ssl::context> ssl_context = nullptr;
#endif
};

// The options of connect() and unix_connect(): the reference's connect()
// arguments.
struct client_options {
  // ---- The connection (see connection_options) --------------------------
  std::optional<duration> ping_interval = connection_defaults::ping_interval;
  std::optional<duration> ping_timeout = connection_defaults::ping_timeout;
  std::optional<duration> close_timeout = connection_defaults::close_timeout;
  std::optional<std::size_t> max_size = connection_defaults::max_size;
  std::size_t max_queue = connection_defaults::max_queue;
  std::size_t read_limit = connection_defaults::read_limit;
  std::size_t write_limit = connection_defaults::write_limit;

  // ---- The opening handshake --------------------------------------------

  // deflate offers permessage-deflate with the library's defaults, unless
  // `extensions` already holds a permessage-deflate factory.
  websockets::compression compression = websockets::compression::deflate;

  // The Origin header to send, if any.
  std::optional<std::string> origin = std::nullopt;

  // Extension factories whose offers the request carries, by decreasing
  // preference.
  std::vector<std::shared_ptr<client_extension_factory>> extensions = {};

  // Subprotocols to offer, by decreasing preference.
  std::vector<std::string> subprotocols = {};

  // Headers added to the request.
  headers extra_headers = {};

  // The User-Agent header, unless extra_headers has one; empty: none.
  std::string user_agent = std::string(default_user_agent);

  // How long connecting, TLS and the WebSocket handshake may take together;
  // std::nullopt: no limit.
  std::optional<duration> open_timeout = std::chrono::seconds(10);

  // Limits on the response's head, and on the body of a refusal.
  http_limits response_limits = {};

#ifdef WEBSOCKETS_WITH_OPENSSL
  // The TLS settings for wss:// URIs. Unset: the system's trusted CAs, with
  // the certificate and the host name verified. Whichever context is used,
  // the URI's host goes in SNI and is checked against the certificate.
  std::shared_ptr<asio::ssl::context> ssl_context = nullptr;
#endif
};

namespace detail {

// The connection's fields are written in three structs (flat, for
// designated initializers), so the compiler checks that they agree: the
// defaults are the same constants (connection_defaults), and here the
// names and types. A field added to connection_options fails the count
// below until server_options, client_options and connection_part() have
// it too.
template <class Options>
constexpr bool has_connection_fields = std::is_same_v<decltype(Options::ping_interval),
                                                      decltype(connection_options::ping_interval)>&&
    std::is_same_v<decltype(Options::ping_timeout), decltype(connection_options::ping_timeout)>&&
        std::is_same_v<decltype(Options::close_timeout),
                       decltype(connection_options::close_timeout)>&&
            std::is_same_v<decltype(Options::max_size), decltype(connection_options::max_size)>&&
                std::is_same_v<decltype(Options::max_queue),
                               decltype(connection_options::max_queue)>&&
                    std::is_same_v<decltype(Options::read_limit),
                                   decltype(connection_options::read_limit)>&&
                        std::is_same_v<decltype(Options::write_limit),
                                       decltype(connection_options::write_limit)>;
static_assert(has_connection_fields<server_options>);
static_assert(has_connection_fields<client_options>);
static_assert(
    [] {
      [[maybe_unused]] auto [ping_interval, ping_timeout, close_timeout, max_size, max_queue,
                             read_limit, write_limit] = connection_options{};
      (void)ping_interval;  // clang 16 ignores [[maybe_unused]] on a structured binding
      return true;
    }(),
    "connection_options has seven fields; a new one goes into server_options, client_options "
    "and connection_part() too");

template <class Options>
connection_options connection_part(const Options& o) {
  return connection_options{
      .ping_interval = o.ping_interval,
      .ping_timeout = o.ping_timeout,
      .close_timeout = o.close_timeout,
      .max_size = o.max_size,
      .max_queue = o.max_queue,
      .read_limit = o.read_limit,
      .write_limit = o.write_limit,
  };
}

}  // namespace detail

// The settings the open connection uses, out of a server's or a client's
// options.
inline connection_options connection_options_of(const server_options& o) {
  return detail::connection_part(o);
}
inline connection_options connection_options_of(const client_options& o) {
  return detail::connection_part(o);
}

}  // namespace websockets
