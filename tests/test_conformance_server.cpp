// The conformance suite, server side: the driver plays a client made of raw
// bytes against examples/echo_server and runs the case catalogue (Autobahn's
// sections 1 to 13) on it, one fresh connection per case.
//
// WEBSOCKETS_CONFORMANCE_REPORT=tests/conformance/README.md test_conformance_server
// runs everything and writes the results table into the README.
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for the report listener
#include <catch2/catch.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "conformance/cases.hpp"
#include "conformance/deflate_cases.hpp"
#include "conformance/negotiation_cases.hpp"
#include "conformance/report_listener.hpp"
#include "conformance/runner.hpp"
#include "support/child_process.hpp"

using namespace websockets::conformance;
using websockets::testing::child_process;

namespace {

// examples/echo_server on 127.0.0.1 and a free port, for one test case.
struct echo_server {
  child_process process{ECHO_SERVER_PATH, {"127.0.0.1", "0"}};
  std::uint16_t port = 0;

  echo_server() {
    static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
    port = static_cast<std::uint16_t>(std::stoul(process.expect_line(listening)[1]));
  }
  ~echo_server() {
    process.signal(SIGTERM);
    process.wait(milliseconds(5000));
  }
};

// Runs every case of `s` on a server of its own and checks none failed.
void run_section(const section& s) {
  echo_server server;
  for (const auto& def : s.cases) {
    if (!selected(def.id)) continue;
    case_result r = run_against_server(server.port, def);
    if (fails_test(r.id, r.grade)) {
      FAIL_CHECK("case " << r.id << " (" << r.description << "): " << r.detail);
    } else {
      SUCCEED("case " << r.id << ": " << to_string(r.grade));
    }
    r.section = s.number + " " + s.title;
    result_log::instance().add("server", std::move(r));
  }
  // The server survived every case: it still answers.
  case_def alive{"alive", "", "", [](case_context& c) {
                   c.send({op::text, "still there?"});
                   if (c.expect({text("still there?")})) c.close_normally();
                 }};
  const case_result after = run_against_server(server.port, alive);
  INFO("the server after the section: " << after.detail);
  CHECK(after.grade == outcome::ok);
}

}  // namespace

// ---- The driver itself -------------------------------------------------------

TEST_CASE("conformance driver: handshake, UTF-8 table, frame codec and deflate agree with the RFCs",
          "[conformance][driver]") {
  // RFC 6455 1.3's example.
  CHECK(expected_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

  // The validator agrees with every sample's stated validity.
  for (const auto& g : utf8_groups()) {
    for (const auto& s : g.samples) {
      INFO(g.title << ": " << hex(s.bytes));
      CHECK(valid_utf8(s.bytes) == s.valid);
    }
  }
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));

  // RFC 6455 5.7's examples: a masked "Hello" and a 256-byte binary frame.
  wire_frame f;
  const std::string masked = from_hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  REQUIRE(parse_frame(masked, f) == masked.size());
  CHECK(f.masked);
  CHECK(f.payload == "Hello");
  std::string out;
  append_frame(out, {op::text, "Hello"}, role::client, {0x37, 0xfa, 0x21, 0x3d});
  CHECK(out == masked);
  const std::string bin = make_frame({op::binary, std::string(256, 'x')}, role::server);
  CHECK(bin.substr(0, 4) == from_hex("82 7e 01 00"));
  CHECK(parse_frame(bin.substr(0, 100), f) == 0);
  CHECK(parse_frame(from_hex("81 7e 00 05 48 65 6c 6c 6f"), f) == 9);
  CHECK_FALSE(f.header_fault.empty());  // a 16-bit length for 5 bytes

  // RFC 7692 7.2.3.1: "Hello" compressed, and back.
  deflater d(15, false);
  CHECK(d.compress("Hello", true) == from_hex("f2 48 cd c9 c9 07 00"));
  inflater i(15, false);
  std::string error;
  CHECK(i.decompress(from_hex("f2 48 cd c9 c9 07 00"), true, error).value_or("") == "Hello");
  // Context takeover: the second "Hello" refers back to the first.
  const std::string again = d.compress("Hello", true);
  CHECK(again.size() < 7);
  CHECK(i.decompress(again, true, error).value_or("") == "Hello");
  // A fresh inflater can't follow it.
  inflater fresh(15, false);
  CHECK_FALSE(fresh.decompress(again, true, error));

  std::string why;
  auto a = parse_deflate_response(
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", why);
  REQUIRE(a);
  CHECK(a->server_no_context_takeover);
  CHECK(a->client_max_window_bits == 9);
  CHECK(a->server_max_window_bits == 15);
  CHECK_FALSE(parse_deflate_response("permessage-deflate; client_max_window_bits", why));
  CHECK_FALSE(parse_deflate_response("permessage-deflate; server_max_window_bits=16", why));
  CHECK_FALSE(parse_deflate_response("permessage-deflate; x=1", why));
}

// ---- The driver catches broken peers -------------------------------------------

// How a fake server breaks the rules, to show the driver notices.
enum class misbehaviour {
  text_as_binary,        // echoes text messages as binary ones
  drop_without_close,    // answers a close frame by closing TCP
  late_utf8_check,       // checks UTF-8 only once the whole message is in
  rsv1_on_continuation,  // compressed echoes with RSV1 on every frame
};

// A server of one connection, on a thread, built from the driver's parts.
class broken_server {
 public:
  explicit broken_server(misbehaviour m) : thread_([this, m] { serve(m); }) {}
  ~broken_server() { thread_.join(); }
  std::uint16_t port() const { return listener_.port(); }

 private:
  void serve(misbehaviour m) {
    const auto deadline = clock::now() + std::chrono::seconds(30);
    try {
      auto conn = listener_.accept(deadline);
      std::string rest, error;
      const auto head = read_head(conn, rest, deadline, error);
      if (!head) return;
      const bool deflate = m == misbehaviour::rsv1_on_continuation;
      std::string ignored;
      conn.write(
          upgrade_response(*head->get("Sec-WebSocket-Key"), deflate ? "permessage-deflate" : ""),
          ignored, deadline);
      std::optional<deflate_agreement> agreement;
      if (deflate) agreement = deflate_agreement{};
      endpoint peer(std::move(conn), role::server, std::move(rest), agreement);
      for (;;) {
        const event e = peer.next_event(deadline);
        if (e.type == event::kind::message) {
          if (m == misbehaviour::rsv1_on_continuation) {
            deflater d(15, false, 1);
            const std::string z = d.compress(e.data, true);
            const std::string_view all(z);
            const frame_spec frames[] = {{op::text, all.substr(0, z.size() / 2), false, rsv1},
                                         {op::cont, all.substr(z.size() / 2), true, rsv1}};
            peer.send(frames, deadline);
          } else {
            peer.send({m == misbehaviour::text_as_binary ? op::binary : op::text, e.data},
                      deadline);
          }
        } else if (e.type == event::kind::violation) {  // the late UTF-8 check
          peer.send({op::close, close_payload(1007)}, deadline);
          peer.shutdown_write();
          peer.wait_for_close(deadline);
          return;
        } else if (e.type == event::kind::close) {
          if (m == misbehaviour::drop_without_close) return;  // closes TCP
          peer.send({op::close, e.data}, deadline);
          peer.shutdown_write();
          peer.wait_for_close(deadline);
          return;
        } else {
          return;
        }
      }
    } catch (const std::exception&) {
    }
  }

  tcp_listener listener_;
  std::thread thread_;
};

const case_def& find_case(const section& s, const std::string& id) {
  for (const auto& def : s.cases)
    if (def.id == id) return def;
  throw std::logic_error("no case " + id);
}

TEST_CASE("conformance driver: a peer that breaks the rules gets the grade it deserves",
          "[conformance][driver]") {
  {
    broken_server peer(misbehaviour::text_as_binary);
    const auto r = run_against_server(peer.port(), find_case(framing_cases(), "1.1.2"));
    CHECK(r.grade == outcome::failed);
    CHECK(r.detail.find("binary message") != std::string::npos);
  }
  {
    broken_server peer(misbehaviour::drop_without_close);
    const auto r = run_against_server(peer.port(), find_case(close_cases(), "7.3.3"));
    CHECK(r.grade == outcome::failed);
    CHECK(r.detail.find("TCP closed by the peer") != std::string::npos);
  }
  {
    broken_server peer(misbehaviour::late_utf8_check);
    const auto r = run_against_server(peer.port(), find_case(utf8_cases(), "6.4.1"));
    CHECK(r.grade == outcome::non_strict);
    CHECK(r.detail.find("no close before the rest") != std::string::npos);
  }
  {
    broken_server peer(misbehaviour::rsv1_on_continuation);
    case_def compressed = find_case(server_negotiation_cases(), "0.1");
    compressed.deflate->expected_answer = "permessage-deflate";
    const auto r = run_against_server(peer.port(), compressed);
    CHECK(r.grade == outcome::failed);
    CHECK(r.detail.find("RSV bits 4 on a continuation frame") != std::string::npos);
  }
}

// ---- The cases -------------------------------------------------------------------

TEST_CASE("conformance server: 1 Framing", "[conformance][server]") {
  run_section(framing_cases());
}
TEST_CASE("conformance server: 2 Pings/Pongs", "[conformance][server]") {
  run_section(ping_cases());
}
TEST_CASE("conformance server: 3 Reserved Bits", "[conformance][server]") {
  run_section(reserved_bit_cases());
}
TEST_CASE("conformance server: 4 Opcodes", "[conformance][server]") {
  run_section(opcode_cases());
}
TEST_CASE("conformance server: 5 Fragmentation", "[conformance][server]") {
  run_section(fragmentation_cases());
}
TEST_CASE("conformance server: 6 UTF-8 Handling", "[conformance][server]") {
  run_section(utf8_cases());
}
TEST_CASE("conformance server: 7 Close Handling", "[conformance][server]") {
  run_section(close_cases());
}
TEST_CASE("conformance server: 9 Limits/Performance", "[conformance][server][bulk]") {
  run_section(limit_cases());
}
TEST_CASE("conformance server: 10 Misc", "[conformance][server]") {
  run_section(misc_cases());
}
TEST_CASE("conformance server: 12 WebSocket Compression (different payloads)",
          "[conformance][server][deflate][bulk]") {
  run_section(compression_payload_cases());
}
TEST_CASE("conformance server: 13 WebSocket Compression (different parameters)",
          "[conformance][server][deflate][bulk]") {
  run_section(compression_parameter_cases());
}
TEST_CASE("conformance server: 13.0 permessage-deflate errors and limits (ours)",
          "[conformance][server][deflate]") {
  run_section(compression_error_cases());
}
TEST_CASE("conformance server: 0 permessage-deflate negotiation (ours)",
          "[conformance][server][deflate]") {
  run_section(server_negotiation_cases());
}

// Ours: the one close a server starts by itself. echo_server closes every
// connection with 1001 on SIGTERM; it must then wait for the client's close
// frame before closing TCP, and exit cleanly.
TEST_CASE("conformance server: 7.14 Close started by the server (ours)", "[conformance][server]") {
  if (!selected("7.14.1")) return;
  echo_server server;
  const case_def going_away{
      "7.14.1", "(ours) Send a text message; once it is echoed, echo_server gets SIGTERM.",
      "A close frame with 1001; TCP closed by the server once our close frame is in; the process "
      "exits with status 0.",
      [&server](case_context& c) {
        c.send({op::text, "before going away"});
        if (!c.expect({text("before going away")})) return;
        server.process.signal(SIGTERM);
        const event e = c.next();
        if (e.type != event::kind::close || e.code != 1001) {
          c.result().fail("expected close 1001, got " + describe(e));
          return;
        }
        // The server started the handshake: it waits for ours (RFC 6455 7.1.1).
        if (c.peer().wait_for_close(c.within(milliseconds(100))) != io_status::timeout) {
          c.result().note(outcome::non_strict, "the server closed TCP before our close frame");
          return;
        }
        c.send({op::close, close_payload(1001)});
        if (c.peer().wait_for_close(c.within(waits::tcp_close)) != io_status::eof)
          c.result().fail("the server didn't close TCP after our close frame");
      }};
  case_result r = run_against_server(server.port, going_away);
  const auto status = server.process.wait(milliseconds(10'000));
  if (!status || !status->success()) {
    r.grade = outcome::failed;
    r.detail += "; echo_server didn't exit with status 0";
  }
  INFO(r.detail);
  CHECK(r.grade == outcome::ok);
  r.section = "7 Close Handling";
  result_log::instance().add("server", std::move(r));
}
