#include "websockets/headers.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using namespace websockets;

namespace {

using strings = std::vector<std::string>;

// Runs `parse` on `value`, which must fail with invalid_header_format for
// `name` with `error` at `pos`.
template <class Parse>
void check_format_error(Parse parse, const std::string& value, const std::string& name,
                        const std::string& error, std::size_t pos) {
  INFO("value: \"" << value << "\"");
  try {
    parse(value);
    FAIL("no exception");
  } catch (const invalid_header_format& e) {
    CHECK(e.name() == name);
    CHECK(e.error() == error);
    CHECK(e.string() == value);
    CHECK(e.pos() == pos);
    CHECK_THAT(e.what(), Catch::Contains(name) && Catch::Contains(error) &&
                             Catch::Contains("at " + std::to_string(pos)));
  }
}

}  // namespace

TEST_CASE("headers: add, lookup without regard to case, raw order") {
  headers h;
  CHECK(h.empty());
  h.add("Host", "example.com");
  h.add(std::string("Sec-WebSocket-Protocol"), std::string("chat"));
  std::string_view name = "sec-websocket-protocol", value = "superchat";
  h.add(name, value);
  CHECK(h.size() == 3);
  CHECK(h["host"] == "example.com");
  CHECK(h["HOST"] == "example.com");
  CHECK(h.get("hOsT") == "example.com");
  CHECK(h.get("Origin") == std::nullopt);
  CHECK(h.get("Sec-WebSocket-Protocol") == "chat");  // the first of several
  CHECK(h.get_all("SEC-WEBSOCKET-PROTOCOL") == std::vector<std::string_view>{"chat", "superchat"});
  CHECK(h.get_all("Origin").empty());
  CHECK(h.contains("host"));
  CHECK_FALSE(h.contains("hos"));
  CHECK(h.count("sec-websocket-protocol") == 2);
  CHECK(h.count("Origin") == 0);

  auto raw = h.raw_items();
  REQUIRE(raw.size() == 3);
  CHECK(raw[0] == std::pair<std::string, std::string>{"Host", "example.com"});
  CHECK(raw[1] == std::pair<std::string, std::string>{"Sec-WebSocket-Protocol", "chat"});
  CHECK(raw[2] == std::pair<std::string, std::string>{"sec-websocket-protocol", "superchat"});
  std::vector<std::string> names;
  for (auto& [n, v] : h) names.push_back(n);
  CHECK(names == strings{"Host", "Sec-WebSocket-Protocol", "sec-websocket-protocol"});
}

TEST_CASE("headers: operator[] throws for a missing or repeated name") {
  headers h{{"A", "1"}, {"b", "2"}, {"B", "3"}};
  CHECK(h["a"] == "1");
  CHECK_THROWS_AS(h["c"], std::out_of_range);
  CHECK_THROWS_WITH(h["c"], Catch::Contains("no HTTP header named c"));
  try {
    (void)h["b"];
    FAIL("no exception");
  } catch (const multiple_values_error& e) {
    CHECK(e.name() == "b");
    CHECK_THAT(e.what(), Catch::Contains("b"));
  }
}

TEST_CASE("headers: erase, set, clear, equality") {
  headers h{{"A", "1"}, {"B", "2"}, {"a", "3"}, {"C", "4"}};
  CHECK(h.erase("A") == 2);
  CHECK(h.erase("A") == 0);
  CHECK(h == headers{{"B", "2"}, {"C", "4"}});
  h.set("b", "5");
  CHECK(h == headers{{"C", "4"}, {"b", "5"}});
  h.set("D", "6");
  CHECK(h["d"] == "6");
  h.set("d", h["d"]);  // a value taken from the field being replaced
  CHECK(h["D"] == "6");
  CHECK(h != headers{{"c", "4"}, {"b", "5"}, {"D", "6"}});  // case matters for equality
  h.clear();
  CHECK(h.empty());
  CHECK(h.size() == 0);

  std::vector<headers::value_type> fields{{"X", "1"}, {"Y", "2"}};
  headers adopted(fields);
  CHECK(adopted.raw_items().size() == 2);
  CHECK(adopted["y"] == "2");
}

TEST_CASE("check_header_name and check_header_value stop header injection") {
  CHECK_NOTHROW(check_header_name("Sec-WebSocket-Key"));
  CHECK_NOTHROW(check_header_name("!#$%&'*+-.^_`|~09azAZ"));
  for (const std::string& bad : strings{"", "A B", "A:", "A\r\nB", std::string("A\0", 2), "A\t",
                                        "\xc3\xa9", "A(", "A\"", "A,"}) {
    INFO("name: " << bad);
    CHECK_THROWS_AS(check_header_name(bad), std::invalid_argument);
  }
  CHECK_NOTHROW(check_header_value("X", ""));
  CHECK_NOTHROW(check_header_value("X", "a b\tc \"d\" \xc3\xa9 ~"));
  for (const std::string& bad : strings{"a\r\nInjected: yes", "a\nb", "a\rb",
                                        std::string("a\0b", 3), "a\x01", "a\x7f", "\x1b[31m"}) {
    INFO("value: " << bad);
    CHECK_THROWS_AS(check_header_value("X", bad), std::invalid_argument);
  }
  // The message shows control characters escaped, not raw.
  CHECK_THROWS_WITH(check_header_value("X-Y", "a\r\nInjected: yes"),
                    "invalid character at 1 in the value of HTTP header \"X-Y\": "
                    "\"a\\x0D\\x0AInjected: yes\"");
}

TEST_CASE("parse_connection") {
  CHECK(parse_connection("Upgrade") == strings{"Upgrade"});
  CHECK(parse_connection("keep-alive, Upgrade") == strings{"keep-alive", "Upgrade"});
  CHECK(parse_connection("Upgrade,keep-alive") == strings{"Upgrade", "keep-alive"});
  // Empty elements and whitespace around commas are ignored (RFC 7230 section 7).
  CHECK(parse_connection(",, Upgrade ,\t,keep-alive,") == strings{"Upgrade", "keep-alive"});
  CHECK(parse_connection(" \tUpgrade \t") == strings{"Upgrade"});
  auto parse = [](std::string_view s) { return parse_connection(s); };
  check_format_error(parse, "", "Connection", "expected token", 0);
  check_format_error(parse, ",", "Connection", "expected token", 1);
  check_format_error(parse, ", ,", "Connection", "expected token", 3);
  check_format_error(parse, "Upgrade ;", "Connection", "expected comma", 8);
  check_format_error(parse, "Upgrade keep-alive", "Connection", "expected comma", 8);
  check_format_error(parse, "Up\"grade", "Connection", "expected comma", 2);
  check_format_error(parse, "Upgrade, \"x\"", "Connection", "expected token", 9);
}

TEST_CASE("parse_upgrade") {
  CHECK(parse_upgrade("websocket") == strings{"websocket"});
  CHECK(parse_upgrade("WebSocket") == strings{"WebSocket"});
  CHECK(parse_upgrade("HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11") ==
        strings{"HTTP/2.0", "SHTTP/1.3", "IRC/6.9", "RTA/x11"});
  CHECK(parse_upgrade(", h2c ,, websocket") == strings{"h2c", "websocket"});
  auto parse = [](std::string_view s) { return parse_upgrade(s); };
  check_format_error(parse, "", "Upgrade", "expected protocol", 0);
  check_format_error(parse, ",", "Upgrade", "expected protocol", 1);
  check_format_error(parse, "/1", "Upgrade", "expected protocol", 0);
  check_format_error(parse, "websocket/", "Upgrade", "expected protocol version", 10);
  check_format_error(parse, "websocket/1/2", "Upgrade", "expected comma", 11);
  check_format_error(parse, "web socket", "Upgrade", "expected comma", 4);
}

TEST_CASE("parse_extension_list") {
  CHECK(parse_extension_list("foo") == std::vector<extension_header>{{"foo", {}}});
  CHECK(parse_extension_list("foo, bar") ==
        std::vector<extension_header>{{"foo", {}}, {"bar", {}}});
  CHECK(
      parse_extension_list(
          "foo; name; token=token; quoted-string=\"quoted-string\", bar; quux; quuux") ==
      std::vector<extension_header>{
          {"foo", {{"name", std::nullopt}, {"token", "token"}, {"quoted-string", "quoted-string"}}},
          {"bar", {{"quux", std::nullopt}, {"quuux", std::nullopt}}}});
  CHECK(parse_extension_list(",foo,  ,bar,") ==
        std::vector<extension_header>{{"foo", {}}, {"bar", {}}});
  CHECK(parse_extension_list("permessage-deflate; client_max_window_bits ; "
                             "server_max_window_bits = 10") ==
        std::vector<extension_header>{
            {"permessage-deflate",
             {{"client_max_window_bits", std::nullopt}, {"server_max_window_bits", "10"}}}});
  // An escaped character in a quoted value is unescaped.
  CHECK(parse_extension_list("foo; bar=\"b\\az\"") ==
        std::vector<extension_header>{{"foo", {{"bar", "baz"}}}});
  // Repeated parameters are kept for the extension to judge.
  CHECK(parse_extension_list("foo; a=1; a=2")[0].params.size() == 2);

  auto parse = [](std::string_view s) { return parse_extension_list(s); };
  const std::string name = "Sec-WebSocket-Extensions";
  check_format_error(parse, "", name, "expected token", 0);
  check_format_error(parse, ",\t,", name, "expected token", 3);
  check_format_error(parse, "foo;", name, "expected token", 4);
  check_format_error(parse, "foo; =", name, "expected token", 5);
  check_format_error(parse, "foo; bar=", name, "expected token", 9);
  check_format_error(parse, "foo; bar=?", name, "expected token", 9);
  check_format_error(parse, "foo bar", name, "expected comma", 4);
  check_format_error(parse, "foo; bar=\"baz", name, "expected quoted string", 9);
  check_format_error(parse, "foo; bar=\"baz\\", name, "expected quoted string", 9);
  check_format_error(parse, "foo; bar=\"a\x01\"", name, "expected quoted string", 9);
  // RFC 6455 section 9.1: a quoted value must unquote to a token.
  check_format_error(parse, "foo; bar=\"\"", name, "invalid quoted header content", 9);
  check_format_error(parse, "foo; bar=\"b z\"", name, "invalid quoted header content", 9);
  check_format_error(parse, "foo; bar=\"a,b\"", name, "invalid quoted header content", 9);
}

TEST_CASE("build_extension_list") {
  std::vector<extension_header> exts{
      {"permessage-deflate",
       {{"client_max_window_bits", std::nullopt}, {"server_max_window_bits", "10"}}},
      {"x-foo", {}}};
  std::string built = build_extension_list(exts);
  CHECK(built == "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo");
  CHECK(parse_extension_list(built) == exts);
  CHECK(build_extension_list({}) == "");
  // Anything but tokens could change the header's structure or inject lines.
  std::vector<std::vector<extension_header>> bad{{{"a, b", {}}},
                                                 {{"a", {{"b;c", std::nullopt}}}},
                                                 {{"a", {{"b", "1, evil"}}}},
                                                 {{"a", {{"b", "1\r\nX-Injected: 1"}}}},
                                                 {{"", {}}},
                                                 {{"a", {{"b", ""}}}}};
  for (auto& list : bad) CHECK_THROWS_AS(build_extension_list(list), std::invalid_argument);
}

TEST_CASE("parse_subprotocol_list and build_subprotocol_list") {
  CHECK(parse_subprotocol_list("chat") == strings{"chat"});
  CHECK(parse_subprotocol_list("chat, superchat") == strings{"chat", "superchat"});
  CHECK(parse_subprotocol_list(",chat,,\tsuperchat , ") == strings{"chat", "superchat"});
  auto parse = [](std::string_view s) { return parse_subprotocol_list(s); };
  check_format_error(parse, "", "Sec-WebSocket-Protocol", "expected token", 0);
  check_format_error(parse, "chat superchat", "Sec-WebSocket-Protocol", "expected comma", 5);
  check_format_error(parse, "chat/1", "Sec-WebSocket-Protocol", "expected comma", 4);

  strings protocols{"chat", "superchat", "v2.example.com"};
  CHECK(build_subprotocol_list(protocols) == "chat, superchat, v2.example.com");
  CHECK(parse_subprotocol_list(build_subprotocol_list(protocols)) == protocols);
  CHECK(build_subprotocol_list({}) == "");
  strings bad1{"chat, evil"}, bad2{"chat\r\nX: y"}, bad3{""};
  CHECK_THROWS_AS(build_subprotocol_list(bad1), std::invalid_argument);
  CHECK_THROWS_AS(build_subprotocol_list(bad2), std::invalid_argument);
  CHECK_THROWS_AS(build_subprotocol_list(bad3), std::invalid_argument);
}

TEST_CASE("Basic authentication headers") {
  CHECK(build_authorization_basic("Aladdin", "open sesame") ==
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(parse_authorization_basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") ==
        std::pair<std::string, std::string>{"Aladdin", "open sesame"});
  CHECK(parse_authorization_basic("basic dXNlcjpwYTpzcw==") ==
        std::pair<std::string, std::string>{"user", "pa:ss"});
  CHECK(parse_authorization_basic(build_authorization_basic("", "")) ==
        std::pair<std::string, std::string>{"", ""});
  CHECK_THROWS_AS(build_authorization_basic("a:b", "c"), std::invalid_argument);

  auto parse = [](std::string_view s) { return parse_authorization_basic(s); };
  check_format_error(parse, "", "Authorization", "expected token", 0);
  check_format_error(parse, "Basic", "Authorization", "expected space after scheme", 5);
  check_format_error(parse, "Basic !!", "Authorization", "expected token68", 6);
  check_format_error(parse, "Basic dXNlcjpwYXNz x", "Authorization", "expected end of string", 18);
  check_format_error(parse, "Basic =", "Authorization", "expected token68", 6);
  auto check_value = [](const std::string& s, const std::string& what) {
    INFO(s);
    try {
      parse_authorization_basic(s);
      FAIL("no exception");
    } catch (const invalid_header_value& e) {
      CHECK(e.name() == "Authorization");
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  check_value("Bearer abc", "unsupported scheme: Bearer");
  check_value("Basic dXNlcg==", "expected username:password credentials");
  check_value("Basic dXNlcjpwYXN", "expected base64-encoded credentials");
  check_value("Basic dXNlcjpwYXN=", "expected base64-encoded credentials");

  CHECK(build_www_authenticate_basic("Protected \"area\"") ==
        "Basic realm=\"Protected \\\"area\\\"\", charset=\"UTF-8\"");
  CHECK_THROWS_AS(build_www_authenticate_basic("a\r\nb"), std::invalid_argument);
}

TEST_CASE("printable escapes what a peer sent") {
  using websockets::detail::printable;
  CHECK(printable("abc") == "\"abc\"");
  CHECK(printable("a\r\n\"\\\xff") == "\"a\\x0D\\x0A\\x22\\x5C\\xFF\"");
  CHECK(printable(std::string(300, 'x')).size() == 200 + 5);
}

TEST_CASE("the header parsers survive random input") {
  // Only invalid_header_format comes out, and what parses builds back.
  std::mt19937 rng(7);
  const std::string alphabet = "ab=;,\" \t\\/\x01\xc3";
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 16, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    try {
      auto list = parse_extension_list(s);
      CHECK(parse_extension_list(build_extension_list(list)) == list);
      ++parsed;
    } catch (const invalid_header_format& e) {
      CHECK(e.pos() <= s.size());
    }
    try {
      auto list = parse_upgrade(s);
      CHECK_FALSE(list.empty());
    } catch (const invalid_header_format& e) {
      CHECK(e.pos() <= s.size());
    }
  }
  CHECK(parsed > 100);
}
