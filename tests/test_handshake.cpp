#include "websockets/handshake.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <typeinfo>

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
