// The machinery of connect() and unix_connect(): resolving and connecting
// (each address in turn), TLS with the host name checked, the opening
// handshake, all within open_timeout, on a strand unless one thread runs
// everything.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "websockets/any_stream.hpp"
#include "websockets/client_handshake.hpp"
#include "websockets/impl/endpoint.hpp"
#include "websockets/impl/executor.hpp"
#include "websockets/impl/open_deadline.hpp"
#include "websockets/options.hpp"
#include "websockets/uri.hpp"
#include "websockets/websocket.hpp"

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#endif

namespace websockets {

// Also declared, with its documentation, in client.hpp.
using client_connection = basic_websocket<any_stream>;

#ifdef WEBSOCKETS_WITH_OPENSSL
// Documented in client.hpp.
inline std::shared_ptr<asio::ssl::context> default_ssl_context() {
  static const std::shared_ptr<asio::ssl::context> context = [] {
    auto c = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    c->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
    c->set_default_verify_paths();
    c->set_verify_mode(asio::ssl::verify_peer);
    return c;
  }();
  return context;
}
#endif

namespace detail {

// One connection being opened, shared with the open_timeout timer.
struct client_attempt {
  client_attempt(const asio::any_io_executor& io, const asio::any_io_executor& serial,
                 any_stream st)
      : deadline(serial), resolver(io), stream(std::move(st)) {}

  open_deadline deadline;
  asio::ip::tcp::resolver resolver;
  any_stream stream;
};

// Resolves the URI's host (unless it is an IP address) and connects to the
// first address that answers.
inline asio::awaitable<void> connect_tcp(client_attempt& a, const websocket_uri& uri,
                                         const std::string& where) {
  std::error_code ec;
  std::vector<asio::ip::tcp::endpoint> endpoints;
  const auto literal = asio::ip::make_address(uri.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, uri.port);  // no trip through the resolver's thread
  } else {
    const std::string service = std::to_string(uri.port);
    auto results = co_await a.resolver.async_resolve(uri.host, service,
                                                     asio::ip::resolver_base::numeric_service,
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) throw std::system_error(ec, "can't resolve " + where);
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  auto& socket = *a.stream.tcp();
  std::error_code last = asio::error::host_not_found;
  for (const auto& endpoint : endpoints) {
    if (a.deadline.timed_out()) break;
    socket.close(ec);
    co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    last = ec;
    if (!ec) break;
  }
  if (last) throw std::system_error(last, "can't connect to " + where);
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
}

#ifdef WEBSOCKETS_WITH_OPENSSL
// The TLS handshake, with SNI and the host name checked by OpenSSL against
// the certificate (as an IP address for an IP literal).
inline asio::awaitable<void> start_tls(any_stream::tls_stream& tls, const websocket_uri& uri,
                                       const std::string& where) {
  SSL* ssl = tls.native_handle();
  const std::string host = uri.host.substr(0, uri.host.find('%'));  // no IPv6 zone
  std::error_code ec;
  asio::ip::make_address(host, ec);
  const bool ip_literal = !ec;
  if (ip_literal) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
  co_await tls.async_handshake(asio::ssl::stream_base::client,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_return;
  std::string what = "TLS handshake with " + where + " failed";
  if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
    what += " (certificate: ";
    what += X509_verify_cert_error_string(verify);
    what += ')';
  }
  throw std::system_error(ec, what);
}
#endif

// Opens the connection on the executor of `a`'s timer (a strand, unless one
// thread runs everything), so that the timer that enforces open_timeout and
// the steps it interrupts never run at once.
inline asio::awaitable<std::optional<client_connection>> open_client(
    std::shared_ptr<client_attempt> a, websocket_uri uri, std::string unix_path,
    client_options options) {
  const std::string where =
      unix_path.empty() ? host_and_port(uri.host, uri.port) : "unix socket " + unix_path;
  a->deadline.arm(a, options.open_timeout, [a = a.get()] {
    a->resolver.cancel();
    a->stream.close();
  });
  std::optional<client_connection> result;
  std::exception_ptr failure;
  try {
    if (unix_path.empty()) {
      co_await connect_tcp(*a, uri, where);
    } else {
      std::error_code ec;
      const asio::local::stream_protocol::endpoint endpoint(unix_path);
      co_await a->stream.local()->async_connect(endpoint,
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) throw std::system_error(ec, "can't connect to " + where);
    }
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (auto* tls = a->stream.tls()) co_await start_tls(*tls, uri, where);
#endif
    auto handshake = co_await client_handshake(a->stream, uri, options);
    a->deadline.finish();
    result.emplace(std::move(a->stream), role::client, connection_options_of(options),
                   std::move(handshake));
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) co_return result;
  a->deadline.finish();
  a->stream.close();
  if (a->deadline.timed_out())
    throw std::system_error(make_error_code(asio::error::timed_out),
                            "opening handshake with " + where + " timed out");
  std::rethrow_exception(failure);
}

inline asio::awaitable<client_connection> connect_to(std::string uri_text, std::string unix_path,
                                                     client_options options) {
  websocket_uri uri = parse_uri(uri_text);
  const auto io = co_await asio::this_coro::executor;
  const asio::any_io_executor strand = serial_executor(io);
  const bool serial = strand == io;
  std::shared_ptr<client_attempt> attempt;
  if (!unix_path.empty()) {
    if (uri.secure)
      throw std::invalid_argument("unix_connect: TLS over a Unix socket isn't supported");
    attempt = std::make_shared<client_attempt>(
        io, strand, any_stream(asio::local::stream_protocol::socket(io)));
  } else if (uri.secure) {
#ifdef WEBSOCKETS_WITH_OPENSSL
    auto context = options.ssl_context ? options.ssl_context : default_ssl_context();
    attempt = std::make_shared<client_attempt>(
        io, strand, any_stream(any_stream::tls_stream(asio::ip::tcp::socket(io), *context)));
#else
    throw std::invalid_argument("connect: " + uri_text +
                                " needs TLS, and this build has no OpenSSL support");
#endif
  } else {
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (options.ssl_context)
      throw std::invalid_argument("connect: ssl_context is set for " + to_string(uri) +
                                  "; use a wss:// URI for TLS");
#endif
    attempt = std::make_shared<client_attempt>(io, strand, any_stream(asio::ip::tcp::socket(io)));
  }
  // Built apart from the co_await: g++ 12 mishandles class temporaries
  // inside a co_await expression.
  auto opening =
      open_client(std::move(attempt), std::move(uri), std::move(unix_path), std::move(options));
  if (serial) {
    auto result = co_await std::move(opening);
    co_return std::move(*result);
  }
  auto on_strand = asio::co_spawn(strand, std::move(opening), asio::use_awaitable);
  auto result = co_await std::move(on_strand);
  co_return std::move(*result);
}

}  // namespace detail

}  // namespace websockets
