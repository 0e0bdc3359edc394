// connect(), unix_connect() and handshake(): the request they send, the
// responses they refuse, and every error path, against raw servers on
// loopback and the test stream.
//
// With g++ 12, options and capturing lambdas are built in variables before
// each co_await (see options.hpp), and no co_await goes inside a Catch
// macro (they repeat their argument, which g++ 12's coroutines mishandle).
#include <catch2/catch.hpp>

#include <array>
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <functional>
#include <string>

#include "support/raw_peer.hpp"
#include "support/ws_pairs.hpp"
#include "websockets/websockets.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;

namespace {

client_options quiet_client() {
  client_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 1s;
  return o;
}

http_request parse_request(const std::string& bytes) {
  http_request_parser parser;
  parser.feed(bytes);
  REQUIRE(parser.head_complete());
  return parser.message();
}

// A 101 that answers `request`'s key, with `extra` header lines.
std::string switching_protocols(const std::string& request, std::string_view extra = {}) {
  const auto parsed = parse_request(request);
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         accept_key(parsed.headers["Sec-WebSocket-Key"]) + "\r\n" + std::string(extra) + "\r\n";
}

struct raw_server {
  explicit raw_server(const asio::any_io_executor& ex)
      : acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0}) {}

  std::string uri(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + std::string(path);
  }

  // Answers the next connection with `answer(request)` in the background.
  void answer_next(std::function<std::string(const std::string&)> answer, bool close_after = true) {
    request.reset();
    asio::co_spawn(acceptor.get_executor(), serve_once(this, std::move(answer), close_after),
                   asio::detached);
  }

  // A function, not a lambda: a coroutine lambda's captures die with the
  // closure, before the coroutine ends.
  static asio::awaitable<void> serve_once(raw_server* self,
                                          std::function<std::string(const std::string&)> answer,
                                          bool close_after) {
    auto received = co_await answer_once(self->acceptor, std::move(answer), close_after);
    self->request = std::move(received);
  }

  // The request the last answer_next() answered, once it is answered.
  asio::awaitable<std::string> received() {
    while (!request) co_await sleep_for(1ms);
    co_return *request;
  }

  asio::ip::tcp::acceptor acceptor;
  std::optional<std::string> request;
};

// Connects to `uri` expecting a failure of type E; returns its message.
template <class E>
asio::awaitable<std::optional<std::string>> failure_of(std::string uri, client_options options) {
  std::optional<std::string> what;
  try {
    auto ws = co_await connect(uri, options);
  } catch (const E& e) {
    what = e.what();
  }
  co_return what;
}

asio::awaitable<void> echo(server_connection& ws) {
  while (auto m = co_await ws.next()) co_await ws.send(*m);
}

}  // namespace

TEST_CASE("connect() to a closed port raises std::system_error naming the host and port",
          "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t port = 0;
    {
      asio::ip::tcp::acceptor probe(ex, {asio::ip::make_address("127.0.0.1"), 0});
      port = probe.local_endpoint().port();
    }
    const std::string uri = "ws://127.0.0.1:" + std::to_string(port) + "/";
    std::string what;
    std::error_code code;
    try {
      auto ws = co_await connect(uri);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    REQUIRE(code == asio::error::connection_refused);
    REQUIRE(what.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  });
}

TEST_CASE("connect() to a host that doesn't resolve names it", "[client]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    const auto copts = quiet_client();
    auto what = co_await failure_of<std::system_error>("ws://no-such-host.invalid/", copts);
    REQUIRE(what);
    REQUIRE(what->find("no-such-host.invalid:80") != std::string::npos);
  });
}

TEST_CASE("connect() raises invalid_uri for what isn't a WebSocket URI", "[client]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    const auto copts = quiet_client();
    // A named array: g++ 12 keeps a braced list's array off the coroutine
    // frame, so it doesn't survive a co_await.
    const std::array<const char*, 4> bad_uris{"http://example.com/", "ws://", "example.com",
                                              "ws://h:99999/"};
    for (const char* bad : bad_uris) {
      auto what = co_await failure_of<invalid_uri>(bad, copts);
      INFO(bad);
      REQUIRE(what);
    }
  });
}

TEST_CASE("a refusal raises invalid_status_code with the status", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    raw_server srv(ex);
    const auto copts = quiet_client();
    const std::array<int, 3> statuses{404, 301, 503};
    for (int status : statuses) {
      std::function<std::string(const std::string&)> answer = [status](const std::string&) {
        return "HTTP/1.1 " + std::to_string(status) +
               " Nope\r\nContent-Length: 5\r\nLocation: /x\r\n\r\nnope!";
      };
      srv.answer_next(answer);
      int seen = 0;
      std::string location, body;
      try {
        auto ws = co_await connect(srv.uri(), copts);
      } catch (const invalid_status_code& e) {
        seen = e.status_code();
        for (const auto& [name, value] : e.headers())
          if (name == "Location") location = value;
        body = e.body();
      }
      REQUIRE(seen == status);
      REQUIRE(location == "/x");
      REQUIRE(body == "nope!");
    }
  });
}

TEST_CASE("the request carries Host, Origin, credentials, offers and extra headers", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    raw_server srv(ex);
    const std::function<std::string(const std::string&)> refuse = [](const std::string&) {
      return std::string("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    };
    auto copts = quiet_client();
    copts.origin = "https://app.example";
    copts.subprotocols = {"v2.chat", "v1.chat"};
    copts.extra_headers.add("X-Trace", "abc123");
    srv.answer_next(refuse);
    const auto port = std::to_string(srv.acceptor.local_endpoint().port());
    const std::string uri = "ws://al%20ice:p%40ss@127.0.0.1:" + port + "/room/1?lang=en";
    auto refused = co_await failure_of<invalid_status_code>(uri, copts);
    REQUIRE(refused);

    const auto request = parse_request(co_await srv.received());
    REQUIRE(request.method == "GET");
    REQUIRE(request.path == "/room/1?lang=en");
    REQUIRE(request.http_minor == 1);
    const auto& h = request.headers;
    REQUIRE(h["Host"] == "127.0.0.1:" + port);
    REQUIRE(h["Origin"] == "https://app.example");
    REQUIRE(parse_authorization_basic(h["Authorization"]) ==
            std::pair<std::string, std::string>("al ice", "p@ss"));
    REQUIRE(h["Upgrade"] == "websocket");
    REQUIRE(h["Sec-WebSocket-Version"] == "13");
    REQUIRE(h["Sec-WebSocket-Protocol"] == "v2.chat, v1.chat");
    auto offers = parse_extension_list(h["Sec-WebSocket-Extensions"]);
    REQUIRE(offers.size() == 1);
    REQUIRE(offers[0].name == "permessage-deflate");
    REQUIRE(h["X-Trace"] == "abc123");
    REQUIRE(h["User-Agent"] == default_user_agent);

    auto bare = quiet_client();
    bare.compression = compression::none;
    bare.user_agent = "";
    srv.answer_next(refuse);
    const std::string plain_uri = "ws://127.0.0.1:" + port + "/";
    auto refused2 = co_await failure_of<invalid_status_code>(plain_uri, bare);
    REQUIRE(refused2);
    const auto request2 = parse_request(co_await srv.received());
    REQUIRE_FALSE(request2.headers.contains("Sec-WebSocket-Extensions"));
    REQUIRE_FALSE(request2.headers.contains("Sec-WebSocket-Protocol"));
    REQUIRE_FALSE(request2.headers.contains("Origin"));
    REQUIRE_FALSE(request2.headers.contains("Authorization"));
    REQUIRE_FALSE(request2.headers.contains("User-Agent"));

    auto own_agent = quiet_client();
    own_agent.extra_headers.add("User-Agent", "my-bot/2");
    srv.answer_next(refuse);
    auto refused3 = co_await failure_of<invalid_status_code>(plain_uri, own_agent);
    REQUIRE(refused3);
    const auto request3 = parse_request(co_await srv.received());
    REQUIRE(request3.headers["User-Agent"] == "my-bot/2");
  });
}

TEST_CASE("a 101 that doesn't complete the handshake fails it", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    raw_server srv(ex);
    const auto copts = quiet_client();

    const std::function<std::string(const std::string&)> wrong_accept = [](const std::string&) {
      return std::string(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    };
    srv.answer_next(wrong_accept);
    auto what = co_await failure_of<invalid_header_value>(srv.uri(), copts);
    REQUIRE(what);
    REQUIRE(what->find("Sec-WebSocket-Accept") != std::string::npos);

    const std::function<std::string(const std::string&)> no_upgrade = [](const std::string& r) {
      std::string s = switching_protocols(r);
      s.erase(s.find("Upgrade: websocket\r\n"), 20);
      return s;
    };
    srv.answer_next(no_upgrade);
    {
      auto failure = co_await failure_of<invalid_upgrade>(srv.uri(), copts);
      REQUIRE(failure);
    }

    auto no_compression = quiet_client();
    no_compression.compression = compression::none;
    const std::function<std::string(const std::string&)> deflate = [](const std::string& r) {
      return switching_protocols(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    };
    srv.answer_next(deflate);
    auto unoffered = co_await failure_of<negotiation_error>(srv.uri(), no_compression);
    REQUIRE(unoffered);
    REQUIRE(unoffered->find("permessage-deflate") != std::string::npos);

    const std::function<std::string(const std::string&)> bad_bits = [](const std::string& r) {
      return switching_protocols(
          r, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n");
    };
    srv.answer_next(bad_bits);
    {
      auto failure = co_await failure_of<negotiation_error>(srv.uri(), copts);
      REQUIRE(failure);
    }

    const std::function<std::string(const std::string&)> twice = [](const std::string& r) {
      return switching_protocols(r,
                                 "Sec-WebSocket-Extensions: permessage-deflate, "
                                 "permessage-deflate\r\n");
    };
    srv.answer_next(twice);
    {
      auto failure = co_await failure_of<negotiation_error>(srv.uri(), copts);
      REQUIRE(failure);
    }

    auto with_protocols = quiet_client();
    with_protocols.subprotocols = {"a", "b"};
    const std::function<std::string(const std::string&)> other = [](const std::string& r) {
      return switching_protocols(r, "Sec-WebSocket-Protocol: c\r\n");
    };
    srv.answer_next(other);
    auto not_offered = co_await failure_of<negotiation_error>(srv.uri(), with_protocols);
    REQUIRE(not_offered);
    REQUIRE(not_offered->find("\"c\"") != std::string::npos);

    srv.answer_next(other);
    {
      auto failure = co_await failure_of<negotiation_error>(srv.uri(), copts);
      REQUIRE(failure);
    }

    const std::function<std::string(const std::string&)> both = [](const std::string& r) {
      return switching_protocols(r, "Sec-WebSocket-Protocol: a, b\r\n");
    };
    srv.answer_next(both);
    {
      auto failure = co_await failure_of<invalid_header>(srv.uri(), with_protocols);
      REQUIRE(failure);
    }

    const std::function<std::string(const std::string&)> not_http = [](const std::string&) {
      return std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    };
    srv.answer_next(not_http);
    {
      auto failure = co_await failure_of<invalid_message>(srv.uri(), copts);
      REQUIRE(failure);
    }

    const std::function<std::string(const std::string&)> silence = [](const std::string&) {
      return std::string();
    };
    srv.answer_next(silence);  // closes without a word
    {
      auto failure = co_await failure_of<invalid_message>(srv.uri(), copts);
      REQUIRE(failure);
    }
  });
}

TEST_CASE("frames sent right after the 101 reach the connection", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    raw_server srv(ex);
    const std::function<std::string(const std::string&)> eager = [](const std::string& r) {
      return switching_protocols(r, "Sec-WebSocket-Protocol: b\r\n") + "\x81\x02hi";
    };
    srv.answer_next(eager, false);
    auto copts = quiet_client();
    copts.subprotocols = {"a", "b"};
    copts.compression = compression::none;
    auto ws = co_await connect(srv.uri("/x"), copts);
    REQUIRE(ws.subprotocol() == "b");
    REQUIRE(ws.response_headers()["Sec-WebSocket-Protocol"] == "b");
    auto m = co_await ws.recv();
    REQUIRE(m.text() == "hi");
  });
}

TEST_CASE("open_timeout bounds connect()", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    raw_server srv(ex);
    const std::function<std::string(const std::string&)> mute = [](const std::string&) {
      return std::string();
    };
    srv.answer_next(mute, false);  // reads the request, never answers
    auto copts = quiet_client();
    copts.open_timeout = 200ms;
    std::error_code code;
    std::string what;
    try {
      auto ws = co_await connect(srv.uri(), copts);
    } catch (const std::system_error& e) {
      code = e.code();
      what = e.what();
    }
    REQUIRE(code == asio::error::timed_out);
    REQUIRE(what.find("127.0.0.1:" + std::to_string(srv.acceptor.local_endpoint().port())) !=
            std::string::npos);
  });
}

TEST_CASE("TCP_NODELAY is set on both ends", "[client]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    server_options sopts;
    sopts.ping_interval = std::nullopt;
    bool server_nodelay = false;
    auto handler = [&server_nodelay](server_connection& ws) -> asio::awaitable<void> {
      asio::ip::tcp::no_delay option;
      ws.next_layer().tcp()->get_option(option);
      server_nodelay = option.value();
      co_await echo(ws);
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, sopts);
    const auto copts = quiet_client();
    const std::string uri = "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port());
    auto ws = co_await connect(uri, copts);
    asio::ip::tcp::no_delay option;
    ws.next_layer().tcp()->get_option(option);
    REQUIRE(option.value());
    REQUIRE(ws.next_layer().type() == any_stream::kind::tcp);
    co_await ws.send("x");
    auto m = co_await ws.recv();
    REQUIRE(m.text() == "x");
    REQUIRE(server_nodelay);
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("connect() works from a coroutine on a strand", "[client]") {
  run_async(
      [](asio::any_io_executor ex) -> asio::awaitable<void> {
        server_options sopts;
        sopts.ping_interval = std::nullopt;
        auto srv = co_await serve(echo, "127.0.0.1", 0, sopts);
        const std::string uri =
            "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port()) + "/";
        auto client = [uri]() -> asio::awaitable<std::string> {
          const auto copts = quiet_client();
          auto ws = co_await connect(uri, copts);
          co_await ws.send("from a strand");
          auto m = co_await ws.recv();
          co_await ws.close();
          co_return std::string(m.text());
        };
        auto on_strand = asio::co_spawn(asio::make_strand(ex), client(), asio::use_awaitable);
        auto text = co_await std::move(on_strand);
        REQUIRE(text == "from a strand");
        srv.close();
        co_await srv.wait_closed();
      },
      30s, 2);
}

TEST_CASE("handshake() over the test stream closes the stream when refused", "[client]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client_end, server_end] = make_test_stream_pair(ex);
    const std::string refusal = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nno!\n";
    co_await asio::async_write(server_end, asio::buffer(refusal), asio::use_awaitable);
    int status = 0;
    try {
      auto ws = co_await handshake(std::move(client_end), "ws://example.com/");
    } catch (const invalid_status_code& e) {
      status = e.status_code();
    }
    REQUIRE(status == 401);
    std::string request;
    std::error_code ec;
    co_await asio::async_read(server_end, asio::dynamic_buffer(request),
                              asio::redirect_error(asio::use_awaitable, ec));
    REQUIRE(ec == asio::error::eof);  // the client closed its end
    REQUIRE(parse_request(request).headers["Host"] == "example.com");
  });
}

TEST_CASE("unix_connect() refuses wss:// and empty paths", "[client]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    bool tls_refused = false;
    try {
      auto ws = co_await unix_connect("/tmp/none.sock", "wss://localhost/");
    } catch (const std::invalid_argument&) {
      tls_refused = true;
    }
    REQUIRE(tls_refused);
    bool empty_refused = false;
    try {
      auto ws = co_await unix_connect("");
    } catch (const std::invalid_argument&) {
      empty_refused = true;
    }
    REQUIRE(empty_refused);
  });
}

#ifdef WEBSOCKETS_WITH_OPENSSL
TEST_CASE("a TLS context with a ws:// URI is a mistake, not a silent downgrade", "[client]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    auto copts = quiet_client();
    copts.ssl_context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    auto what = co_await failure_of<std::invalid_argument>("ws://127.0.0.1:9/", copts);
    REQUIRE(what);
    REQUIRE(what->find("wss://") != std::string::npos);
  });
}
#endif
