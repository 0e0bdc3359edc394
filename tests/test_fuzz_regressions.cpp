// What the fuzz targets of tests/fuzz/ found, one test per finding, each
// reduced to the smallest input that shows it (the fuzzer's own input is in
// tests/fuzz/regressions/<target>/).
//
// A finding whose fix belongs to another module is tagged [!shouldfail]
// until that fix lands: the test then passes while the bug is there, and
// fails once it is fixed, which is the signal to drop the tag.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "websockets/exceptions.hpp"
#include "websockets/http.hpp"
#include "websockets/protocol.hpp"

using namespace websockets;

namespace {

// A masked ping carrying "Hello", as RFC 6455 section 5.7 shows it.
constexpr std::string_view masked_ping_hello("\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);

}  // namespace

// fuzz_protocol_server and fuzz_protocol_client_deflate,
// regressions/*/events-after-transport-closed: transport_closed(), then
// bytes, then next_event() reported a ping (or a message) parsed from them,
// though next_event() is documented to return false once the connection is
// closed. Bytes left in the buffer when the transport closes are parsed the
// same way, after reset_message() has dropped the frame they belonged to.
// The I/O layer (detail::connection_core) never calls next_event() after
// terminate(), so no user sees it today.
TEST_CASE("protocol: no event once the transport is closed", "[fuzz][protocol]") {
  protocol p(role::server);
  p.transport_closed();
  p.receive_data(masked_ping_hello);
  event ev;
  CHECK_FALSE(p.next_event(ev));
  CHECK_FALSE(p.has_output());
  CHECK(p.state() == connection_state::closed);
}

// fuzz_http_request, regressions/fuzz_http_request/tab-in-request-target:
// llhttp (not in strict mode) lets HTAB and FF through in the request
// target, so the parser accepted "GET /chat<TAB>x HTTP/1.1" and handed the
// application a path with a control character, which serialize() refuses
// and RFC 9112 section 3.2 doesn't allow (a proxy may split the line there).
TEST_CASE("http: a request target with a tab or a form feed is refused", "[fuzz][http]") {
  for (const char* c : {"\t", "\f"}) {
    const std::string head = std::string("GET /chat") + c + "x HTTP/1.1\r\nHost: h\r\n\r\n";
    http_request_parser p;
    CHECK_THROWS_AS(p.feed(head), invalid_message);
  }
}

// The same, from the other side: whatever the parser accepts serializes.
TEST_CASE("http: every parsed request target can be sent again", "[fuzz][http]") {
  int parsed = 0;
  for (std::string_view target : {"/a\tb", "/a\fb", "/a\x01b",
                                  "/a\x7f"
                                  "b",
                                  "/chat?room=1"}) {
    INFO(target);
    http_request_parser p;
    try {
      p.feed("GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n\r\n");
    } catch (const invalid_message&) {
      continue;
    }
    REQUIRE(p.head_complete());
    ++parsed;
    CHECK_NOTHROW(serialize(p.message()));
  }
  CHECK(parsed == 1);  // only the last one
}
