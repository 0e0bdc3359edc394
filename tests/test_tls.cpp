// wss://: serve() with a TLS context and connect() with certificate and
// host-name verification, against a throwaway CA made by the test; the
// TLS close_notify on close; TLS handshakes that fail or stall.
//
// With g++ 12, options and capturing lambdas are built in variables before
// each co_await (see options.hpp), and no co_await goes inside a Catch
// macro (they repeat their argument, which g++ 12's coroutines mishandle).
#include <catch2/catch.hpp>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>
#include <string>

#include "support/raw_peer.hpp"
#include "support/self_signed_tls.hpp"
#include "support/ws_pairs.hpp"
#include "websockets/websockets.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;

namespace {

// One certificate per name for the whole program: making keys is slow.
const self_signed_tls& localhost_cert() {
  static const self_signed_tls cert("localhost");
  return cert;
}
const self_signed_tls& other_host_cert() {
  static const self_signed_tls cert("example.test");
  return cert;
}

server_options tls_server(log_capture& log, const self_signed_tls& cert = localhost_cert()) {
  server_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  o.logger = log.logger();
  o.ssl_context = cert.server_context();
  return o;
}

client_options tls_client(const self_signed_tls& trusted = localhost_cert()) {
  client_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  o.ssl_context = trusted.client_context();
  return o;
}

std::string wss_uri(std::string_view host, const server& srv, std::string_view path = "/") {
  return "wss://" + std::string(host) + ":" + std::to_string(srv.endpoints().at(0).port()) +
         std::string(path);
}

asio::awaitable<void> echo(server_connection& ws) {
  while (auto m = co_await ws.next()) co_await ws.send(*m);
}

// Connects expecting a std::system_error; returns its message.
asio::awaitable<std::optional<std::string>> tls_failure(std::string uri, client_options options) {
  std::optional<std::string> what;
  try {
    auto ws = co_await connect(uri, options);
  } catch (const std::system_error& e) {
    what = e.what();
  }
  co_return what;
}

}  // namespace

TEST_CASE("wss:// end to end, verified against the test's CA", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log);
    bool server_secure = false;
    auto handler = [&server_secure](server_connection& ws) -> asio::awaitable<void> {
      server_secure = ws.secure() && ws.next_layer().is_tls();
      co_await echo(ws);
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto copts = tls_client();
    const std::string uri = wss_uri("localhost", srv, "/secure");
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.secure());
    REQUIRE(ws.next_layer().is_tls());
    REQUIRE_FALSE(ws.next_layer().can_wait_read());
    REQUIRE(ws.port() == srv.endpoints().at(0).port());
    REQUIRE(ws.remote_endpoint() == srv.endpoints().at(0));
    REQUIRE(ws.extensions().size() == 1);
    const std::string big(300000, 'q');
    co_await ws.send(big);
    auto m = co_await ws.recv();
    REQUIRE(m.text() == big);
    co_await ws.send("small");
    auto m2 = co_await ws.recv();
    REQUIRE(m2.text() == "small");
    REQUIRE(server_secure);
    co_await ws.close();
    REQUIRE(ws.close_code() == 1000);
    srv.close();
    co_await srv.wait_closed();
    REQUIRE(log.count(log_level::error) == 0);
  });
}

TEST_CASE("an IP literal is checked against the certificate's IP addresses", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto copts = tls_client();
    const std::string uri = wss_uri("127.0.0.1", srv);
    auto ws = co_await connect(uri, copts);
    co_await ws.send("by address");
    auto m = co_await ws.recv();
    REQUIRE(m.text() == "by address");
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("a certificate for another host name is refused", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log, other_host_cert());
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto copts = tls_client(other_host_cert());  // trusted, but for example.test
    const std::string uri = wss_uri("localhost", srv);
    auto what = co_await tls_failure(uri, copts);
    REQUIRE(what);
    REQUIRE(what->find("hostname mismatch") != std::string::npos);
    REQUIRE(what->find("localhost:" + std::to_string(srv.endpoints().at(0).port())) !=
            std::string::npos);

    // The server shrugs it off and goes on serving.
    auto mine = tls_client(other_host_cert());
    mine.ssl_context->set_verify_mode(asio::ssl::verify_none);  // the caller's choice
    auto ws = co_await connect(uri, mine);
    co_await ws.send("unverified");
    auto m = co_await ws.recv();
    REQUIRE(m.text() == "unverified");
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
    REQUIRE(log.find(log_level::info, {"127.0.0.1:"}));
  });
}

TEST_CASE("without a context, connect() verifies against the system's CAs", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    client_options copts;  // default ssl_context: our throwaway CA isn't trusted
    copts.ping_interval = std::nullopt;
    const std::string uri = wss_uri("localhost", srv);
    auto what = co_await tls_failure(uri, copts);
    REQUIRE(what);
    REQUIRE(what->find("certificate") != std::string::npos);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("ws:// to a wss:// server and wss:// to a ws:// server both fail cleanly", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    client_options plain;
    plain.ping_interval = std::nullopt;
    const std::string ws_uri = "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port());
    bool failed = false;
    try {
      auto ws = co_await connect(ws_uri, plain);
    } catch (const websocket_exception&) {
      failed = true;
    } catch (const std::system_error&) {
      failed = true;
    }
    REQUIRE(failed);

    server_options plain_server;
    plain_server.ping_interval = std::nullopt;
    plain_server.logger = log.logger();
    auto srv2 = co_await serve(echo, "127.0.0.1", 0, plain_server);
    const auto copts = tls_client();
    const std::string uri2 = wss_uri("localhost", srv2);
    auto what = co_await tls_failure(uri2, copts);
    REQUIRE(what);
    REQUIRE(what->find("TLS handshake") != std::string::npos);

    // Both servers still serve.
    const std::string uri = wss_uri("localhost", srv);
    auto ws = co_await connect(uri, copts);
    co_await ws.close();
    const std::string plain_uri = "ws://127.0.0.1:" + std::to_string(srv2.endpoints().at(0).port());
    auto ws2 = co_await connect(plain_uri, plain);
    co_await ws2.close();
    srv.close();
    srv2.close();
    co_await srv.wait_closed();
    co_await srv2.wait_closed();
  });
}

TEST_CASE("open_timeout covers the TLS handshake", "[tls]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = tls_server(log);
    options.open_timeout = 200ms;
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    auto silent = co_await raw_exchange(srv.endpoints().at(0), "");  // no ClientHello
    REQUIRE(silent.empty());
    REQUIRE(log.find(log_level::info, {"timed out"}));
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("the server ends TLS with close_notify after the closing handshake", "[tls]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    log_capture log;
    const auto options = tls_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto client_ctx = localhost_cert().client_context();
    asio::ssl::stream<asio::ip::tcp::socket> tls(ex, *client_ctx);
    co_await tls.next_layer().async_connect(srv.endpoints().at(0), asio::use_awaitable);
    co_await tls.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    const std::string request = upgrade_request("/");
    co_await asio::async_write(tls, asio::buffer(request), asio::use_awaitable);
    std::string response;
    co_await asio::async_read_until(tls, asio::dynamic_buffer(response), "\r\n\r\n",
                                    asio::use_awaitable);
    REQUIRE(response.starts_with("HTTP/1.1 101 "));

    // A masked close frame with code 1000 (the mask is zero).
    const unsigned char close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8};
    co_await asio::async_write(tls, asio::buffer(close_frame), asio::use_awaitable);
    std::string rest = response.substr(response.find("\r\n\r\n") + 4);
    std::error_code ec;
    while (!ec) {
      char buffer[256];
      std::size_t n = co_await tls.async_read_some(asio::buffer(buffer),
                                                   asio::redirect_error(asio::use_awaitable, ec));
      rest.append(buffer, n);
    }
    REQUIRE(rest == std::string("\x88\x02\x03\xE8", 4));  // the server's close frame
    REQUIRE(ec == asio::error::eof);  // then close_notify: not ssl::error::stream_truncated
    tls.next_layer().close();         // the server waits for this after its FIN
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("any_stream reports the transport inside", "[tls]") {
  asio::io_context ctx;
  any_stream tcp(asio::ip::tcp::socket{ctx});
  REQUIRE(tcp.type() == any_stream::kind::tcp);
  REQUIRE(tcp.can_wait_read());
  REQUIRE(tcp.tcp() != nullptr);
  REQUIRE(tcp.local() == nullptr);
  REQUIRE(tcp.tls() == nullptr);

  any_stream local(asio::local::stream_protocol::socket{ctx});
  REQUIRE(local.type() == any_stream::kind::local);
  REQUIRE(local.can_wait_read());
  REQUIRE(local.tcp() == nullptr);
  std::error_code ec;
  REQUIRE(local.remote_endpoint(ec) == asio::ip::tcp::endpoint());
  REQUIRE(ec);

  auto context = localhost_cert().client_context();
  any_stream tls(any_stream::tls_stream(asio::ip::tcp::socket{ctx}, *context));
  REQUIRE(tls.type() == any_stream::kind::tls);
  REQUIRE(tls.is_tls());
  REQUIRE_FALSE(tls.can_wait_read());
  REQUIRE(tls.tcp() != nullptr);
  REQUIRE(tls.tls() != nullptr);
  tls.non_blocking(true, ec);
  REQUIRE(ec == asio::error::operation_not_supported);
  tls.close();
  REQUIRE_FALSE(tls.is_open());
}
