// serve(), unix_serve(), run() and accept(): real sockets on loopback, raw
// HTTP requests for the error paths, and the test stream for accept().
//
// With g++ 12, options and capturing lambdas are built in variables before
// each co_await (see options.hpp), and no co_await goes inside a Catch
// macro (they repeat their argument, which g++ 12's coroutines mishandle).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_peer.hpp"
#include "support/ws_pairs.hpp"
#include "websockets/websockets.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;

namespace {

server_options quiet_server(log_capture& log) {
  server_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  o.logger = log.logger();
  return o;
}

client_options quiet_client() {
  client_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  return o;
}

std::string uri_for(const asio::ip::tcp::endpoint& ep, std::string_view path = "/") {
  const auto a = ep.address();
  std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return "ws://" + host + ":" + std::to_string(ep.port()) + std::string(path);
}

asio::awaitable<void> echo(server_connection& ws) {
  while (auto m = co_await ws.next()) co_await ws.send(*m);
}

bool ipv6_loopback_available() {
  asio::io_context ctx;
  asio::ip::tcp::acceptor a(ctx);
  std::error_code ec;
  a.open(asio::ip::tcp::v6(), ec);
  if (!ec) a.bind({asio::ip::make_address("::1"), 0}, ec);
  return !ec;
}

std::string unique_socket_path(std::string_view tag) {
  static std::atomic<int> counter{0};
  return "/tmp/ws-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + ".sock";
}

// Connects, expecting a refusal; returns its status.
asio::awaitable<int> refused_status(std::string uri, client_options options) {
  int status = 0;
  try {
    auto ws = co_await connect(uri, options);
  } catch (const invalid_status_code& e) {
    status = e.status_code();
  }
  co_return status;
}

}  // namespace

TEST_CASE("serve() on 127.0.0.1 port 0 binds a free port and echoes", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto endpoints = srv.endpoints();
    REQUIRE(endpoints.size() == 1);
    REQUIRE(endpoints[0].address() == asio::ip::make_address("127.0.0.1"));
    REQUIRE(endpoints[0].port() != 0);

    const auto copts = quiet_client();
    const std::string uri = uri_for(endpoints[0], "/echo?x=1");
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.path() == "/echo?x=1");
    REQUIRE(ws.host() == "127.0.0.1");
    REQUIRE(ws.port() == endpoints[0].port());
    REQUIRE_FALSE(ws.secure());
    REQUIRE(ws.remote_endpoint() == endpoints[0]);
    co_await ws.send("hello");
    auto m = co_await ws.recv();
    REQUIRE(m.is_text());
    REQUIRE(m.text() == "hello");
    const std::vector<std::byte> bytes{std::byte{0}, std::byte{255}, std::byte{7}};
    co_await ws.send(std::span<const std::byte>(bytes));
    auto b = co_await ws.recv();
    REQUIRE(b.is_binary());
    REQUIRE(std::equal(b.bytes().begin(), b.bytes().end(), bytes.begin(), bytes.end()));
    co_await ws.close();
    REQUIRE(ws.close_code() == 1000);

    srv.close();
    srv.close();  // idempotent
    co_await srv.wait_closed();
    REQUIRE(srv.endpoints().empty());
  });
}

TEST_CASE("serve() on ::1 port 0", "[server]") {
  if (!ipv6_loopback_available()) {
    WARN("no IPv6 loopback here: skipped");
    return;
  }
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    auto srv = co_await serve(echo, "::1", 0, options);
    const auto endpoints = srv.endpoints();
    REQUIRE(endpoints.size() == 1);
    REQUIRE(endpoints[0].address() == asio::ip::make_address("::1"));
    REQUIRE(endpoints[0].port() != 0);
    const auto copts = quiet_client();
    const std::string uri = uri_for(endpoints[0]);
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.host() == "::1");
    REQUIRE(ws.request_headers()["Host"] == "[::1]:" + std::to_string(endpoints[0].port()));
    co_await ws.send("over IPv6");
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "over IPv6");
    }
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("serve() on a name binds each of its addresses on one port", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    auto srv = co_await serve(echo, "localhost", 0, options);
    const auto endpoints = srv.endpoints();
    REQUIRE_FALSE(endpoints.empty());
    for (const auto& ep : endpoints) {
      REQUIRE(ep.address().is_loopback());
      REQUIRE(ep.port() == endpoints[0].port());
    }
    const auto copts = quiet_client();
    const std::string uri = "ws://localhost:" + std::to_string(endpoints[0].port()) + "/";
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.request_headers()["Host"] == "localhost:" + std::to_string(endpoints[0].port()));
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("serve() reports a port it can't bind", "[server]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    asio::ip::tcp::acceptor taken(ex, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = taken.local_endpoint().port();
    log_capture log;
    const auto options = quiet_server(log);
    std::string what;
    try {
      auto srv = co_await serve(echo, "127.0.0.1", port, options);
    } catch (const std::system_error& e) {
      what = e.what();
      REQUIRE(e.code() == asio::error::address_in_use);
    }
    REQUIRE(what.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  });
}

TEST_CASE("the handler's return closes with 1000, a throw with 1011 and a log line", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    int handled = 0;
    auto handler = [&handled](server_connection& ws) -> asio::awaitable<void> {
      ++handled;
      auto m = co_await ws.recv();
      if (m.text() == "throw") throw std::runtime_error("boom from the handler");
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);
    const auto copts = quiet_client();

    const std::string ok_uri = uri_for(ep, "/ok");
    auto ws = co_await connect(ok_uri, copts);
    co_await ws.send("bye");
    std::optional<std::uint16_t> code;
    try {
      co_await ws.recv();
    } catch (const connection_closed_ok& e) {
      code = e.code();
    }
    REQUIRE(code == 1000);
    REQUIRE(ws.close_code() == 1000);

    const std::string fail_uri = uri_for(ep, "/fail?id=7");
    auto ws2 = co_await connect(fail_uri, copts);
    co_await ws2.send("throw");
    code.reset();
    try {
      co_await ws2.recv();
    } catch (const connection_closed_error& e) {
      code = e.code();
    }
    REQUIRE(code == 1011);
    REQUIRE(ws2.close_code() == 1011);
    auto line = log.find(log_level::error, {"boom from the handler", "/fail?id=7", "127.0.0.1:"});
    REQUIRE(line);
    REQUIRE(log.count(log_level::error) == 1);
    REQUIRE(handled == 2);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("the handler runs on the connection's strand", "[server]") {
  run_async(
      [](asio::any_io_executor) -> asio::awaitable<void> {
        log_capture log;
        const auto options = quiet_server(log);
        std::atomic<int> on_strand{0};
        // Two threads run the io_context, so the connection has a strand.
        auto in_strand = [](const server_connection& ws) {
          const asio::any_io_executor ex = ws.get_executor();
          auto* strand = ex.target<asio::strand<asio::any_io_executor>>();
          return strand && strand->running_in_this_thread();
        };
        auto handler = [&on_strand, in_strand](server_connection& ws) -> asio::awaitable<void> {
          if (in_strand(ws)) ++on_strand;
          co_await ws.recv();
          if (in_strand(ws)) ++on_strand;
          co_await ws.send("done");
        };
        auto srv = co_await serve(handler, "127.0.0.1", 0, options);
        const auto copts = quiet_client();
        const std::string uri = uri_for(srv.endpoints().at(0));
        auto ws = co_await connect(uri, copts);
        co_await ws.send("go");
        {
          auto received = co_await ws.recv();
          REQUIRE(received.text() == "done");
        }
        REQUIRE(on_strand == 2);
        co_await ws.close();
        srv.close();
        co_await srv.wait_closed();
      },
      30s, 2);
}

TEST_CASE("origins: listed origins pass, others get 403, nullopt admits no Origin", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.origins = {{"https://good.example", std::nullopt}};
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const std::string uri = uri_for(srv.endpoints().at(0));

    auto good = quiet_client();
    good.origin = "https://good.example";
    auto ws = co_await connect(uri, good);
    REQUIRE(ws.request_headers()["Origin"] == "https://good.example");
    co_await ws.close();

    const auto none = quiet_client();
    auto ws2 = co_await connect(uri, none);
    co_await ws2.close();

    auto evil = quiet_client();
    evil.origin = "https://evil.example";
    {
      const int status = co_await refused_status(uri, evil);
      REQUIRE(status == 403);
    }
    REQUIRE(log.find(log_level::info, {"Origin", "https://evil.example"}));

    auto twice = co_await raw_exchange(
        srv.endpoints().at(0),
        upgrade_request("/", {}, "Origin: https://good.example\r\nOrigin: https://x.example\r\n"));
    REQUIRE(parse_response(twice).status_code == 400);
    srv.close();
    co_await srv.wait_closed();

    auto strict = quiet_server(log);
    strict.origins = {{"https://good.example"}};
    auto srv2 = co_await serve(echo, "127.0.0.1", 0, strict);
    const std::string uri2 = uri_for(srv2.endpoints().at(0));
    {
      const int status = co_await refused_status(uri2, none);
      REQUIRE(status == 403);
    }
    auto ws3 = co_await connect(uri2, good);
    co_await ws3.close();
    srv2.close();
    co_await srv2.wait_closed();
  });
}

TEST_CASE("select_subprotocol_by_rank gives equal weight to both lists", "[server]") {
  using list = std::vector<std::string>;
  REQUIRE(select_subprotocol_by_rank(list{"a", "b"}, list{"b", "a"}) == "a");  // a tie: client's
  REQUIRE(select_subprotocol_by_rank(list{"x", "c", "y"}, list{"c", "y"}) == "c");  // 1+0 < 2+1
  REQUIRE(select_subprotocol_by_rank(list{"y", "x", "c"}, list{"c", "z", "y"}) ==
          "y");  // 0+2 = 2+0
  REQUIRE(select_subprotocol_by_rank(list{"a"}, list{"b"}) == std::nullopt);
  REQUIRE(select_subprotocol_by_rank(list{}, list{"b"}) == std::nullopt);
}

TEST_CASE("subprotocols: the default rule, a custom selector, none", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.subprotocols = {"chat", "superchat"};
    std::optional<std::string> seen;
    auto handler = [&seen](server_connection& ws) -> asio::awaitable<void> {
      seen = ws.subprotocol();
      co_await ws.send("ready");
      co_await ws.next();
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const std::string uri = uri_for(srv.endpoints().at(0));

    auto open_with = [&uri](std::vector<std::string> offer) -> asio::awaitable<client_connection> {
      auto copts = quiet_client();
      copts.subprotocols = std::move(offer);
      auto ws = co_await connect(uri, copts);
      co_return ws;
    };
    const std::vector<std::string> tie{"superchat", "chat"};
    auto ws = co_await open_with(tie);
    REQUIRE(ws.subprotocol() == "superchat");  // 0+1 against 1+0: the client's preference
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "ready");
    }
    REQUIRE(seen == "superchat");
    co_await ws.close();

    const std::vector<std::string> other{"other", "chat"};
    auto ws2 = co_await open_with(other);
    REQUIRE(ws2.subprotocol() == "chat");
    co_await ws2.close();

    const std::vector<std::string> unknown{"other"};
    auto ws3 = co_await open_with(unknown);
    REQUIRE(ws3.subprotocol() == std::nullopt);
    REQUIRE_FALSE(ws3.response_headers().contains("Sec-WebSocket-Protocol"));
    {
      auto received = co_await ws3.recv();
      REQUIRE(received.text() == "ready");
    }
    REQUIRE(seen == std::nullopt);
    co_await ws3.close();
    srv.close();
    co_await srv.wait_closed();

    auto custom = quiet_server(log);
    custom.subprotocols = {"chat", "superchat"};
    custom.select_subprotocol =
        [](std::span<const std::string> client,
           std::span<const std::string> server) -> std::optional<std::string> {
      for (const auto& s : server)  // the server's order, whatever the client prefers
        if (std::find(client.begin(), client.end(), s) != client.end()) return s;
      return std::nullopt;
    };
    auto srv2 = co_await serve(echo, "127.0.0.1", 0, custom);
    const std::string uri2 = uri_for(srv2.endpoints().at(0));
    auto copts = quiet_client();
    copts.subprotocols = tie;
    auto ws4 = co_await connect(uri2, copts);
    REQUIRE(ws4.subprotocol() == "chat");
    co_await ws4.close();
    srv2.close();
    co_await srv2.wait_closed();

    auto broken = quiet_server(log);
    broken.subprotocols = {"chat"};
    broken.select_subprotocol = [](std::span<const std::string>, std::span<const std::string>) {
      return std::optional<std::string>("not-offered");
    };
    auto srv3 = co_await serve(echo, "127.0.0.1", 0, broken);
    const std::string uri3 = uri_for(srv3.endpoints().at(0));
    copts.subprotocols = {"chat"};
    {
      const int status = co_await refused_status(uri3, copts);
      REQUIRE(status == 500);
    }
    REQUIRE(log.find(log_level::error, {"not-offered"}));
    srv3.close();
    co_await srv3.wait_closed();

    const auto plain = quiet_server(log);  // no subprotocols on the server
    auto srv4 = co_await serve(echo, "127.0.0.1", 0, plain);
    const std::string uri4 = uri_for(srv4.endpoints().at(0));
    auto ws5 = co_await connect(uri4, copts);
    REQUIRE(ws5.subprotocol() == std::nullopt);
    co_await ws5.close();
    srv4.close();
    co_await srv4.wait_closed();
  });
}

TEST_CASE("extra_headers: a fixed set and headers computed from the request", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto fixed = quiet_server(log);
    fixed.extra_headers = {{"X-Static", "yes"}, {"X-Second", "2"}};
    auto srv = co_await serve(echo, "127.0.0.1", 0, fixed);
    const std::string uri = uri_for(srv.endpoints().at(0));
    const auto copts = quiet_client();
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.response_headers()["X-Static"] == "yes");
    REQUIRE(ws.response_headers()["X-Second"] == "2");
    REQUIRE(ws.response_headers()["Server"] == default_user_agent);
    REQUIRE(ws.response_headers().contains("Date"));
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();

    auto computed = quiet_server(log);
    computed.server_header = "";
    computed.extra_headers = [](std::string_view path, const headers& request) {
      headers h;
      h.add("X-Path", std::string(path));
      h.add("X-Echo", std::string(request.get("X-Req").value_or("none")));
      return h;
    };
    auto srv2 = co_await serve(echo, "127.0.0.1", 0, computed);
    const std::string uri2 = uri_for(srv2.endpoints().at(0), "/room/1?x=y");
    auto with_header = quiet_client();
    with_header.extra_headers.add("X-Req", "from client");
    auto ws2 = co_await connect(uri2, with_header);
    REQUIRE(ws2.response_headers()["X-Path"] == "/room/1?x=y");
    REQUIRE(ws2.response_headers()["X-Echo"] == "from client");
    REQUIRE_FALSE(ws2.response_headers().contains("Server"));
    co_await ws2.close();
    srv2.close();
    co_await srv2.wait_closed();
  });
}

TEST_CASE("process_request answers 401, serves a page, or lets the handshake go on", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.process_request =
        [](std::string_view path,
           const headers& request) -> asio::awaitable<std::optional<http_response>> {
      if (path == "/health") {
        http_response r;
        r.status_code = 200;
        r.body = "OK\n";
        co_return r;
      }
      if (path == "/page") {
        http_response r;
        r.status_code = 200;
        r.headers.add("Content-Type", "text/html; charset=utf-8");
        r.body = "<!doctype html><h1>chat</h1>";
        co_return r;
      }
      if (path == "/teapot") throw abort_handshake(418, {{"X-Why", "tea"}}, "short and stout\n");
      if (path == "/bug") throw std::runtime_error("process_request bug");
      if (!request.contains("Authorization")) {
        http_response r;
        r.status_code = 401;
        r.headers.add("WWW-Authenticate", build_www_authenticate_basic("test"));
        r.body = "credentials needed\n";
        co_return r;
      }
      co_return std::nullopt;
    };
    int handled = 0;
    auto handler = [&handled](server_connection& ws) -> asio::awaitable<void> {
      ++handled;
      co_await echo(ws);
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);

    auto health =
        parse_response(co_await raw_exchange(ep, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(health.status_code == 200);
    REQUIRE(health.body == "OK\n");
    REQUIRE(health.headers["Content-Length"] == "3");
    REQUIRE(health.headers["Connection"] == "close");
    REQUIRE(health.headers["Content-Type"] == "text/plain; charset=utf-8");

    auto page = parse_response(co_await raw_exchange(ep, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(page.status_code == 200);
    REQUIRE(page.headers["Content-Type"] == "text/html; charset=utf-8");
    REQUIRE(page.body == "<!doctype html><h1>chat</h1>");

    auto teapot = parse_response(co_await raw_exchange(ep, upgrade_request("/teapot")));
    REQUIRE(teapot.status_code == 418);
    REQUIRE(teapot.headers["X-Why"] == "tea");
    REQUIRE(teapot.body == "short and stout\n");

    auto bug = parse_response(co_await raw_exchange(ep, upgrade_request("/bug")));
    REQUIRE(bug.status_code == 500);
    REQUIRE(bug.body.find("process_request bug") == std::string::npos);  // not leaked
    REQUIRE(log.find(log_level::error, {"process_request bug"}));

    auto denied = parse_response(co_await raw_exchange(ep, upgrade_request("/private")));
    REQUIRE(denied.status_code == 401);
    REQUIRE(denied.headers["WWW-Authenticate"].starts_with("Basic realm=\"test\""));

    const auto copts = quiet_client();
    const std::string uri = uri_for(ep, "/private");
    {
      const int status = co_await refused_status(uri, copts);
      REQUIRE(status == 401);
    }

    const std::string with_user =
        "ws://user:secret@127.0.0.1:" + std::to_string(ep.port()) + "/private";
    auto ws = co_await connect(with_user, copts);
    REQUIRE(parse_authorization_basic(ws.request_headers()["Authorization"]) ==
            std::pair<std::string, std::string>("user", "secret"));
    co_await ws.send("in");
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "in");
    }
    co_await ws.close();
    REQUIRE(handled == 1);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("requests that can't open a WebSocket get an HTTP error, never the handler", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    int handled = 0;
    auto handler = [&handled](server_connection& ws) -> asio::awaitable<void> {
      ++handled;
      co_await echo(ws);
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);

    auto no_upgrade = parse_response(co_await raw_exchange(ep, upgrade_request("/", "Upgrade")));
    REQUIRE(no_upgrade.status_code == 426);
    REQUIRE(no_upgrade.headers["Upgrade"] == "websocket");
    REQUIRE(no_upgrade.body.find("Upgrade") != std::string::npos);

    auto browser = parse_response(co_await raw_exchange(ep, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(browser.status_code == 426);

    auto no_connection =
        parse_response(co_await raw_exchange(ep, upgrade_request("/", "Connection")));
    REQUIRE(no_connection.status_code == 426);

    auto bad_key = parse_response(co_await raw_exchange(
        ep, upgrade_request("/", "Sec-WebSocket-Key", "Sec-WebSocket-Key: not base64!\r\n")));
    REQUIRE(bad_key.status_code == 400);
    REQUIRE(bad_key.body.find("Sec-WebSocket-Key") != std::string::npos);
    REQUIRE(bad_key.headers["Connection"] == "close");

    auto short_key = parse_response(co_await raw_exchange(
        ep, upgrade_request("/", "Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAA\r\n")));
    REQUIRE(short_key.status_code == 400);

    auto no_key =
        parse_response(co_await raw_exchange(ep, upgrade_request("/", "Sec-WebSocket-Key")));
    REQUIRE(no_key.status_code == 400);

    auto old_version = parse_response(co_await raw_exchange(
        ep, upgrade_request("/", "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\n")));
    REQUIRE(old_version.status_code == 426);
    REQUIRE(old_version.headers["Sec-WebSocket-Version"] == "13");

    auto no_version =
        parse_response(co_await raw_exchange(ep, upgrade_request("/", "Sec-WebSocket-Version")));
    REQUIRE(no_version.status_code == 400);

    std::string post = upgrade_request("/");
    post.replace(0, 3, "POST");
    auto posted = parse_response(co_await raw_exchange(ep, post));
    REQUIRE(posted.status_code == 405);
    REQUIRE(posted.headers["Allow"] == "GET");

    std::string old_http = upgrade_request("/");
    old_http.replace(old_http.find("HTTP/1.1"), 8, "HTTP/1.0");
    {
      auto response = parse_response(co_await raw_exchange(ep, old_http));
      REQUIRE(response.status_code == 400);
    }

    auto no_host = parse_response(co_await raw_exchange(ep, upgrade_request("/", "Host")));
    REQUIRE(no_host.status_code == 400);
    REQUIRE(no_host.body.find("Host") != std::string::npos);

    std::string with_body = upgrade_request("/", {}, "Content-Length: 5\r\n") + "hello";
    {
      auto response = parse_response(co_await raw_exchange(ep, with_body));
      REQUIRE(response.status_code == 400);
    }

    auto garbage = co_await raw_exchange(ep, std::string("\x16\x03\x01\x02\x05 garbage\r\n\r\n"));
    const int garbage_status = parse_response(garbage).status_code;
    REQUIRE((garbage.empty() || garbage_status == 400));

    std::string many = upgrade_request("/", {}, [] {
      std::string s;
      for (int i = 0; i < 300; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
      return s;
    }());
    {
      auto response = parse_response(co_await raw_exchange(ep, many));
      REQUIRE(response.status_code == 400);
    }

    std::string huge = upgrade_request("/", {}, "X-Big: " + std::string(100 * 1024, 'a') + "\r\n");
    auto oversized = co_await raw_exchange(ep, huge);
    const int oversized_status = parse_response(oversized).status_code;
    REQUIRE((oversized.empty() || oversized_status == 400));

    // A peer that closes before saying anything gets no answer at all.
    auto silent = co_await raw_exchange(ep, "", true);
    REQUIRE(silent.empty());

    // A request cut short by the peer's half-close still gets its 400.
    auto cut = co_await raw_exchange(ep, "GET / HTTP/1.1\r\nHost: x\r\n", true);
    REQUIRE(parse_response(cut).status_code == 400);

    REQUIRE(handled == 0);
    REQUIRE(log.find(log_level::info, {"refused", "127.0.0.1:"}));

    // Still serving.
    const auto copts = quiet_client();
    const std::string uri = uri_for(ep);
    auto ws = co_await connect(uri, copts);
    co_await ws.send("alive");
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "alive");
    }
    co_await ws.close();
    REQUIRE(handled == 1);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("open_timeout drops connections that don't complete the handshake", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.open_timeout = 200ms;
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);

    auto idle = co_await raw_exchange(ep, "");  // returns once the server hangs up
    REQUIRE(idle.empty());
    auto slow = co_await raw_exchange(ep, "GET / HTTP/1.1\r\nHost: x\r\n");  // never ends its head
    REQUIRE(slow.empty());
    REQUIRE(log.find(log_level::info, {"timed out"}));

    const auto copts = quiet_client();
    const std::string uri = uri_for(ep);
    auto ws = co_await connect(uri, copts);
    co_await sleep_for(400ms);  // past open_timeout: an open connection stays open
    co_await ws.send("still here");
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "still here");
    }
    co_await ws.close();
    REQUIRE(ws.close_code() == 1000);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("close() with 50 clients connected: each sees 1001, wait_closed() returns", "[server]") {
  // One thread (no strands), then two (a strand per connection).
  const int threads = GENERATE(1, 2);
  run_async(
      [](asio::any_io_executor) -> asio::awaitable<void> {
        log_capture log;
        const auto options = quiet_server(log);
        std::atomic<int> returned{0};
        auto handler = [&returned](server_connection& ws) -> asio::awaitable<void> {
          co_await echo(ws);
          ++returned;
        };
        auto srv = co_await serve(handler, "127.0.0.1", 0, options);
        const auto ep = srv.endpoints().at(0);
        const auto copts = quiet_client();
        const std::string uri = uri_for(ep);
        std::vector<client_connection> clients;
        for (int i = 0; i < 50; ++i) {
          auto ws = co_await connect(uri, copts);
          clients.push_back(std::move(ws));
        }
        for (int i = 0; i < 50; ++i) {
          const std::string text = "client " + std::to_string(i);
          co_await clients[i].send(text);
          {
            auto received = co_await clients[i].recv();
            REQUIRE(received.text() == text);
          }
        }

        srv.close();
        for (auto& ws : clients) {
          auto m = co_await ws.next();
          REQUIRE_FALSE(m);
          REQUIRE(ws.close_code() == 1001);
        }
        co_await srv.wait_closed();
        REQUIRE(returned == 50);
        REQUIRE(log.count(log_level::error) == 0);

        bool refused = false;
        try {
          auto late = co_await connect(uri, copts);
        } catch (const std::system_error& e) {
          refused = e.code() == asio::error::connection_refused;
        }
        REQUIRE(refused);
      },
      30s, threads);
}

TEST_CASE("close() aborts handshakes under way", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);  // open_timeout 10 s: close() must not wait for it
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);
    asio::ip::tcp::socket idle(co_await asio::this_coro::executor);
    co_await idle.async_connect(ep, asio::use_awaitable);
    co_await sleep_for(50ms);  // let the server accept it
    srv.close();
    co_await srv.wait_closed();
    char byte;
    std::error_code ec;
    co_await idle.async_read_some(asio::buffer(&byte, 1),
                                  asio::redirect_error(asio::use_awaitable, ec));
    REQUIRE(ec);  // the server hung up
  });
}

TEST_CASE("destroying the server object closes the server", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    const auto copts = quiet_client();
    bool finished = false;
    auto handler = [&finished](server_connection& ws) -> asio::awaitable<void> {
      co_await echo(ws);
      finished = true;
    };
    std::optional<client_connection> ws;
    {
      auto srv = co_await serve(handler, "127.0.0.1", 0, options);
      const std::string uri = uri_for(srv.endpoints().at(0));
      auto opened = co_await connect(uri, copts);
      ws.emplace(std::move(opened));
    }
    auto m = co_await ws->next();
    REQUIRE_FALSE(m);
    REQUIRE(ws->close_code() == 1001);
    // Nothing can wait for a destroyed server: let its last task end before
    // the io_context goes, or its frames would outlive it.
    while (!finished) co_await sleep_for(1ms);
    co_await sleep_for(20ms);
  });
}

TEST_CASE("unix_serve() and unix_connect()", "[server]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const std::string path = unique_socket_path("serve");
    {
      // A stale socket file from an earlier run is replaced.
      asio::local::stream_protocol::acceptor stale(ex,
                                                   asio::local::stream_protocol::endpoint(path));
    }
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);

    log_capture log;
    const auto options = quiet_server(log);
    std::string peer_path;
    auto handler = [&peer_path](server_connection& ws) -> asio::awaitable<void> {
      peer_path = ws.path();
      REQUIRE(ws.next_layer().type() == any_stream::kind::local);
      co_await echo(ws);
    };
    auto srv = co_await unix_serve(handler, path, options);
    REQUIRE(srv.endpoints().empty());
    const auto copts = quiet_client();
    auto ws = co_await unix_connect(path, "ws://localhost/chat?room=2", copts);
    REQUIRE(ws.next_layer().type() == any_stream::kind::local);
    REQUIRE(ws.request_headers()["Host"] == "localhost");
    co_await ws.send("over a unix socket");
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "over a unix socket");
    }
    REQUIRE(peer_path == "/chat?room=2");
    REQUIRE(ws.local_endpoint() == asio::ip::tcp::endpoint());
    co_await ws.close();
    REQUIRE(ws.close_code() == 1000);

    auto ws2 = co_await unix_connect(path);
    REQUIRE(ws2.extensions().size() == 1);  // default options: compression on
    co_await ws2.close();

    srv.close();
    co_await srv.wait_closed();
    REQUIRE(::stat(path.c_str(), &st) != 0);  // the socket file is gone

    bool failed = false;
    try {
      auto late = co_await unix_connect(path, "ws://localhost/", copts);
    } catch (const std::system_error& e) {
      failed = std::string(e.what()).find(path) != std::string::npos;
    }
    REQUIRE(failed);
  });
}

TEST_CASE("compression: negotiated by default, off with compression::none", "[server]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    std::size_t server_extensions = 99;
    bool offered = false;
    auto handler = [&](server_connection& ws) -> asio::awaitable<void> {
      server_extensions = ws.extensions().size();
      offered = ws.request_headers().contains("Sec-WebSocket-Extensions");
      co_await echo(ws);
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const std::string uri = uri_for(srv.endpoints().at(0));

    const auto copts = quiet_client();
    auto ws = co_await connect(uri, copts);
    REQUIRE(ws.extensions().size() == 1);
    REQUIRE(ws.extensions()[0]->name() == "permessage-deflate");
    const std::string big(200000, 'z');
    co_await ws.send(big);
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == big);
    }
    REQUIRE(server_extensions == 1);
    REQUIRE(offered);
    co_await ws.close();

    auto plain = quiet_client();
    plain.compression = compression::none;
    auto ws2 = co_await connect(uri, plain);
    REQUIRE(ws2.extensions().empty());
    co_await ws2.send("plain");
    {
      auto received = co_await ws2.recv();
      REQUIRE(received.text() == "plain");
    }
    REQUIRE_FALSE(offered);
    REQUIRE(server_extensions == 0);
    co_await ws2.close();
    srv.close();
    co_await srv.wait_closed();

    auto no_compression = quiet_server(log);
    no_compression.compression = compression::none;
    auto srv2 = co_await serve(handler, "127.0.0.1", 0, no_compression);
    const std::string uri2 = uri_for(srv2.endpoints().at(0));
    auto ws3 = co_await connect(uri2, copts);
    REQUIRE(ws3.extensions().empty());  // offered, declined
    REQUIRE_FALSE(ws3.response_headers().contains("Sec-WebSocket-Extensions"));
    co_await ws3.send("declined");
    {
      auto received = co_await ws3.recv();
      REQUIRE(received.text() == "declined");
    }
    REQUIRE(offered);
    REQUIRE(server_extensions == 0);
    co_await ws3.close();
    srv2.close();
    co_await srv2.wait_closed();
  });
}

TEST_CASE("accept() and handshake() work over the test stream", "[server]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client_end, server_end] = make_test_stream_pair(ex);
    server_options sopts;
    sopts.ping_interval = std::nullopt;
    sopts.subprotocols = {"v2"};
    std::optional<basic_websocket<test_stream>> server_ws;
    std::exception_ptr server_error;
    auto serve_one = [&](test_stream s) -> asio::awaitable<void> {
      try {
        auto ws = co_await accept(std::move(s), sopts);
        server_ws.emplace(std::move(ws));
      } catch (...) {
        server_error = std::current_exception();
      }
    };
    asio::co_spawn(ex, serve_one(std::move(server_end)), asio::detached);

    client_options copts;
    copts.ping_interval = std::nullopt;
    copts.subprotocols = {"v1", "v2"};
    auto ws = co_await handshake(std::move(client_end), "wss://example.com/api?k=v", copts);
    REQUIRE(ws.subprotocol() == "v2");
    REQUIRE(ws.secure());  // what the URI says: the stream is the caller's business
    REQUIRE(ws.host() == "example.com");
    REQUIRE(ws.port() == 443);
    REQUIRE(ws.extensions().size() == 1);
    co_await ws.send("over memory");
    while (!server_ws && !server_error) co_await sleep_for(1ms);
    REQUIRE_FALSE(server_error);
    REQUIRE(server_ws->path() == "/api?k=v");
    REQUIRE(server_ws->host() == "example.com");
    REQUIRE(server_ws->port() == 80);    // no port in Host, no TLS: ws://'s default
    REQUIRE_FALSE(server_ws->secure());  // a test stream isn't encrypted
    auto m = co_await server_ws->recv();
    REQUIRE(m.text() == "over memory");
    co_await server_ws->send(m);
    {
      auto received = co_await ws.recv();
      REQUIRE(received.text() == "over memory");
    }
    co_await ws.close();
    REQUIRE(ws.close_code() == 1000);
  });
}

TEST_CASE("accept() sends the refusal, closes the stream and throws", "[server]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client_end, server_end] = make_test_stream_pair(ex);
    const std::string request = upgrade_request("/", "Upgrade");
    co_await asio::async_write(client_end, asio::buffer(request), asio::use_awaitable);
    bool thrown = false;
    try {
      auto ws = co_await accept(std::move(server_end));
    } catch (const invalid_upgrade& e) {
      thrown = e.name() == "Upgrade";
    }
    REQUIRE(thrown);
    std::string response;
    std::error_code ec;
    co_await asio::async_read(client_end, asio::dynamic_buffer(response),
                              asio::redirect_error(asio::use_awaitable, ec));
    REQUIRE(ec == asio::error::eof);
    auto r = parse_response(response);
    REQUIRE(r.status_code == 426);
    REQUIRE(r.headers["Upgrade"] == "websocket");
  });
}

TEST_CASE("run() serves until SIGTERM, then closes every connection with 1001", "[server]") {
  std::uint16_t port = 0;
  {
    asio::io_context probe;
    asio::ip::tcp::acceptor a(probe, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  server_options options;
  options.ping_interval = std::nullopt;
  options.close_timeout = 2s;
  std::exception_ptr run_error;
  std::thread runner([&] {
    try {
      run(echo, "127.0.0.1", port, options);
    } catch (...) {
      run_error = std::current_exception();
    }
  });
  std::optional<std::uint16_t> code;
  run_async([&](asio::any_io_executor) -> asio::awaitable<void> {
    const auto copts = quiet_client();
    const std::string uri = "ws://127.0.0.1:" + std::to_string(port) + "/";
    std::optional<client_connection> ws;
    for (int attempt = 0; attempt < 500 && !ws; ++attempt) {
      try {
        auto opened = co_await connect(uri, copts);
        ws.emplace(std::move(opened));
      } catch (const std::system_error&) {
      }
      if (!ws) co_await sleep_for(10ms);  // run() isn't listening yet
    }
    REQUIRE(ws);
    co_await ws->send("ping");
    {
      auto received = co_await ws->recv();
      REQUIRE(received.text() == "ping");
    }
    ::kill(::getpid(), SIGTERM);
    auto after_signal = co_await ws->next();
    REQUIRE_FALSE(after_signal);
    code = ws->close_code();
  });
  runner.join();
  REQUIRE_FALSE(run_error);
  REQUIRE(code == 1001);
}
