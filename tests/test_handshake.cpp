#include "websockets/handshake.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include "websockets/client_check.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/http.hpp"
#include "websockets/server_accept.hpp"
// Only for accept_settings_of(server_options): no stream is used here.
#include "websockets/server_handshake.hpp"

#include "websockets/detail/base64.hpp"
#include "websockets/detail/sha1.hpp"

using namespace websockets;

namespace {

std::string hex(const detail::sha1::digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Runs f(), which must throw exactly type E (not a subclass) for header
// `name`, with `what` in its message; returns the exception's value().
template <class E, class F>
std::optional<std::string> check_throws(F f, const std::string& name, const std::string& what) {
  try {
    f();
  } catch (const invalid_header& e) {
    CHECK(typeid(e) == typeid(E));
    CHECK(e.name() == name);
    CHECK_THAT(e.what(), Catch::Contains(what));
    return e.value();
  }
  FAIL("no exception");
  return std::nullopt;
}

// Request headers that check_request() accepts.
headers valid_request() {
  return {{"Host", "server.example.com"},
          {"Upgrade", "websocket"},
          {"Connection", "Upgrade"},
          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
          {"Sec-WebSocket-Version", "13"}};
}

headers valid_response() {
  return {{"Upgrade", "websocket"},
          {"Connection", "Upgrade"},
          {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
}

// `h` with the fields named `name` replaced by one field per value.
headers with(headers h, const std::string& name, std::vector<std::string> values) {
  h.erase(name);
  for (auto& v : values) h.add(name, v);
  return h;
}

}  // namespace

TEST_CASE("sha1: FIPS 180 vectors") {
  using detail::sha1;
  CHECK(hex(sha1::hash("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(hex(sha1::hash("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(sha1::hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex(sha1::hash(
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
            "nopqklmnopqrlmnopqrsmnopqrstnopqrstu")) == "a49b2446a02c645bf419f995b67091253a04a259");
  std::string million(1000000, 'a');
  CHECK(hex(sha1::hash(million)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("sha1: lengths around the block and padding boundaries") {
  using detail::sha1;
  CHECK(hex(sha1::hash(std::string(55, 'a'))) == "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  CHECK(hex(sha1::hash(std::string(56, 'a'))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  CHECK(hex(sha1::hash(std::string(63, 'a'))) == "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
  CHECK(hex(sha1::hash(std::string(64, 'a'))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d");
  CHECK(hex(sha1::hash(std::string(119, 'a'))) == "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56");
}

TEST_CASE("sha1: any split of the input gives the same digest") {
  using detail::sha1;
  std::string data;
  for (int i = 0; i < 3; ++i)
    for (int b = 0; b < 256; ++b) data += static_cast<char>(b);
  const std::string expected = "ac2a264c8ec1f4232a40854e8239bc3a697ab1d2";
  CHECK(hex(sha1::hash(data)) == expected);
  for (std::size_t piece : {1, 3, 55, 63, 64, 65, 127, 500}) {
    sha1 h;
    for (std::size_t i = 0; i < data.size(); i += piece)
      h.update(std::string_view(data).substr(i, piece));
    CHECK(hex(h.finish()) == expected);
  }
  for (std::size_t cut = 0; cut <= 130; ++cut) {
    sha1 h;
    h.update(std::string_view(data).substr(0, cut));
    h.update(std::string_view(data).substr(cut));
    CHECK(hex(h.finish()) == expected);
  }
}

TEST_CASE("base64: RFC 4648 vectors") {
  using detail::base64_decode;
  using detail::base64_encode;
  std::vector<std::pair<std::string, std::string>> vectors{{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
  for (auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == plain);
  }
  // Every byte value survives a round trip, at every length modulo 3.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t n : {all.size(), all.size() - 1, all.size() - 2}) {
    auto s = all.substr(0, n);
    CHECK(base64_decode(base64_encode(s)) == s);
  }
  // 256 bytes: 86 groups, the last padded with "==".
  std::string encoded_all = base64_encode(all);
  CHECK(encoded_all.size() == 344);
  CHECK(encoded_all.find_first_not_of(detail::base64_alphabet) == 342);
  CHECK(encoded_all.substr(342) == "==");
}

TEST_CASE("base64: strict decoding") {
  using detail::base64_decode;
  for (std::string bad :
       {"Zg", "Zg=", "Zg===", "Z===", "====", "=", "Zm9", "Zm9vY", " Zg==", "Zg==\n",
        "Zg ==", "Zg==Zg==", "Zm=v", "Zm9v\r\n", "Zh==", "Zm9=", "Zm_v", "Zm-v", "Zm9v!A=="}) {
    INFO("input: " << bad);
    CHECK(base64_decode(bad) == std::nullopt);
  }
  // A fixed-size output must be large enough.
  std::array<std::byte, 2> small;
  CHECK(base64_decode("Zm9v", small) == std::nullopt);
  std::array<std::byte, 3> exact;
  CHECK(base64_decode("Zm9v", exact) == 3);
  CHECK(base64_decode("Zm8=", exact) == 2);
}

TEST_CASE("accept_key: RFC 6455 section 1.3's example") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("generate_key makes a fresh base64 nonce of 16 bytes") {
  std::string a = generate_key(), b = generate_key();
  CHECK(a.size() == 24);
  CHECK(a.substr(22) == "==");
  auto raw = detail::base64_decode(a);
  REQUIRE(raw);
  CHECK(raw->size() == 16);
  CHECK(a != b);
}

TEST_CASE("build_request, check_request, build_response, check_response agree") {
  headers request{{"Host", "example.com"}};
  std::string key = build_request(request);
  CHECK(request.size() == 5);
  CHECK(request["Upgrade"] == "websocket");
  CHECK(request["Connection"] == "Upgrade");
  CHECK(request["Sec-WebSocket-Key"] == key);
  CHECK(request["Sec-WebSocket-Version"] == "13");
  CHECK(check_request(request) == key);

  headers response;
  build_response(response, key);
  CHECK(response == headers{{"Upgrade", "websocket"},
                            {"Connection", "Upgrade"},
                            {"Sec-WebSocket-Accept", accept_key(key)}});
  CHECK_NOTHROW(check_response(response, key));
  // Another key doesn't match.
  CHECK_THROWS_AS(check_response(response, generate_key()), invalid_header_value);
}

TEST_CASE("check_request accepts what peers send") {
  CHECK(check_request(valid_request()) == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK_NOTHROW(check_request(with(valid_request(), "Connection", {"keep-alive, Upgrade"})));
  CHECK_NOTHROW(check_request(with(valid_request(), "Connection", {"keep-alive", "upgrade"})));
  CHECK_NOTHROW(check_request(with(valid_request(), "Connection", {"UPGRADE"})));
  CHECK_NOTHROW(check_request(with(valid_request(), "Upgrade", {"WebSocket"})));
  CHECK_NOTHROW(check_request(with(valid_request(), "upgrade", {"WEBSOCKET"})));
}

TEST_CASE("check_request: Connection and Upgrade errors") {
  auto check = [](headers h) { return [h] { check_request(h); }; };
  CHECK(check_throws<invalid_upgrade>(check(with(valid_request(), "Connection", {})), "Connection",
                                      "missing Connection header") == std::nullopt);
  CHECK(check_throws<invalid_upgrade>(check(with(valid_request(), "Connection", {"keep-alive"})),
                                      "Connection",
                                      "invalid Connection header: \"keep-alive\"") == "keep-alive");
  CHECK(check_throws<invalid_upgrade>(
            check(with(valid_request(), "Connection", {"close", "keep-alive"})), "Connection",
            "invalid Connection header: \"close, keep-alive\"") == "close, keep-alive");
  check_throws<invalid_header_format>(check(with(valid_request(), "Connection", {"Upgrade;"})),
                                      "Connection", "expected comma at 7");
  CHECK(check_throws<invalid_upgrade>(check(with(valid_request(), "Upgrade", {})), "Upgrade",
                                      "missing Upgrade header") == std::nullopt);
  check_throws<invalid_upgrade>(check(with(valid_request(), "Upgrade", {"h2c"})), "Upgrade",
                                "invalid Upgrade header: \"h2c\"");
  check_throws<invalid_upgrade>(check(with(valid_request(), "Upgrade", {"websocket/13"})),
                                "Upgrade", "invalid Upgrade header: \"websocket/13\"");
  check_throws<invalid_upgrade>(check(with(valid_request(), "Upgrade", {"websocket, h2c"})),
                                "Upgrade", "invalid Upgrade header: \"websocket, h2c\"");
  check_throws<invalid_upgrade>(check(with(valid_request(), "Upgrade", {"websocket", "websocket"})),
                                "Upgrade", "invalid Upgrade header: \"websocket, websocket\"");
  check_throws<invalid_header_format>(check(with(valid_request(), "Upgrade", {"web socket"})),
                                      "Upgrade", "expected comma at 4");
}

TEST_CASE("check_request: Sec-WebSocket-Key and Sec-WebSocket-Version errors") {
  auto check = [](headers h) { return [h] { check_request(h); }; };
  const std::string key = "Sec-WebSocket-Key";
  CHECK(check_throws<invalid_header>(check(with(valid_request(), key, {})), key,
                                     "missing Sec-WebSocket-Key header") == std::nullopt);
  CHECK(check_throws<invalid_header>(
            check(with(valid_request(), key,
                       {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="})),
            key, "more than one Sec-WebSocket-Key header found") ==
        "more than one Sec-WebSocket-Key header found");
  for (std::string bad : {"not base64!", "", "dGhlIHNhbXBsZSBub25jZQ", "AAECAwQFBgcICQoLDA0O",
                          "AAECAwQFBgcICQoLDA0ODxA=", "dGhlIHNhbXBsZSBub25jZR=="}) {
    INFO("key: " << bad);
    CHECK(check_throws<invalid_header_value>(check(with(valid_request(), key, {bad})), key,
                                             "Sec-WebSocket-Key header") == bad);
  }
  const std::string version = "Sec-WebSocket-Version";
  check_throws<invalid_header>(check(with(valid_request(), version, {})), version,
                               "missing Sec-WebSocket-Version header");
  check_throws<invalid_header>(check(with(valid_request(), version, {"13", "13"})), version,
                               "more than one Sec-WebSocket-Version header found");
  for (std::string bad : {"8", "14", "013", "13, 8", ""}) {
    INFO("version: " << bad);
    CHECK(check_throws<invalid_header_value>(check(with(valid_request(), version, {bad})), version,
                                             "Sec-WebSocket-Version header") == bad);
  }
  CHECK_THROWS_WITH(check_request(with(valid_request(), version, {"8"})),
                    "invalid Sec-WebSocket-Version header: \"8\"");
}

TEST_CASE("check_response errors") {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  auto check = [&](headers h) { return [h, key] { check_response(h, key); }; };
  CHECK_NOTHROW(check_response(valid_response(), key));
  check_throws<invalid_upgrade>(check(with(valid_response(), "Connection", {})), "Connection",
                                "missing Connection header");
  check_throws<invalid_upgrade>(check(with(valid_response(), "Upgrade", {"h2c"})), "Upgrade",
                                "invalid Upgrade header: \"h2c\"");
  const std::string accept = "Sec-WebSocket-Accept";
  check_throws<invalid_header>(check(with(valid_response(), accept, {})), accept,
                               "missing Sec-WebSocket-Accept header");
  check_throws<invalid_header>(
      check(with(valid_response(), accept, {accept_key(key), accept_key(key)})), accept,
      "more than one Sec-WebSocket-Accept header found");
  CHECK(check_throws<invalid_header_value>(check(with(valid_response(), accept, {"wrong"})), accept,
                                           "invalid Sec-WebSocket-Accept header: \"wrong\"") ==
        "wrong");
  // Base64 is case-sensitive: no case-insensitive match.
  CHECK_THROWS_AS(
      check_response(with(valid_response(), accept, {"S3PPLMBITXAQ9KYGZZHZRBK+XOO="}), key),
      invalid_header_value);
  // Every failure is an invalid_handshake, for a client to catch at once.
  CHECK_THROWS_AS(check_response(with(valid_response(), accept, {}), key), invalid_handshake);
}

// ---- The server's accept decision (server_accept.hpp) ----------------------

namespace {

// RFC 9110's example date, 784111777 seconds after the epoch.
constexpr std::time_t example_time = 784111777;
constexpr std::string_view example_date = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view sample_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const accept_context at_example_time{.secure = false, .now = example_time};

http_request handshake_request(headers h = valid_request()) {
  http_request r;
  r.path = "/chat?room=1";
  r.headers = std::move(h);
  return r;
}

// The settings of server_options{}, as server_handshake() makes them.
accept_settings default_settings() {
  static const server_options options;
  return accept_settings_of(options);
}

// The response in `result.bytes`, parsed back: what the peer reads.
http_response sent(const accept_result& result) {
  REQUIRE(result.response);
  http_response_parser parser;
  const std::size_t head = parser.feed(result.bytes);
  REQUIRE(parser.head_complete());
  if (parser.body_expected())
    parser.feed_body(std::string_view(result.bytes).substr(head));
  else
    CHECK(head == result.bytes.size());
  // What was decided is what goes out (the reason phrase aside, which
  // serialize() fills in).
  CHECK(parser.message().status_code == result.response->status_code);
  CHECK(parser.message().headers == result.response->headers);
  CHECK(parser.message().body == result.response->body);
  return parser.message();
}

// The message of the failure in `result`, which must be exactly an E.
template <class E>
std::string failure_of(const accept_result& result) {
  REQUIRE(result.failure);
  CHECK_FALSE(result.accepted());
  try {
    std::rethrow_exception(result.failure);
  } catch (const E& e) {
    CHECK(typeid(e) == typeid(E));
    return e.what();
  } catch (const std::exception& e) {
    FAIL("unexpected exception " << typeid(e).name() << ": " << e.what());
  }
  return {};
}

// Checks a refusal: its status, reason line and the headers every refusal
// carries, with a Server header `server` (none when empty).
http_response check_refusal(const accept_result& result, int status, std::string_view reason,
                            std::string_view server = default_user_agent) {
  const http_response r = sent(result);
  CHECK(r.status_code == status);
  CHECK_THAT(r.body,
             Catch::StartsWith("WebSocket handshake refused: " + std::string(reason) + "\n"));
  CHECK(r.headers.get("Content-Length") == std::to_string(r.body.size()));
  CHECK(r.headers.get("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.headers.get("Connection") == "close");
  CHECK(r.headers.get("Date") == example_date);
  if (server.empty())
    CHECK_FALSE(r.headers.contains("Server"));
  else
    CHECK(r.headers.get("Server") == server);
  CHECK_FALSE(r.headers.contains("Sec-WebSocket-Accept"));
  return r;
}

}  // namespace

TEST_CASE("accept_request: a valid request gets a 101 and opens the connection", "[accept]") {
  auto result = accept_request(handshake_request(), default_settings(), at_example_time);
  REQUIRE(result.accepted());
  const http_response r = sent(result);
  CHECK(r.status_code == 101);
  CHECK_THAT(result.bytes, Catch::StartsWith("HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(r.headers.get("Upgrade") == "websocket");
  CHECK(r.headers.get("Connection") == "Upgrade");
  CHECK(r.headers.get("Sec-WebSocket-Accept") == sample_accept);
  CHECK(r.headers.get("Date") == example_date);
  CHECK(r.headers.get("Server") == default_user_agent);
  CHECK_FALSE(r.headers.contains("Sec-WebSocket-Extensions"));
  CHECK_FALSE(r.headers.contains("Sec-WebSocket-Protocol"));
  CHECK_FALSE(r.headers.contains("Content-Length"));
  CHECK(r.body.empty());

  const opening_handshake& h = result.handshake;
  CHECK(h.path == "/chat?room=1");
  CHECK(h.request_headers == valid_request());
  CHECK(h.response_headers == r.headers);
  CHECK(h.host == "server.example.com");
  CHECK(h.port == 80);
  CHECK_FALSE(h.secure);
  CHECK(h.extensions.empty());
  CHECK(h.subprotocol == std::nullopt);
  CHECK(h.leftover.empty());
}

TEST_CASE("accept_request: host and port come from Host, the default port from the scheme",
          "[accept]") {
  struct example {
    std::string host_header;
    bool secure;
    std::string host;
    std::uint16_t port;
  };
  for (const auto& e : std::vector<example>{{"example.com", false, "example.com", 80},
                                            {"example.com", true, "example.com", 443},
                                            {"example.com:8080", true, "example.com", 8080},
                                            {"[::1]:9000", false, "::1", 9000},
                                            {"[::1]", true, "::1", 443},
                                            {"example.com:99999", false, "example.com", 80},
                                            {"example.com:x1", false, "example.com", 80}}) {
    INFO(e.host_header << (e.secure ? " over TLS" : ""));
    const accept_context context{.secure = e.secure, .now = example_time};
    auto result = accept_request(handshake_request(with(valid_request(), "Host", {e.host_header})),
                                 default_settings(), context);
    REQUIRE(result.accepted());
    CHECK(result.handshake.host == e.host);
    CHECK(result.handshake.port == e.port);
    CHECK(result.handshake.secure == e.secure);
  }
}

TEST_CASE("accept_request: a method other than GET gets 405 with Allow", "[accept]") {
  auto request = handshake_request();
  request.method = "POST";
  auto result = accept_request(request, default_settings(), at_example_time);
  const auto r = check_refusal(result, 405, "the method of a WebSocket handshake is GET");
  CHECK(r.headers.get("Allow") == "GET");
  CHECK(failure_of<invalid_message>(result) ==
        "unsupported HTTP method \"POST\"; a WebSocket handshake is a GET");
  // screen_request, which server_handshake() runs before process_request,
  // decides the same.
  auto screened = screen_request(request, default_settings(), at_example_time);
  REQUIRE(screened);
  CHECK(screened->bytes == result.bytes);
  CHECK(screen_request(handshake_request(), default_settings(), at_example_time) == std::nullopt);
}

TEST_CASE("accept_request: an HTTP/1.0 request gets 400", "[accept]") {
  auto request = handshake_request();
  request.http_minor = 0;
  auto result = accept_request(request, default_settings(), at_example_time);
  const std::string reason = "HTTP/1.0 request; a WebSocket handshake needs HTTP/1.1";
  check_refusal(result, 400, reason);
  CHECK(failure_of<invalid_message>(result) == reason);
  CHECK(screen_request(request, default_settings(), at_example_time));
}

TEST_CASE("accept_request: a request with a body gets 400", "[accept]") {
  const std::string reason = "a WebSocket handshake request can't have a body";
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Content-Length", "5"}, {"Content-Length", "00"}, {"Transfer-Encoding", "chunked"}}) {
    INFO(name << ": " << value);
    auto result = accept_request(handshake_request(with(valid_request(), name, {value})),
                                 default_settings(), at_example_time);
    check_refusal(result, 400, reason);
    CHECK(failure_of<invalid_message>(result) == reason);
  }
  auto empty_body =
      accept_request(handshake_request(with(valid_request(), "Content-Length", {"0"})),
                     default_settings(), at_example_time);
  CHECK(empty_body.accepted());
}

TEST_CASE("accept_request: a missing or repeated Host gets 400", "[accept]") {
  auto missing = accept_request(handshake_request(with(valid_request(), "Host", {})),
                                default_settings(), at_example_time);
  check_refusal(missing, 400, "missing Host header");
  CHECK(failure_of<invalid_header>(missing) == "missing Host header");
  auto twice = accept_request(handshake_request(with(valid_request(), "Host", {"a", "b"})),
                              default_settings(), at_example_time);
  check_refusal(twice, 400, "invalid Host header: \"more than one Host header found\"");
}

TEST_CASE("accept_request: no WebSocket upgrade gets 426 with Upgrade", "[accept]") {
  for (auto [name, values] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"Upgrade", {}},
           {"Upgrade", {"h2c"}},
           {"Connection", {}},
           {"Connection", {"keep-alive"}}}) {
    INFO(name << " " << values.size());
    auto result = accept_request(handshake_request(with(valid_request(), name, values)),
                                 default_settings(), at_example_time);
    const std::string what = failure_of<invalid_upgrade>(result);
    const auto r = check_refusal(result, 426, what);
    CHECK(r.headers.get("Upgrade") == "websocket");
    CHECK_THAT(r.body, Catch::EndsWith("\nThis address serves WebSocket connections: use a "
                                       "WebSocket client.\n"));
  }
}

TEST_CASE("accept_request: a bad Sec-WebSocket-Key gets 400", "[accept]") {
  const std::string key = "Sec-WebSocket-Key";
  auto missing = accept_request(handshake_request(with(valid_request(), key, {})),
                                default_settings(), at_example_time);
  check_refusal(missing, 400, "missing Sec-WebSocket-Key header");
  CHECK(failure_of<invalid_header>(missing) == "missing Sec-WebSocket-Key header");
  auto bad = accept_request(handshake_request(with(valid_request(), key, {"dGhl"})),
                            default_settings(), at_example_time);
  check_refusal(bad, 400, "invalid Sec-WebSocket-Key header: \"dGhl\"");
  CHECK(failure_of<invalid_header_value>(bad) == "invalid Sec-WebSocket-Key header: \"dGhl\"");
}

TEST_CASE("accept_request: another WebSocket version gets 426 with Sec-WebSocket-Version: 13",
          "[accept]") {
  const std::string version = "Sec-WebSocket-Version";
  auto result = accept_request(handshake_request(with(valid_request(), version, {"8"})),
                               default_settings(), at_example_time);
  const auto r = check_refusal(result, 426, "invalid Sec-WebSocket-Version header: \"8\"");
  CHECK(r.headers.get(version) == "13");
  CHECK_FALSE(r.headers.contains("Upgrade"));
  CHECK_THAT(r.body, Catch::EndsWith("\nThis server speaks WebSocket version 13.\n"));
  CHECK(failure_of<invalid_header_value>(result) == "invalid Sec-WebSocket-Version header: \"8\"");
  // A missing version is a malformed request, not another version.
  auto missing = accept_request(handshake_request(with(valid_request(), version, {})),
                                default_settings(), at_example_time);
  const auto m = check_refusal(missing, 400, "missing Sec-WebSocket-Version header");
  CHECK_FALSE(m.headers.contains(version));
}

TEST_CASE("accept_request: an Origin that origins doesn't list gets 403", "[accept]") {
  const std::vector<std::optional<std::string>> origins{"https://example.com", std::nullopt};
  accept_settings settings = default_settings();
  settings.origins = origins;
  auto request_from = [](std::vector<std::string> origin) {
    return handshake_request(with(valid_request(), "Origin", std::move(origin)));
  };
  CHECK(
      accept_request(request_from({"https://example.com"}), settings, at_example_time).accepted());
  CHECK(accept_request(request_from({}), settings, at_example_time).accepted());

  auto other = accept_request(request_from({"https://evil.example"}), settings, at_example_time);
  check_refusal(other, 403, "invalid Origin header: \"https://evil.example\"");
  CHECK(failure_of<invalid_origin>(other) == "invalid Origin header: \"https://evil.example\"");
  // Origins are compared exactly, case included.
  CHECK(sent(accept_request(request_from({"https://EXAMPLE.com"}), settings, at_example_time))
            .status_code == 403);
  auto twice = accept_request(request_from({"https://example.com", "https://example.com"}),
                              settings, at_example_time);
  check_refusal(twice, 400, "invalid Origin header: \"more than one Origin header found\"");
  failure_of<invalid_header>(twice);

  const std::vector<std::optional<std::string>> only_example{"https://example.com"};
  settings.origins = only_example;
  auto none = accept_request(request_from({}), settings, at_example_time);
  check_refusal(none, 403, "missing Origin header");
  // No list: any Origin.
  settings.origins = std::nullopt;
  CHECK(
      accept_request(request_from({"https://evil.example"}), settings, at_example_time).accepted());
}

TEST_CASE("accept_request: permessage-deflate is negotiated with the library's defaults",
          "[accept]") {
  auto offer = [](std::string value) {
    return handshake_request(with(valid_request(), "Sec-WebSocket-Extensions", {std::move(value)}));
  };
  auto result = accept_request(offer("permessage-deflate; client_max_window_bits"),
                               default_settings(), at_example_time);
  REQUIRE(result.accepted());
  CHECK(sent(result).headers.get("Sec-WebSocket-Extensions") ==
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
  REQUIRE(result.handshake.extensions.size() == 1);
  CHECK(result.handshake.extensions[0]->name() == "permessage-deflate");

  // An offer the factory declines gives way to the next one; a second
  // permessage-deflate can't share RSV1 with the first.
  result = accept_request(
      offer("permessage-deflate; unknown=1, permessage-deflate; server_max_window_bits=10, "
            "permessage-deflate"),
      default_settings(), at_example_time);
  REQUIRE(result.accepted());
  CHECK(sent(result).headers.get("Sec-WebSocket-Extensions") ==
        "permessage-deflate; server_max_window_bits=10");
  CHECK(result.handshake.extensions.size() == 1);

  // Unknown extensions are declined, and so is everything without deflate.
  result = accept_request(offer("x-webkit-deflate-frame"), default_settings(), at_example_time);
  REQUIRE(result.accepted());
  CHECK_FALSE(sent(result).headers.contains("Sec-WebSocket-Extensions"));
  CHECK(result.handshake.extensions.empty());
  server_options no_compression{.compression = compression::none};
  result = accept_request(offer("permessage-deflate"), accept_settings_of(no_compression),
                          at_example_time);
  REQUIRE(result.accepted());
  CHECK_FALSE(sent(result).headers.contains("Sec-WebSocket-Extensions"));
  CHECK(result.handshake.extensions.empty());

  // A malformed header is a malformed request.
  result = accept_request(offer("permessage-deflate;;"), default_settings(), at_example_time);
  CHECK(sent(result).status_code == 400);
  failure_of<invalid_header_format>(result);
}

TEST_CASE("accept_request: the settings' extension factories come first", "[accept]") {
  server_options options;
  options.extensions = {std::make_shared<server_permessage_deflate>(
      server_deflate_options{.server_no_context_takeover = true, .server_max_window_bits = 9})};
  auto result =
      accept_request(handshake_request(with(valid_request(), "Sec-WebSocket-Extensions",
                                            {"permessage-deflate", "permessage-deflate"})),
                     accept_settings_of(options), at_example_time);
  REQUIRE(result.accepted());
  CHECK(sent(result).headers.get("Sec-WebSocket-Extensions") ==
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9");
  REQUIRE(result.handshake.extensions.size() == 1);
  const auto& settings =
      dynamic_cast<const permessage_deflate&>(*result.handshake.extensions[0]).settings();
  CHECK(settings.local_no_context_takeover);
  CHECK(settings.local_max_window_bits == 9);
}

TEST_CASE("accept_request: the subprotocol is chosen by rank or by select_subprotocol",
          "[accept]") {
  const std::vector<std::string> ours{"chat", "superchat"};
  auto offering = [](std::vector<std::string> values) {
    return handshake_request(with(valid_request(), "Sec-WebSocket-Protocol", std::move(values)));
  };
  accept_settings settings = default_settings();
  settings.subprotocols = ours;
  // superchat: 0 + 1; chat: 1 + 0; a tie goes to the client's first.
  auto result = accept_request(offering({"superchat, chat"}), settings, at_example_time);
  REQUIRE(result.accepted());
  CHECK(sent(result).headers.get("Sec-WebSocket-Protocol") == "superchat");
  CHECK(result.handshake.subprotocol == "superchat");
  result = accept_request(offering({"other", "chat"}), settings, at_example_time);
  CHECK(result.handshake.subprotocol == "chat");
  result = accept_request(offering({"other"}), settings, at_example_time);
  REQUIRE(result.accepted());
  CHECK(result.handshake.subprotocol == std::nullopt);
  CHECK_FALSE(sent(result).headers.contains("Sec-WebSocket-Protocol"));
  // A server without subprotocols picks none.
  CHECK(accept_request(offering({"chat"}), default_settings(), at_example_time)
            .handshake.subprotocol == std::nullopt);

  std::vector<std::string> seen;
  settings.select_subprotocol = [&](std::span<const std::string> client,
                                    std::span<const std::string> server) {
    seen.assign(client.begin(), client.end());
    CHECK(std::vector<std::string>(server.begin(), server.end()) ==
          std::vector<std::string>{"chat", "superchat"});
    return std::optional<std::string>(client.back());
  };
  result = accept_request(offering({"superchat", "chat"}), settings, at_example_time);
  CHECK(seen == std::vector<std::string>{"superchat", "chat"});
  CHECK(result.handshake.subprotocol == "chat");
  CHECK(sent(result).headers.get("Sec-WebSocket-Protocol") == "chat");

  settings.select_subprotocol = [](auto, auto) { return std::optional<std::string>("mine"); };
  result = accept_request(offering({"chat"}), settings, at_example_time);
  CHECK(sent(result).status_code == 500);
  CHECK(failure_of<std::logic_error>(result) ==
        "select_subprotocol returned \"mine\", which the client didn't offer");
  settings.select_subprotocol = [](auto, auto) -> std::optional<std::string> {
    throw std::runtime_error("no luck");
  };
  result = accept_request(offering({"chat"}), settings, at_example_time);
  CHECK(sent(result).body == "Internal server error.\n");
  CHECK(failure_of<std::runtime_error>(result) == "no luck");
}

TEST_CASE("accept_request: extra_headers, a value or a function of the request", "[accept]") {
  server_options fixed{.extra_headers = {{"X-Served-By", "node-3"}, {"Date", "yesterday"}}};
  auto result = accept_request(handshake_request(), accept_settings_of(fixed), at_example_time);
  REQUIRE(result.accepted());
  auto r = sent(result);
  CHECK(r.headers.get("X-Served-By") == "node-3");
  CHECK(r.headers.get_all("Date") == std::vector<std::string_view>{"yesterday"});
  CHECK(result.handshake.response_headers == r.headers);

  server_options computed{.extra_headers = [](std::string_view path, const headers& request) {
    return headers{{"X-Path", std::string(path)},
                   {"X-Key", std::string(request["Sec-WebSocket-Key"])},
                   {"Server", "custom"}};
  }};
  result = accept_request(handshake_request(), accept_settings_of(computed), at_example_time);
  r = sent(result);
  CHECK(r.headers.get("X-Path") == "/chat?room=1");
  CHECK(r.headers.get("X-Key") == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(r.headers.get_all("Server") == std::vector<std::string_view>{"custom"});

  // Not for refusals.
  auto refused = accept_request(handshake_request(with(valid_request(), "Upgrade", {})),
                                accept_settings_of(fixed), at_example_time);
  CHECK_FALSE(sent(refused).headers.contains("X-Served-By"));

  // A header that can't be sent, or a function that throws: 500.
  server_options broken{.extra_headers = {{"X-Bad", "a\r\nb"}}};
  result = accept_request(handshake_request(), accept_settings_of(broken), at_example_time);
  r = sent(result);
  CHECK(r.status_code == 500);
  CHECK(r.body == "Internal server error.\n");
  CHECK(r.headers.get("Connection") == "close");
  failure_of<std::invalid_argument>(result);
  server_options throwing{.extra_headers = [](std::string_view, const headers&) -> headers {
    throw std::runtime_error("extra");
  }};
  result = accept_request(handshake_request(), accept_settings_of(throwing), at_example_time);
  CHECK(sent(result).status_code == 500);
  CHECK(failure_of<std::runtime_error>(result) == "extra");
}

TEST_CASE("accept_request: the Server header, on or off", "[accept]") {
  server_options named{.server_header = "demo/2"};
  CHECK(sent(accept_request(handshake_request(), accept_settings_of(named), at_example_time))
            .headers.get("Server") == "demo/2");
  server_options anonymous{.server_header = ""};
  const auto settings = accept_settings_of(anonymous);
  CHECK_FALSE(sent(accept_request(handshake_request(), settings, at_example_time))
                  .headers.contains("Server"));
  auto refused = accept_request(handshake_request(with(valid_request(), "Host", {})), settings,
                                at_example_time);
  check_refusal(refused, 400, "missing Host header", "");
  // accept_settings on its own sends none either.
  CHECK_FALSE(sent(accept_request(handshake_request(), accept_settings{}, at_example_time))
                  .headers.contains("Server"));
}

TEST_CASE("respond_instead: process_request's response, completed", "[accept]") {
  http_response unauthorized;
  unauthorized.status_code = 401;
  unauthorized.headers.add("WWW-Authenticate", "Basic realm=\"chat\"");
  unauthorized.body = "who?";
  auto result = respond_instead(unauthorized, default_settings(), at_example_time);
  auto r = sent(result);
  CHECK(r.status_code == 401);
  CHECK(r.body == "who?");
  CHECK(r.headers.get("WWW-Authenticate") == "Basic realm=\"chat\"");
  CHECK(r.headers.get("Content-Length") == "4");
  CHECK(r.headers.get("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.headers.get("Connection") == "close");
  CHECK(r.headers.get("Date") == example_date);
  CHECK(r.headers.get("Server") == default_user_agent);
  try {
    std::rethrow_exception(result.failure);
  } catch (const abort_handshake& e) {
    CHECK(e.status() == 401);
    CHECK(e.body() == "who?");
    CHECK(e.headers() == std::vector<std::pair<std::string, std::string>>{
                             {"WWW-Authenticate", "Basic realm=\"chat\""}});
  }

  // Its own fields stay; a 204 gets no Content-Length.
  http_response health;
  health.status_code = 204;
  health.headers.add("Connection", "keep-alive");
  health.headers.add("Date", "now");
  r = sent(respond_instead(health, default_settings(), at_example_time));
  CHECK(r.headers.get_all("Connection") == std::vector<std::string_view>{"keep-alive"});
  CHECK(r.headers.get_all("Date") == std::vector<std::string_view>{"now"});
  CHECK_FALSE(r.headers.contains("Content-Length"));
  CHECK_FALSE(r.headers.contains("Content-Type"));

  // A 101, or a response that can't be sent, is a 500.
  result = respond_instead(http_response{}, default_settings(), at_example_time);
  CHECK(sent(result).status_code == 500);
  CHECK(failure_of<std::invalid_argument>(result) == "process_request returned a 101 response");
  http_response broken;
  broken.status_code = 200;
  broken.headers.add("X-Bad", "a\nb");
  result = respond_instead(broken, default_settings(), at_example_time);
  CHECK(sent(result).status_code == 500);
  failure_of<std::invalid_argument>(result);
}

TEST_CASE("refuse: the response for each failure, or none", "[accept]") {
  auto result =
      refuse(std::make_exception_ptr(cancel_handshake()), default_settings(), at_example_time);
  CHECK_FALSE(result.response);
  CHECK(result.bytes.empty());
  failure_of<cancel_handshake>(result);
  result = refuse(
      std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::connection_reset))),
      default_settings(), at_example_time);
  CHECK_FALSE(result.response);
  CHECK(result.bytes.empty());

  result = refuse(std::make_exception_ptr(invalid_message("bad head")), default_settings(),
                  at_example_time);
  check_refusal(result, 400, "bad head");
  CHECK(failure_of<invalid_message>(result) == "bad head");

  result = refuse(std::make_exception_ptr(std::runtime_error("oops")), default_settings(),
                  at_example_time);
  auto r = sent(result);
  CHECK(r.status_code == 500);
  CHECK(r.body == "Internal server error.\n");
  CHECK(r.headers.get("Content-Length") == "23");

  result = refuse(std::make_exception_ptr(abort_handshake(418, {{"X-Tea", "yes"}}, "short")),
                  default_settings(), at_example_time);
  r = sent(result);
  CHECK(r.status_code == 418);
  CHECK(r.body == "short");
  CHECK(r.headers.get("X-Tea") == "yes");
  failure_of<abort_handshake>(result);
}

TEST_CASE("accept_settings_of: the handshake fields of server_options", "[accept]") {
  server_options options{.compression = compression::none,
                         .origins = {{"https://a.example"}},
                         .subprotocols = {"chat"},
                         .server_header = "x/1"};
  const accept_settings s = accept_settings_of(options);
  CHECK_FALSE(s.deflate);
  REQUIRE(s.origins);
  CHECK(s.origins->size() == 1);
  CHECK(s.origins->data() == options.origins->data());
  CHECK(s.subprotocols.data() == options.subprotocols.data());
  CHECK(s.server_header == "x/1");
  CHECK_FALSE(s.select_subprotocol);
  CHECK_FALSE(s.extra_headers);
  CHECK(accept_settings_of(server_options{}).deflate);
  CHECK_FALSE(accept_settings_of(server_options{}).origins);
}

// ---- The client's check of the response (client_check.hpp) -----------------

namespace {

constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";

http_response switching_protocols(headers h = valid_response()) {
  http_response r;
  r.headers = std::move(h);
  return r;
}

}  // namespace

TEST_CASE("check_handshake_response: a 101 that answers the key", "[client_check]") {
  const client_offer offer{.key = sample_key};
  auto h = check_handshake_response(switching_protocols(), offer);
  CHECK(h.response_headers == valid_response());
  CHECK(h.subprotocol == std::nullopt);
  CHECK(h.extensions.empty());

  CHECK_THROWS_AS(
      check_handshake_response(
          switching_protocols(with(valid_response(), "Sec-WebSocket-Accept", {"x"})), offer),
      invalid_header_value);
  CHECK_THROWS_AS(
      check_handshake_response(switching_protocols(with(valid_response(), "Upgrade", {})), offer),
      invalid_upgrade);
  const client_offer other_key{.key = "AAAAAAAAAAAAAAAAAAAAAA=="};
  CHECK_THROWS_AS(check_handshake_response(switching_protocols(), other_key), invalid_header_value);
}

TEST_CASE("check_handshake_response: another status is invalid_status_code", "[client_check]") {
  http_response refusal;
  refusal.status_code = 403;
  refusal.headers.add("Content-Length", "3");
  refusal.body = "no\n";
  try {
    check_handshake_response(refusal, client_offer{.key = sample_key});
    FAIL("no exception");
  } catch (const invalid_status_code& e) {
    CHECK(e.status_code() == 403);
    CHECK(e.headers() == std::vector<std::pair<std::string, std::string>>{{"Content-Length", "3"}});
    CHECK(e.body() == "no\n");
  }
}

TEST_CASE("check_handshake_response: extensions must answer an offer", "[client_check]") {
  const client_permessage_deflate deflate;
  const std::vector<const client_extension_factory*> factories{&deflate};
  const client_offer offer{.key = sample_key, .extensions = factories};
  auto answer = [](std::string value) {
    return switching_protocols(with(valid_response(), "Sec-WebSocket-Extensions", {value}));
  };
  auto h = check_handshake_response(
      answer("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"), offer);
  REQUIRE(h.extensions.size() == 1);
  const auto& s = dynamic_cast<const permessage_deflate&>(*h.extensions[0]).settings();
  CHECK(s.remote_max_window_bits == 12);
  CHECK(s.local_max_window_bits == 12);

  CHECK_THROWS_WITH(check_handshake_response(answer("x-unknown"), offer),
                    "the server accepted extension \"x-unknown\", which this client didn't offer");
  // The factory's own reason: a parameter the client can't accept.
  CHECK_THROWS_AS(
      check_handshake_response(answer("permessage-deflate; server_max_window_bits=99"), offer),
      negotiation_error);
  const client_offer none{.key = sample_key};
  CHECK_THROWS_AS(check_handshake_response(answer("permessage-deflate"), none), negotiation_error);
}

TEST_CASE("check_handshake_response: the subprotocol must be one offered", "[client_check]") {
  const std::vector<std::string> offered{"chat", "superchat"};
  const client_offer offer{.key = sample_key, .subprotocols = offered};
  auto chosen = [](std::vector<std::string> values) {
    return switching_protocols(with(valid_response(), "Sec-WebSocket-Protocol", std::move(values)));
  };
  CHECK(check_handshake_response(chosen({"superchat"}), offer).subprotocol == "superchat");
  CHECK_THROWS_WITH(check_handshake_response(chosen({"other"}), offer),
                    "the server chose subprotocol \"other\", which this client didn't offer");
  CHECK_THROWS_AS(check_handshake_response(chosen({"other"}), offer), negotiation_error);
  CHECK_THROWS_AS(check_handshake_response(chosen({"chat, superchat"}), offer), invalid_header);
  CHECK_THROWS_AS(check_handshake_response(chosen({"chat", "chat"}), offer), invalid_header);
}
