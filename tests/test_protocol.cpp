// The sans-I/O connection state machine: events from bytes, bytes from
// calls, and every rule of RFC 6455 sections 5 to 7 it enforces.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "websockets/protocol.hpp"

using namespace websockets;

namespace {

const detail::mask_key test_key{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};

// The bytes of one frame as a peer in `from` role would send it.
std::string wire(role from, opcode op, std::string_view data, bool fin = true, bool rsv1 = false) {
  frame f;
  f.fin = fin;
  f.rsv1 = rsv1;
  f.op = op;
  f.data = std::string(data);
  return serialize_frame(f, from == role::client ? std::optional(test_key) : std::nullopt);
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

std::vector<event> drain(protocol& p) {
  std::vector<event> out;
  event ev;
  while (p.next_event(ev)) out.push_back(std::move(ev));
  return out;
}

// Every frame the protocol wants to send, parsed back.
std::vector<frame> sent_frames(protocol& p) {
  output_batch batch;
  p.take_output(batch);
  std::string bytes;
  for (auto piece : batch.pieces())
    bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  p.record_sent(batch.size());
  std::vector<frame> frames;
  std::size_t at = 0;
  while (at < bytes.size()) {
    frame f;
    const std::size_t n =
        parse_frame(std::as_bytes(std::span(bytes.data() + at, bytes.size() - at)), f);
    REQUIRE(n > 0);
    at += n;
    frames.push_back(std::move(f));
  }
  return frames;
}

std::pair<std::uint16_t, std::string> close_of(const frame& f) {
  REQUIRE(f.op == opcode::close);
  return parse_close(f.data);
}

// Expects the connection to have failed with `code`: a close frame with that
// code is the only output, and nothing else is reported.
void require_failed(protocol& p, std::uint16_t code) {
  INFO("failure: " << p.failure());
  REQUIRE_FALSE(p.failure().empty());
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  REQUIRE(close_of(frames[0]).first == code);
  REQUIRE(p.close_sent());
  REQUIRE(p.close_sent()->code == code);
  REQUIRE(p.state() == connection_state::closing);
}

}  // namespace

TEST_CASE("a server receives a masked text message", "[protocol]") {
  protocol p(role::server);
  p.receive_data(wire(role::client, opcode::text, "Hello"));
  auto events = drain(p);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == event::kind::message);
  CHECK(events[0].op == opcode::text);
  CHECK(events[0].data == "Hello");
  CHECK_FALSE(p.has_output());
}

TEST_CASE("RFC 6455 5.7 examples are parsed byte for byte", "[protocol]") {
  SECTION("unmasked text to a client") {
    protocol p(role::client);
    p.receive_data(std::string("\x81\x05\x48\x65\x6c\x6c\x6f", 7));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "Hello");
  }
  SECTION("masked text to a server") {
    protocol p(role::server);
    p.receive_data(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "Hello");
  }
  SECTION("fragmented unmasked text") {
    protocol p(role::client);
    p.receive_data(std::string("\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", 9));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "Hello");
  }
  SECTION("unmasked ping answered by a masked pong") {
    protocol p(role::client);
    p.receive_data(std::string("\x89\x05\x48\x65\x6c\x6c\x6f", 7));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == event::kind::ping);
    CHECK(events[0].data == "Hello");
    auto frames = sent_frames(p);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].op == opcode::pong);
    CHECK(frames[0].data == "Hello");
  }
  SECTION("256 bytes and 64 KiB binary messages") {
    protocol p(role::client);
    std::string a(256, 'a'), b(65536, 'b');
    std::string bytes = std::string("\x82\x7e\x01\x00", 4) + a +
                        std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10) + b;
    p.receive_data(bytes);
    auto events = drain(p);
    REQUIRE(events.size() == 2);
    CHECK(events[0].op == opcode::binary);
    CHECK(events[0].data == a);
    CHECK(events[1].data == b);
  }
}

TEST_CASE("what each role sends is masked as the RFC says", "[protocol]") {
  for (role r : {role::client, role::server}) {
    protocol p(r);
    p.send_data(opcode::text, std::string_view("hi there"));
    output_batch batch;
    p.take_output(batch);
    REQUIRE(batch.pieces().size() == 1);
    auto bytes = batch.pieces()[0];
    const bool masked = (static_cast<unsigned>(bytes[1]) & 0x80) != 0;
    CHECK(masked == (r == role::client));
    frame f;
    REQUIRE(parse_frame(bytes, f) == bytes.size());
    CHECK(f.data == "hi there");
  }
}

TEST_CASE("fragments are reassembled, with control frames between them", "[protocol]") {
  protocol p(role::server);
  std::string bytes =
      wire(role::client, opcode::binary, "ab", false) + wire(role::client, opcode::ping, "p1") +
      wire(role::client, opcode::cont, "cd", false) + wire(role::client, opcode::pong, "q") +
      wire(role::client, opcode::cont, "ef", true);
  p.receive_data(bytes);
  auto events = drain(p);
  REQUIRE(events.size() == 3);
  CHECK(events[0].type == event::kind::ping);
  CHECK(events[1].type == event::kind::pong);
  CHECK(events[1].data == "q");
  CHECK(events[2].type == event::kind::message);
  CHECK(events[2].op == opcode::binary);
  CHECK(events[2].data == "abcdef");
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].op == opcode::pong);
  CHECK(frames[0].data == "p1");
}

TEST_CASE("protocol violations fail the connection with 1002", "[protocol]") {
  struct violation {
    const char* what;
    role side;
    std::string bytes;
  };
  std::vector<violation> cases = {
      {"unmasked frame to a server", role::server, wire(role::server, opcode::text, "x")},
      {"masked frame to a client", role::client, wire(role::client, opcode::text, "x")},
      {"RSV1 without an extension", role::server,
       wire(role::client, opcode::text, "x", true, true)},
      {"continuation without a message", role::server, wire(role::client, opcode::cont, "x")},
      {"text inside a fragmented message", role::server,
       wire(role::client, opcode::text, "a", false) + wire(role::client, opcode::text, "b")},
      {"fragmented ping", role::server, wire(role::client, opcode::ping, "x", false)},
      {"one-byte close payload", role::server, wire(role::client, opcode::close, "\x03")},
      {"close code 1005 on the wire", role::server,
       wire(role::client, opcode::close, close_payload(1005))},
      {"close code 999", role::server, wire(role::client, opcode::close, close_payload(999))},
      {"close code 2000", role::server, wire(role::client, opcode::close, close_payload(2000))},
  };
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    std::string b = wire(role::client, opcode::text, "x");
    b[0] = static_cast<char>(0x80 | op);
    cases.push_back({"reserved opcode", role::server, b});
  }
  {
    // A ping that declares 126 bytes.
    std::string b("\x89\xfe\x00\x7e", 4);
    b.append(4, '\0');
    b.append(126, 'x');
    cases.push_back({"control frame over 125 bytes", role::server, b});
  }
  for (auto& c : cases) {
    INFO(c.what);
    protocol p(c.side);
    p.receive_data(c.bytes);
    auto events = drain(p);
    CHECK(events.empty());
    require_failed(p, 1002);
    CHECK(p.should_close_transport() == (c.side == role::server));
    // Nothing more is processed or sent.
    p.receive_data(wire(c.side == role::server ? role::client : role::server, opcode::ping, "z"));
    CHECK(drain(p).empty());
    CHECK_FALSE(p.has_output());
    CHECK_THROWS_AS(p.send_data(opcode::text, std::string_view("late")), invalid_state);
  }
}

TEST_CASE("invalid UTF-8 fails with 1007, before the message ends", "[protocol]") {
  SECTION("in one frame") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::text, "ab\xc0\xafz"));
    CHECK(drain(p).empty());
    require_failed(p, 1007);
  }
  SECTION("fail fast inside a long frame") {
    protocol p(role::server);
    std::string payload = "valid so far \xed\xa0\x80";  // a surrogate
    payload.append(10000, 'x');
    std::string bytes = wire(role::client, opcode::text, payload);
    // Only the header and the first 20 payload bytes have arrived.
    p.receive_data(std::string_view(bytes).substr(0, 8 + 20));
    CHECK(drain(p).empty());
    require_failed(p, 1007);
  }
  SECTION("fail fast in the first fragment") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::text,
                        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", false));
    CHECK(drain(p).empty());
    require_failed(p, 1007);
  }
  SECTION("a message ending inside a code point") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::text, "abc\xe2\x82", false) +
                   wire(role::client, opcode::cont, "", true));
    CHECK(drain(p).empty());
    require_failed(p, 1007);
  }
  SECTION("a code point split across fragments is fine") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::text, "\xe2", false) +
                   wire(role::client, opcode::cont, "\x82", false) +
                   wire(role::client, opcode::cont, "\xac", true));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "\xe2\x82\xac");
  }
  SECTION("a close reason that isn't UTF-8") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::close, close_payload(1000, "\xff")));
    CHECK(drain(p).empty());
    require_failed(p, 1007);
  }
  SECTION("binary messages aren't checked") {
    protocol p(role::server);
    p.receive_data(wire(role::client, opcode::binary, "\xff\xfe"));
    REQUIRE(drain(p).size() == 1);
  }
}

TEST_CASE("max_size is enforced before buffering a payload", "[protocol]") {
  SECTION("a frame one byte over the limit, its header alone") {
    protocol p(role::server, 1000);
    std::string bytes = wire(role::client, opcode::binary, std::string(1001, 'x'));
    p.receive_data(std::string_view(bytes).substr(0, 8));
    CHECK(drain(p).empty());
    require_failed(p, 1009);
  }
  SECTION("exactly the limit is fine") {
    protocol p(role::server, 1000);
    p.receive_data(wire(role::client, opcode::binary, std::string(1000, 'x')));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data.size() == 1000);
  }
  SECTION("a header that declares 2^63 - 1 bytes allocates nothing") {
    protocol p(role::server, 1 << 20);
    p.receive_data(std::string("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00", 14));
    CHECK(drain(p).empty());
    require_failed(p, 1009);
  }
  SECTION("a length with its most significant bit set is a protocol error") {
    protocol p(role::server, std::nullopt);
    p.receive_data(std::string("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 14));
    CHECK(drain(p).empty());
    require_failed(p, 1002);
  }
  SECTION("fragments adding up to more than the limit") {
    protocol p(role::server, 1000);
    p.receive_data(wire(role::client, opcode::text, std::string(600, 'a'), false) +
                   wire(role::client, opcode::cont, std::string(401, 'b'), true));
    CHECK(drain(p).empty());
    require_failed(p, 1009);
  }
}

TEST_CASE("the closing handshake, started by the peer", "[protocol]") {
  for (role r : {role::server, role::client}) {
    INFO((r == role::server ? "server" : "client"));
    protocol p(r);
    const role peer = r == role::server ? role::client : role::server;
    p.receive_data(wire(peer, opcode::close, close_payload(1000, "bye")) +
                   wire(peer, opcode::text, "after close"));
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == event::kind::close);
    REQUIRE(p.close_rcvd());
    CHECK(p.close_rcvd()->code == 1000);
    CHECK(p.close_rcvd()->reason == "bye");
    CHECK(p.state() == connection_state::closing);
    auto frames = sent_frames(p);
    REQUIRE(frames.size() == 1);
    CHECK(close_of(frames[0]) == std::pair<std::uint16_t, std::string>{1000, "bye"});
    CHECK(p.close_rcvd_then_sent());
    // A server closes TCP first; a client waits for it.
    CHECK(p.should_close_transport() == (r == role::server));
    CHECK_THROWS_AS(p.send_data(opcode::text, std::string_view("x")), invalid_state);
    p.receive_eof();
    CHECK(drain(p).empty());
    CHECK(p.state() == connection_state::closed);
    CHECK(p.close_code() == 1000);
    CHECK_THROWS_AS(std::rethrow_exception(p.closed_exception()), connection_closed_ok);
  }
}

TEST_CASE("the closing handshake, started here", "[protocol]") {
  protocol p(role::client);
  p.send_data(opcode::text, std::string_view("last"));
  p.send_close(1001, "going");
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 2);
  CHECK(close_of(frames[1]) == std::pair<std::uint16_t, std::string>{1001, "going"});
  CHECK_THROWS_AS(p.send_close(), invalid_state);
  CHECK_THROWS_AS(p.send_data(opcode::binary, std::string_view("x")), invalid_state);
  // Messages still arrive until the peer's close frame.
  p.receive_data(wire(role::server, opcode::text, "late") +
                 wire(role::server, opcode::ping, "ping") +
                 wire(role::server, opcode::close, close_payload(1001)));
  auto events = drain(p);
  REQUIRE(events.size() == 3);
  CHECK(events[0].data == "late");
  CHECK(events[2].type == event::kind::close);
  // No pong after our close frame, and no second close frame.
  CHECK_FALSE(p.has_output());
  CHECK_FALSE(p.close_rcvd_then_sent());
  CHECK_FALSE(p.should_close_transport());  // the client waits for the server
  p.receive_eof();
  drain(p);
  CHECK(p.state() == connection_state::closed);
  CHECK_THROWS_AS(std::rethrow_exception(p.closed_exception()), connection_closed_ok);
}

TEST_CASE("an empty close frame is answered with an empty one", "[protocol]") {
  protocol p(role::server);
  p.receive_data(wire(role::client, opcode::close, ""));
  drain(p);
  REQUIRE(p.close_rcvd());
  CHECK(p.close_rcvd()->code == 1005);
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].data.empty());
}

TEST_CASE("an EOF without a close frame is an abnormal closure", "[protocol]") {
  protocol p(role::client);
  p.receive_data(wire(role::server, opcode::text, "partial", false));
  p.receive_eof();
  CHECK(drain(p).empty());
  CHECK(p.state() == connection_state::closed);
  CHECK(p.close_code() == 1006);
  try {
    std::rethrow_exception(p.closed_exception());
    FAIL("no exception");
  } catch (const connection_closed_error& e) {
    CHECK(e.code() == 1006);
    CHECK_FALSE(e.sent_code());
  }
}

TEST_CASE("sending checks the order of frames", "[protocol]") {
  protocol p(role::server);
  CHECK_THROWS_AS(p.send_data(opcode::cont, std::string_view("x")), protocol_error);
  p.send_data(opcode::text, std::string_view("a"), false);
  CHECK_THROWS_AS(p.send_data(opcode::binary, std::string_view("b")), protocol_error);
  p.send_ping(std::string_view("between"));
  p.send_data(opcode::cont, std::string_view("b"), true);
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 3);
  CHECK((frames[0].op == opcode::text && !frames[0].fin));
  CHECK(frames[1].op == opcode::ping);
  CHECK((frames[2].op == opcode::cont && frames[2].fin));
  CHECK_THROWS_AS(p.send_ping(std::string(126, 'x')), std::invalid_argument);
}

TEST_CASE("a server lends large payloads instead of copying them", "[protocol]") {
  std::string big(100000, 'z');
  SECTION("server") {
    protocol p(role::server);
    const std::uint64_t before = p.bytes_queued();
    CHECK(p.send_data(opcode::binary, std::string_view(big), true, true, true));
    CHECK(p.bytes_queued() - before == big.size() + 10);
    p.send_data(opcode::text, std::string_view("small"), true, true, true);
    output_batch batch;
    p.take_output(batch);
    REQUIRE(batch.pieces().size() == 3);
    CHECK(batch.pieces()[0].size() == 10);
    CHECK(reinterpret_cast<const char*>(batch.pieces()[1].data()) == big.data());
    CHECK(batch.pieces()[2].size() == 7);
    CHECK(batch.size() == big.size() + 17);
  }
  SECTION("a client masks, so it copies") {
    protocol p(role::client);
    CHECK_FALSE(p.send_data(opcode::binary, std::string_view(big), true, true, true));
    auto frames = sent_frames(p);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].data == big);
  }
}

TEST_CASE("failing the connection sends one close frame and then nothing", "[protocol]") {
  protocol p(role::client);
  p.fail(1011, "keepalive ping timeout");
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  CHECK(close_of(frames[0]) ==
        std::pair<std::uint16_t, std::string>{1011, "keepalive ping timeout"});
  CHECK_FALSE(p.should_close_transport());  // a client waits for the server
  p.fail(1002, "again");
  CHECK_FALSE(p.has_output());
  CHECK_THROWS_AS(p.send_ping(std::string_view("x")), invalid_state);
  try {
    std::rethrow_exception(p.closed_exception());
    FAIL("no exception");
  } catch (const connection_closed_error& e) {
    CHECK(e.code() == 1006);
    CHECK(e.sent_code() == 1011);
    CHECK(std::string(e.what()).find("keepalive ping timeout") != std::string::npos);
  }
}

TEST_CASE("a long failure reason is cut to fit a close frame", "[protocol]") {
  protocol p(role::server);
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // 200 bytes of 2-byte characters
  p.fail(1002, reason);
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  auto [code, sent_reason] = close_of(frames[0]);
  CHECK(code == 1002);
  CHECK(sent_reason.size() == 122);
}

namespace {

// An extension that flips every payload byte of the frames it marks with
// RSV1, to check the protocol runs frames through extensions both ways.
class flip_extension final : public extension {
 public:
  std::string_view name() const noexcept override { return "x-flip"; }
  reserved_bits rsv_bits() const noexcept override { return {true, false, false}; }
  void decode(frame& f, std::optional<std::size_t> max_size) override {
    last_max_size = max_size;
    if (f.op != opcode::cont) in_message = f.rsv1;
    if (!in_message) return;
    f.rsv1 = false;
    for (auto& c : f.data) c = static_cast<char>(~c);
  }
  void encode(frame& f) override {
    if (f.op != opcode::cont) f.rsv1 = true;
    for (auto& c : f.data) c = static_cast<char>(~c);
  }
  bool in_message = false;
  std::optional<std::size_t> last_max_size;
};

std::string flip(std::string s) {
  for (auto& c : s) c = static_cast<char>(~c);
  return s;
}

}  // namespace

TEST_CASE("data frames go through the negotiated extensions", "[protocol]") {
  std::vector<std::unique_ptr<extension>> exts;
  exts.push_back(std::make_unique<flip_extension>());
  auto* ext = static_cast<flip_extension*>(exts[0].get());
  protocol p(role::server, 100, std::move(exts));
  p.receive_data(wire(role::client, opcode::text, flip("hel"), false, true) +
                 wire(role::client, opcode::cont, flip("lo"), true, false));
  auto events = drain(p);
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "hello");
  CHECK(ext->last_max_size == 97u);
  // Sending runs encode(); a message sent uncompressed skips it.
  p.send_data(opcode::binary, std::string_view("abc"));
  p.send_data(opcode::binary, std::string_view("abc"), true, false);
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].rsv1);
  CHECK(frames[0].data == flip("abc"));
  CHECK_FALSE(frames[1].rsv1);
  CHECK(frames[1].data == "abc");
  // RSV2 is still refused.
  std::string bad = wire(role::client, opcode::text, "x");
  bad[0] = static_cast<char>(bad[0] | 0x20);
  p.receive_data(bad);
  CHECK(drain(p).empty());
  require_failed(p, 1002);
}

TEST_CASE("every split of a stream of frames gives the same events", "[protocol]") {
  const std::string stream =
      wire(role::client, opcode::text, "Hello") +
      wire(role::client, opcode::binary, "frag", false) +
      wire(role::client, opcode::ping, "in between") +
      wire(role::client, opcode::cont, "mented", false) +
      wire(role::client, opcode::cont, "", true) + wire(role::client, opcode::text, "") +
      wire(role::client, opcode::binary, std::string(300, '\x01')) +
      wire(role::client, opcode::text, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5") +
      wire(role::client, opcode::pong, "pong") +
      wire(role::client, opcode::close, close_payload(1000, "done"));

  auto summary = [](const std::vector<event>& events) {
    std::vector<std::string> s;
    for (const auto& e : events)
      s.push_back(std::to_string(static_cast<int>(e.type)) + "/" +
                  std::to_string(static_cast<int>(e.op)) + ":" + e.data);
    return s;
  };
  protocol whole(role::server);
  whole.receive_data(stream);
  const auto expected = summary(drain(whole));
  REQUIRE(expected.size() == 8);

  for (std::size_t a = 0; a <= stream.size(); ++a) {
    protocol p(role::server);
    std::vector<event> events;
    p.receive_data(std::string_view(stream).substr(0, a));
    for (auto& e : drain(p)) events.push_back(std::move(e));
    p.receive_data(std::string_view(stream).substr(a));
    for (auto& e : drain(p)) events.push_back(std::move(e));
    INFO("split at " << a);
    REQUIRE(summary(events) == expected);
    REQUIRE(p.failure().empty());
  }
  // One byte at a time, and in random pieces.
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    protocol p(role::server);
    std::vector<event> events;
    std::size_t at = 0;
    while (at < stream.size()) {
      std::size_t n = round == 0 ? 1 : 1 + rng() % 40;
      n = std::min(n, stream.size() - at);
      p.receive_data(std::string_view(stream).substr(at, n));
      at += n;
      for (auto& e : drain(p)) events.push_back(std::move(e));
    }
    REQUIRE(summary(events) == expected);
  }
}

TEST_CASE("the receive buffer can be read into directly and lent out when idle", "[protocol]") {
  protocol p(role::server);
  const std::string bytes = wire(role::client, opcode::binary, "direct");
  auto area = p.prepare(bytes.size());
  REQUIRE(area.size() >= bytes.size());
  std::memcpy(area.data(), bytes.data(), bytes.size());
  p.commit(bytes.size());
  auto events = drain(p);
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "direct");
  std::vector<std::byte> storage;
  REQUIRE(p.release_receive_buffer(storage));
  CHECK(storage.capacity() >= bytes.size());
  CHECK_FALSE(p.release_receive_buffer(storage));
  p.provide_receive_buffer(std::move(storage));
  p.receive_data(bytes.substr(0, 3));
  std::vector<std::byte> other;
  CHECK_FALSE(p.release_receive_buffer(other));  // bytes are buffered
  p.receive_data(bytes.substr(3));
  REQUIRE(drain(p).size() == 1);
}

TEST_CASE("a peer that pings without reading gets only the newest pong", "[protocol]") {
  protocol p(role::server);
  p.limit_auto_replies(1000);
  p.send_data(opcode::binary, std::string(2000, 'x'));  // not written yet
  for (int i = 0; i < 100; ++i)
    p.receive_data(wire(role::client, opcode::ping, "ping " + std::to_string(i)));
  auto events = drain(p);
  CHECK(events.size() == 100);
  // Only the data frame is queued: no pong piled up behind it.
  output_batch batch;
  p.take_output(batch);
  CHECK(batch.size() == 2004);
  CHECK_FALSE(p.has_output());
  // Once the output drains, the newest ping is answered.
  p.record_sent(batch.size());
  auto frames = sent_frames(p);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].op == opcode::pong);
  CHECK(frames[0].data == "ping 99");
}

namespace {

// Every byte the protocol wants to send, as it would go on the wire.
std::string sent_bytes(protocol& p) {
  output_batch batch;
  p.take_output(batch);
  std::string bytes;
  for (auto piece : batch.pieces())
    bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  p.record_sent(batch.size());
  return bytes;
}

// A frame that breaks the protocol, after a valid message, with the close
// code it gets.
struct late_violation {
  const char* what;
  std::string bytes;
  std::uint16_t code;
  std::optional<std::size_t> max_size = std::size_t{1} << 20;
};

std::vector<late_violation> late_violations(role peer) {
  std::vector<late_violation> v = {
      {"RSV2 without an extension", wire(peer, opcode::text, "x"),
       code_of(close_code::protocol_error)},
      {"reserved opcode 5", wire(peer, opcode::text, "x"), code_of(close_code::protocol_error)},
      {"reserved control opcode 13", wire(peer, opcode::text, "x"),
       code_of(close_code::protocol_error)},
      {"continuation without a message", wire(peer, opcode::cont, "x", false),
       code_of(close_code::protocol_error)},
      {"one-byte close payload", wire(peer, opcode::close, "\x03"),
       code_of(close_code::protocol_error)},
      {"invalid UTF-8", wire(peer, opcode::text, "ab\xc0\xafz"),
       code_of(close_code::invalid_payload)},
      {"over max_size", wire(peer, opcode::binary, std::string(1001, 'x')),
       code_of(close_code::message_too_big), 1000},
  };
  v[0].bytes[0] = static_cast<char>(0x80 | 0x20 | static_cast<int>(opcode::text));
  v[1].bytes[0] = static_cast<char>(0x80 | 5);
  v[2].bytes[0] = static_cast<char>(0x80 | 13);
  return v;
}

}  // namespace

TEST_CASE("a deferred failure: what came before is delivered and answered first", "[protocol]") {
  for (role self : {role::server, role::client}) {
    const role peer = self == role::server ? role::client : role::server;
    for (const auto& v : late_violations(peer)) {
      INFO(v.what << (self == role::server ? " (server)" : " (client)"));
      protocol p(self, v.max_size);
      p.defer_failure(true);
      // A message and a ping, the violation, then a ping and a message that
      // must not be looked at, all in one read.
      p.receive_data(wire(peer, opcode::text, "Hello") + wire(peer, opcode::ping, "p") + v.bytes +
                     wire(peer, opcode::ping, "after") + wire(peer, opcode::text, "after"));
      auto events = drain(p);
      REQUIRE(events.size() == 2);
      CHECK(events[0].type == event::kind::message);
      CHECK(events[0].data == "Hello");
      CHECK(events[1].type == event::kind::ping);
      CHECK(events[1].data == "p");
      // Recorded, not acted on: still open, no close frame, no failure yet.
      REQUIRE(p.failure_pending());
      CHECK(p.closing_progress() == closing_step::failing);
      CHECK(p.state() == connection_state::open);
      CHECK(p.failure().empty());
      CHECK_FALSE(p.close_sent());
      CHECK_FALSE(p.should_close_transport());
      CHECK(p.buffered() == 0);  // what followed the violation is dropped
      // The application answers the message; more bytes from the peer are
      // dropped unparsed.
      p.send_data(opcode::text, std::string_view("Hello"));
      p.receive_data(wire(peer, opcode::ping, "later"));
      CHECK(drain(p).empty());
      p.commit_failure();
      CHECK_FALSE(p.failure_pending());
      CHECK_FALSE(p.failure().empty());
      REQUIRE(p.close_sent());
      CHECK(p.close_sent()->code == v.code);
      CHECK(p.state() == connection_state::closing);
      CHECK(p.closing_progress() == closing_step::transport);
      // The pong to the ping before the violation, the answer, then the
      // close frame, and nothing for what came after.
      if (self == role::server) {
        CHECK(sent_bytes(p) ==
              wire(role::server, opcode::pong, "p") + wire(role::server, opcode::text, "Hello") +
                  wire(role::server, opcode::close, close_payload(v.code, p.close_sent()->reason)));
      } else {
        auto frames = sent_frames(p);  // masked: compared once unmasked
        REQUIRE(frames.size() == 3);
        CHECK(frames[0].op == opcode::pong);
        CHECK(frames[0].data == "p");
        CHECK(frames[1].op == opcode::text);
        CHECK(frames[1].data == "Hello");
        CHECK(close_of(frames[2]).first == v.code);
      }
      // Once that is written, a server closes TCP; a client waits.
      CHECK(p.should_close_transport() == (self == role::server));
      p.receive_data(wire(peer, opcode::ping, "z"));
      CHECK(drain(p).empty());
      CHECK_FALSE(p.has_output());
      CHECK_THROWS_AS(p.send_data(opcode::text, std::string_view("late")), invalid_state);
    }
  }
}

TEST_CASE("without deferral the close frame goes out before any answer", "[protocol]") {
  for (const auto& v : late_violations(role::client)) {
    INFO(v.what);
    protocol p(role::server, v.max_size);
    p.receive_data(wire(role::client, opcode::text, "Hello") + v.bytes);
    auto events = drain(p);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "Hello");
    CHECK_FALSE(p.failure_pending());
    CHECK(p.closing_progress() == closing_step::transport);
    REQUIRE(p.close_sent());
    CHECK(p.close_sent()->code == v.code);
    CHECK_THROWS_AS(p.send_data(opcode::text, std::string_view("Hello")), invalid_state);
  }
}

TEST_CASE("a deferred failure is committed by send_close(), fail() and the end of TCP",
          "[protocol]") {
  const std::string bad = wire(role::client, opcode::cont, "x");
  SECTION("send_close() sends the violation's code") {
    protocol p(role::server);
    p.defer_failure(true);
    p.receive_data(bad);
    CHECK(drain(p).empty());
    REQUIRE(p.failure_pending());
    p.send_close(code_of(close_code::normal_closure));
    CHECK_FALSE(p.failure_pending());
    require_failed(p, code_of(close_code::protocol_error));
  }
  SECTION("fail() sends the violation's code") {
    protocol p(role::server);
    p.defer_failure(true);
    p.receive_data(bad);
    CHECK(drain(p).empty());
    p.fail(code_of(close_code::internal_error), "keepalive ping timeout");
    require_failed(p, code_of(close_code::protocol_error));
    CHECK(p.failure().find("continuation") != std::string::npos);
  }
  SECTION("an EOF ends it without a close frame") {
    protocol p(role::client);
    p.defer_failure(true);
    p.receive_data(wire(role::server, opcode::cont, "x"));
    CHECK(drain(p).empty());
    REQUIRE(p.failure_pending());
    p.receive_eof();
    CHECK(drain(p).empty());
    CHECK_FALSE(p.failure_pending());
    CHECK(p.state() == connection_state::closed);
    CHECK(p.failure().find("continuation") != std::string::npos);
    CHECK_FALSE(p.has_output());
    CHECK(p.close_code() == code_of(close_code::abnormal_closure));
  }
  SECTION("once a close frame was sent, a violation fails at once") {
    protocol p(role::server);
    p.defer_failure(true);
    p.send_close(code_of(close_code::normal_closure));
    CHECK(sent_frames(p).size() == 1);
    p.receive_data(bad);
    CHECK(drain(p).empty());
    CHECK_FALSE(p.failure_pending());
    CHECK_FALSE(p.failure().empty());
    CHECK(p.closing_progress() == closing_step::transport);
    CHECK_FALSE(p.has_output());  // the close frame already went
    CHECK(p.should_close_transport());
  }
}
