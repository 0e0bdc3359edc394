#include "websockets/uri.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <utility>

using websockets::invalid_uri;
using websockets::parse_uri;
using websockets::websocket_uri;

namespace {

using user_info = std::optional<std::pair<std::string, std::string>>;

websocket_uri make(bool secure, std::string host, std::uint16_t port, std::string resource,
                   user_info info = std::nullopt) {
  return {secure, std::move(host), port, std::move(resource), std::move(info)};
}

std::pair<std::string, std::string> creds(std::string user, std::string password) {
  return {std::move(user), std::move(password)};
}

// Asserts that parse_uri(uri) throws invalid_uri with `why` in its message.
void check_invalid(const std::string& uri, const std::string& why) {
  INFO("uri: " << uri);
  try {
    parse_uri(uri);
    FAIL("no exception");
  } catch (const invalid_uri& e) {
    CHECK_THAT(e.what(), Catch::Contains(why));
    CHECK(e.uri() == uri);
  }
}

}  // namespace

TEST_CASE("parse_uri accepts the reference's valid URIs") {
  CHECK(parse_uri("ws://localhost/") == make(false, "localhost", 80, "/"));
  CHECK(parse_uri("wss://localhost/") == make(true, "localhost", 443, "/"));
  CHECK(parse_uri("ws://localhost") == make(false, "localhost", 80, "/"));
  CHECK(parse_uri("ws://localhost/path?query") == make(false, "localhost", 80, "/path?query"));
  CHECK(parse_uri("ws://localhost/path;params") == make(false, "localhost", 80, "/path;params"));
  CHECK(parse_uri("WS://LOCALHOST/PATH?QUERY") == make(false, "localhost", 80, "/PATH?QUERY"));
  CHECK(parse_uri("ws://user:pass@localhost/") ==
        make(false, "localhost", 80, "/", creds("user", "pass")));
  CHECK(parse_uri("ws://h\xc3\xb8st/") == make(false, "xn--hst-0na", 80, "/"));
}

TEST_CASE("parse_uri: scheme, ports and resource names") {
  CHECK(parse_uri("Wss://example.com:8443/chat").secure);
  CHECK(parse_uri("wSs://example.com:8443/chat").port == 8443);
  CHECK(parse_uri("ws://example.com:80/").port == 80);
  CHECK(parse_uri("wss://example.com:80/").port == 80);
  CHECK(parse_uri("ws://example.com:443/").port == 443);
  CHECK(parse_uri("ws://example.com:1/").port == 1);
  CHECK(parse_uri("ws://example.com:65535/").port == 65535);
  CHECK(parse_uri("ws://example.com:00080/").port == 80);
  // An empty port means the default (RFC 3986 section 3.2.3).
  CHECK(parse_uri("wss://example.com:/").port == 443);
  CHECK(parse_uri("ws://example.com?x=1").resource_name == "/?x=1");
  CHECK(parse_uri("ws://example.com/?").resource_name == "/");
  CHECK(parse_uri("ws://example.com/a/b/?x=1&y=2?z").resource_name == "/a/b/?x=1&y=2?z");
  CHECK(parse_uri("ws://example.com/a%20b").resource_name == "/a%20b");
  CHECK(parse_uri("ws://example.com/@:!$&'()*+,;=-._~").resource_name == "/@:!$&'()*+,;=-._~");
  CHECK(parse_uri("ws://example.com/a").user_info == std::nullopt);
}

TEST_CASE("parse_uri: hosts") {
  CHECK(parse_uri("ws://127.0.0.1:9000/").host == "127.0.0.1");
  CHECK(parse_uri("ws://Example.COM/").host == "example.com");
  CHECK(parse_uri("ws://[::1]/") == make(false, "::1", 80, "/"));
  CHECK(parse_uri("ws://[::1]:8080/x") == make(false, "::1", 8080, "/x"));
  CHECK(parse_uri("ws://[2001:DB8::A]/").host == "2001:db8::a");
  CHECK(parse_uri("ws://[1:2:3:4:5:6:7:8]/").host == "1:2:3:4:5:6:7:8");
  CHECK(parse_uri("ws://[::ffff:192.0.2.1]/").host == "::ffff:192.0.2.1");
  CHECK(parse_uri("ws://[1::]/").host == "1::");
  CHECK(parse_uri("ws://[::]/").host == "::");
  CHECK(parse_uri("ws://[fe80::1%25eth0]:9/").host == "fe80::1%eth0");
  CHECK(parse_uri("ws://a_b.example/").host == "a_b.example");
}

TEST_CASE("parse_uri converts an IRI to a URI") {
  // Host labels with non-ASCII characters become Punycode.
  CHECK(parse_uri("ws://b\xc3\xbc"
                  "cher.example/")
            .host == "xn--bcher-kva.example");
  CHECK(parse_uri("ws://\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/").host ==
        "xn--r8jz45g.xn--zckzah");
  // The ideographic full stop separates labels too.
  CHECK(parse_uri("ws://h\xc3\xb8st\xe3\x80\x82"
                  "example/")
            .host == "xn--hst-0na.example");
  CHECK(parse_uri("ws://H\xc3\xb8ST.Example/").host == "xn--hst-0na.example");
  // Path and query are percent-encoded as UTF-8, escapes kept as they are.
  CHECK(parse_uri("ws://h/\xcf\x80"
                  "ass?q\xc3\xb9\xc3\xa9ry")
            .resource_name == "/%CF%80ass?q%C3%B9%C3%A9ry");
  CHECK(parse_uri("ws://h/%41\xc3\xa9").resource_name == "/%41%C3%A9");
  // ASCII that RFC 3986 doesn't allow in a path is escaped as well.
  CHECK(parse_uri("ws://h/a|b{c}\"<>^`\\[]").resource_name ==
        "/a%7Cb%7Bc%7D%22%3C%3E%5E%60%5C%5B%5D");
  // User info is percent-decoded; raw non-ASCII stays UTF-8.
  CHECK(parse_uri("ws://%C3%BCser:p%40ss%3A@h/").user_info == creds("\xc3\xbcser", "p@ss:"));
  CHECK(parse_uri("ws://\xc3\xbcser:p\xc3\xa5ss@h/").user_info ==
        creds("\xc3\xbcser", "p\xc3\xa5ss"));
  CHECK(parse_uri("ws://user:@h/").user_info == creds("user", ""));
  CHECK(parse_uri("ws://:pw@h/").user_info == creds("", "pw"));
  // The last '@' ends the user info.
  CHECK(parse_uri("ws://u:p@ss@h/").user_info == creds("u", "p@ss"));
}

TEST_CASE("parse_uri rejects invalid URIs and says why") {
  check_invalid("http://localhost/", "scheme isn't ws or wss");
  check_invalid("https://localhost/", "scheme isn't ws or wss");
  check_invalid("wsx://localhost/", "scheme isn't ws or wss");
  check_invalid("localhost", "scheme isn't ws or wss");
  check_invalid("", "scheme isn't ws or wss");
  check_invalid("ws://localhost/path#fragment", "fragment not allowed");
  check_invalid("ws://localhost/#", "fragment not allowed");
  check_invalid("ws://user@localhost/", "username provided without password");
  check_invalid("ws:///path", "empty host");
  check_invalid("ws://", "empty host");
  check_invalid("ws://:80/", "empty host");
  check_invalid("ws://u:p@/", "empty host");
  check_invalid("ws:localhost", "host isn't provided");
  check_invalid("ws:/localhost", "host isn't provided");
  check_invalid("ws://localhost:99999/", "invalid port 99999");
  check_invalid("ws://localhost:65536/", "invalid port 65536");
  check_invalid("ws://localhost:0/", "invalid port 0");
  check_invalid("ws://localhost:123456789012345678901234567890/", "invalid port 1234567890");
  check_invalid("ws://localhost:8o/", "invalid port 8o");
  check_invalid("ws://localhost:-1/", "invalid port -1");
  check_invalid("ws://local host/", "space or control character at position 10");
  check_invalid(" ws://localhost/", "space or control character at position 0");
  check_invalid("ws://localhost/\r\nX: y", "space or control character at position 15");
  // what() is a C string: the NUL cuts the message, but the type is right.
  CHECK_THROWS_AS(parse_uri(std::string("ws://localhost/\0", 16)), invalid_uri);
  check_invalid("ws://localhost/\x7f", "space or control character at position 15");
  check_invalid("ws://localhost/%", "bad percent-escape at position 15");
  check_invalid("ws://localhost/%4", "bad percent-escape at position 15");
  check_invalid("ws://localhost/a%zz", "bad percent-escape at position 16");
  check_invalid("ws://localhost/?q=%G0", "bad percent-escape at position 18");
  check_invalid("ws://u:%X@localhost/", "bad percent-escape at position 7");
  check_invalid("ws://%3A:p@localhost/", "username contains ':'");
  check_invalid("ws://u<:p@localhost/", "invalid character in user info at position 6");
  check_invalid("ws://local%41host/", "invalid character '%' in host at position 10");
  check_invalid("ws://a<b/", "invalid character '<' in host at position 6");
  check_invalid("ws://[::1/", "missing ']' after IPv6 address");
  check_invalid("ws://[::1]x/", "unexpected character after IPv6 address at position 10");
  check_invalid("ws://[::1]:0/", "invalid port 0");
  check_invalid("ws://[]/", "invalid IPv6 address");
  check_invalid("ws://[1:2:3:4:5:6:7]/", "invalid IPv6 address");
  check_invalid("ws://[1:2:3:4:5:6:7:8:9]/", "invalid IPv6 address");
  check_invalid("ws://[1::2::3]/", "invalid IPv6 address");
  check_invalid("ws://[12345::]/", "invalid IPv6 address");
  check_invalid("ws://[:1]/", "invalid IPv6 address");
  check_invalid("ws://[1:]/", "invalid IPv6 address");
  check_invalid("ws://[::g]/", "invalid IPv6 address");
  check_invalid("ws://[::1.2.3]/", "invalid IPv6 address");
  check_invalid("ws://[::1.2.3.256]/", "invalid IPv6 address");
  check_invalid("ws://[::1.2.3.04]/", "invalid IPv6 address");
  check_invalid("ws://[1.2.3.4::]/", "invalid IPv6 address");
  check_invalid("ws://[v1.x]/", "invalid IPv6 address");
  check_invalid("ws://[127.0.0.1]/", "invalid IPv6 address");
  check_invalid("ws://[fe80::1%eth0]/", "invalid IPv6 zone");
  check_invalid("ws://[fe80::1%25]/", "invalid IPv6 zone");
  check_invalid("ws://[fe80::1%25a%2Fb]/", "invalid IPv6 zone");
  check_invalid("ws://h\xc3/", "invalid UTF-8 in host");
  check_invalid("ws://h\xc0\xaf/", "invalid UTF-8 in host");
  check_invalid("ws://\xed\xa0\x80/", "invalid UTF-8 in host");
  check_invalid("ws://" + std::string(60, 'a') + "\xc3\xa9/", "host label too long");
}

TEST_CASE("parse_uri: exact IPv6 group counts") {
  CHECK(parse_uri("ws://[1:2:3:4:5:6::8]/").host == "1:2:3:4:5:6::8");
  CHECK(parse_uri("ws://[1:2:3:4:5:6:1.2.3.4]/").host == "1:2:3:4:5:6:1.2.3.4");
  CHECK(parse_uri("ws://[::2:3:4:5:6:7:8]/").host == "::2:3:4:5:6:7:8");
  check_invalid("ws://[1:2:3:4:5:6:7:1.2.3.4]/", "invalid IPv6 address");
  check_invalid("ws://[::1:2:3:4:5:6:7:8]/", "invalid IPv6 address");
}

TEST_CASE("host_header and to_string") {
  using websockets::host_header;
  using websockets::to_string;
  CHECK(host_header(parse_uri("ws://example.com/")) == "example.com");
  CHECK(host_header(parse_uri("ws://example.com:80/")) == "example.com");
  CHECK(host_header(parse_uri("ws://example.com:443/")) == "example.com:443");
  CHECK(host_header(parse_uri("wss://example.com:443/")) == "example.com");
  CHECK(host_header(parse_uri("wss://example.com:80/")) == "example.com:80");
  CHECK(host_header(parse_uri("ws://[::1]/")) == "[::1]");
  CHECK(host_header(parse_uri("ws://[::1]:9000/")) == "[::1]:9000");
  CHECK(host_header(parse_uri("ws://[fe80::1%25eth0]:9000/")) == "[fe80::1]:9000");
  CHECK(to_string(parse_uri("WSS://u:p@Example.com:8443/a?b")) == "wss://example.com:8443/a?b");
  CHECK(to_string(parse_uri("ws://h")) == "ws://h/");
  CHECK(to_string(parse_uri("ws://[fe80::1%25eth0]:9/x")) == "ws://[fe80::1%25eth0]:9/x");
  CHECK(to_string(parse_uri("ws://[fe80::1%25eth0]/x")) == "ws://[fe80::1%25eth0]/x");
  // What to_string gives back parses to the same URI, minus the user info.
  for (const char* s : {"wss://example.com:8443/a?b", "ws://[::1]:1/%C3%A9", "ws://xn--hst-0na/"}) {
    CHECK(parse_uri(to_string(parse_uri(s))) == parse_uri(s));
  }
}

TEST_CASE("punycode of RFC 3492's samples") {
  using websockets::detail::uri::punycode_encode;
  // (A) Arabic (Egyptian), from RFC 3492 section 7.1.
  std::u32string arabic = {0x0644, 0x064A, 0x0647, 0x0645, 0x0627, 0x0628, 0x062A, 0x0643, 0x0644,
                           0x0645, 0x0648, 0x0634, 0x0639, 0x0631, 0x0628, 0x064A, 0x061F};
  CHECK(punycode_encode(arabic) == "egbpdaj6bu4bxfgehfvwxn");
  // (L) 3<nen>B<gumi><kinpachi><sensei>: mixed basic and non-basic.
  std::u32string mixed = {0x0033, 0x5E74, 0x0042, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F};
  CHECK(punycode_encode(mixed) == "3B-ww4c5e180e575a65lsy2b");
  // (S) all basic code points.
  std::u32string basic = U"-> $1.00 <-";
  CHECK(punycode_encode(basic) == "-> $1.00 <--");
}

TEST_CASE("parse_uri survives random input") {
  // Only invalid_uri comes out; what parses has a host, a port and a
  // resource name starting with '/', and survives to_string.
  std::mt19937 rng(11);
  const std::string alphabet = "ws:/[]@%25?#.:aZ9\xc3\xa9 -";
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = i % 2 ? "ws://" : "";
    for (std::size_t n = rng() % 20; n > 0; --n) s += alphabet[rng() % alphabet.size()];
    try {
      auto u = parse_uri(s);
      CHECK_FALSE(u.host.empty());
      CHECK(u.port != 0);
      CHECK(u.resource_name.starts_with('/'));
      auto again = parse_uri(websockets::to_string(u));
      CHECK(again.host == u.host);
      CHECK(again.resource_name == u.resource_name);
      ++parsed;
    } catch (const invalid_uri&) {
    }
  }
  CHECK(parsed > 100);
}
