// The conformance suite, client side: the driver plays a server made of raw
// bytes on 127.0.0.1, and the client under test (connect() and an echo loop)
// connects to it once per case; the same case catalogue runs as on the
// server side, with the frames unmasked as a server sends them.
//
// WEBSOCKETS_CONFORMANCE_REPORT=tests/conformance/README.md test_conformance_client
// runs everything and writes the results table into the README.
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for the report listener
#include <catch2/catch.hpp>
#include <string>

#include "conformance/cases.hpp"
#include "conformance/deflate_cases.hpp"
#include "conformance/negotiation_cases.hpp"
#include "conformance/report_listener.hpp"
#include "conformance/runner.hpp"

using namespace websockets::conformance;

namespace {

// Runs every case of `s` against fresh client connections.
void run_section(const section& s) {
  tcp_listener listener;
  client_under_test client;
  for (const auto& def : s.cases) {
    if (!selected(def.id)) continue;
    case_result r = run_against_client(listener, client, def);
    if (fails_test(r.id, r.grade)) {
      FAIL_CHECK("case " << r.id << " (" << r.description << "): " << r.detail);
    } else {
      SUCCEED("case " << r.id << ": " << to_string(r.grade));
    }
    r.section = s.number + " " + s.title;
    result_log::instance().add("client", std::move(r));
  }
}

}  // namespace

TEST_CASE("conformance client: 1 Framing", "[conformance][client]") {
  run_section(framing_cases());
}
TEST_CASE("conformance client: 2 Pings/Pongs", "[conformance][client]") {
  run_section(ping_cases());
}
TEST_CASE("conformance client: 3 Reserved Bits", "[conformance][client]") {
  run_section(reserved_bit_cases());
}
TEST_CASE("conformance client: 4 Opcodes", "[conformance][client]") {
  run_section(opcode_cases());
}
TEST_CASE("conformance client: 5 Fragmentation", "[conformance][client]") {
  run_section(fragmentation_cases());
}
TEST_CASE("conformance client: 6 UTF-8 Handling", "[conformance][client]") {
  run_section(utf8_cases());
}
TEST_CASE("conformance client: 7 Close Handling", "[conformance][client]") {
  run_section(close_cases());
}
TEST_CASE("conformance client: 9 Limits/Performance", "[conformance][client][bulk]") {
  run_section(limit_cases());
}
TEST_CASE("conformance client: 10 Misc", "[conformance][client]") {
  run_section(misc_cases());
}
TEST_CASE("conformance client: 12 WebSocket Compression (different payloads)",
          "[conformance][client][deflate][bulk]") {
  run_section(compression_payload_cases());
}
TEST_CASE("conformance client: 13 WebSocket Compression (different parameters)",
          "[conformance][client][deflate][bulk]") {
  run_section(compression_parameter_cases());
}
TEST_CASE("conformance client: 13.0 permessage-deflate errors and limits (ours)",
          "[conformance][client][deflate]") {
  run_section(compression_error_cases());
}
TEST_CASE("conformance client: 0 permessage-deflate negotiation (ours)",
          "[conformance][client][deflate]") {
  run_section(client_negotiation_cases());
}
