// Runs one case on a fresh connection, as Autobahn does, against either
// end: run_against_server() connects to a server as a raw client and does
// the handshake by hand; run_against_client() has the client under test
// connect to the driver's raw server. Both give the case's graded result.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <future>
#include <optional>
#include <string>
#include <string_view>

#include "conformance/case_context.hpp"
#include "conformance/client_under_test.hpp"
#include "conformance/handshake.hpp"
#include "conformance/results.hpp"

namespace websockets::conformance {

// Whether to run case `id`: all, unless WEBSOCKETS_CONFORMANCE_CASES lists
// ids or id prefixes ("6.4,7.1.2" runs 6.4.* and 7.1.2), to rerun a few.
inline bool selected(const std::string& id) {
  const char* list = std::getenv("WEBSOCKETS_CONFORMANCE_CASES");
  if (!list || !*list) return true;
  std::string_view rest(list);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view want = rest.substr(0, comma);
    if (id == want || (id.size() > want.size() && id.compare(0, want.size(), want) == 0 &&
                       id[want.size()] == '.'))
      return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

// The most a case may take; the waits inside bound each step well below.
inline constexpr milliseconds case_budget{180'000 * slowdown};

// The report line of `def`, graded `v`, begun at `start`.
inline case_result finish(const case_def& def, const verdict& v, clock::time_point start) {
  case_result r;
  r.id = def.id;
  r.description = def.description;
  r.expectation = def.expectation;
  r.grade = v.grade;
  r.detail = v.detail;
  r.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return r;
}

// The agreement in a response header the driver trusts (its own answer, or
// one already compared with what it expected).
inline std::optional<deflate_agreement> agreement_of(const std::string& answer, verdict& v) {
  if (answer.empty()) return std::nullopt;
  std::string error;
  auto a = parse_deflate_response(answer, error);
  if (!a) v.fail("permessage-deflate answer '" + answer + "': " + error);
  return a;
}

// Plays the client against the server on 127.0.0.1:`port`.
inline case_result run_against_server(std::uint16_t port, const case_def& def) {
  const auto start = clock::now();
  const auto deadline = start + case_budget;
  verdict v{def.floor, {}};
  try {
    auto conn = tcp_connection::connect_loopback(port);
    const std::string key = random_key();
    std::string rx;
    const std::string offer = def.deflate ? def.deflate->offer : "";
    if (conn.write(upgrade_request(port, "/" + def.id, key, offer), rx, deadline) != io_status::ok)
      throw std::runtime_error("couldn't send the upgrade request");
    std::string error;
    const auto head = read_head(conn, rx, clock::now() + waits::answer, error);
    if (!head) {
      v.fail("handshake: " + error);
      return finish(def, v, start);
    }
    if (auto wrong = check_upgrade_response(*head, key); !wrong.empty()) {
      v.fail("handshake: " + wrong);
      return finish(def, v, start);
    }
    const auto answer = head->get("Sec-WebSocket-Extensions");
    const std::string expected_answer = def.deflate ? def.deflate->expected_answer : "";
    if (answer.value_or("") != expected_answer || head->count("Sec-WebSocket-Extensions") > 1) {
      v.fail("Sec-WebSocket-Extensions answer is '" + answer.value_or("(none)") + "', expected '" +
             (expected_answer.empty() ? "(none)" : expected_answer) + "'");
      return finish(def, v, start);
    }
    const auto agreement = agreement_of(expected_answer, v);
    if (v.failed()) return finish(def, v, start);
    endpoint peer(std::move(conn), role::client, std::move(rx), agreement);
    case_context c(peer, v, deadline);
    def.run(c);
  } catch (const std::exception& e) {
    v.fail(std::string("driver error: ") + e.what());
  }
  return finish(def, v, start);
}

// Plays the server for the client under test, which connects to `listener`.
inline case_result run_against_client(tcp_listener& listener, client_under_test& client,
                                      const case_def& def) {
  const auto start = clock::now();
  const auto deadline = start + case_budget;
  verdict v{def.floor, {}};
  auto report = client.start("ws://127.0.0.1:" + std::to_string(listener.port()) + "/" + def.id);
  try {
    auto conn = listener.accept(clock::now() + waits::answer);
    std::string rx, error;
    const auto head = read_head(conn, rx, clock::now() + waits::answer, error);
    if (!head) throw std::runtime_error("handshake: " + error);
    if (auto wrong = check_upgrade_request(*head); !wrong.empty())
      throw std::runtime_error("handshake: " + wrong);
    const std::string answer = def.deflate ? def.deflate->answer : "";
    if (!answer.empty()) {
      const auto offer = head->get("Sec-WebSocket-Extensions");
      if (!offer || offer->find("permessage-deflate") == std::string::npos)
        throw std::runtime_error("the client didn't offer permessage-deflate: " +
                                 offer.value_or("(none)"));
    }
    const auto agreement = def.client_refuses ? std::nullopt : agreement_of(answer, v);
    if (conn.write(upgrade_response(*head->get("Sec-WebSocket-Key"), answer), rx, deadline) !=
        io_status::ok)
      throw std::runtime_error("couldn't send the 101 response");
    if (!v.failed()) {
      endpoint peer(std::move(conn), role::server, std::move(rx), agreement);
      case_context c(peer, v, deadline);
      def.run(c);
    }
  } catch (const std::exception& e) {
    v.fail(std::string("driver error: ") + e.what());
  }
  // The connection is closed by now (the endpoint is gone), so the client
  // must finish soon.
  if (report.wait_for(waits::answer) != std::future_status::ready) {
    v.fail("the client under test was still running " + std::to_string(waits::answer.count()) +
           " ms after the connection closed");
  } else {
    const client_report r = report.get();
    if (def.client_refuses) {
      if (r.opened)
        v.fail("connect() accepted the response");
      else
        v.note(outcome::ok, "connect() threw: " + r.connect_error);
    } else if (!r.opened) {
      v.fail("connect() failed: " + r.connect_error);
    } else if (!r.closed_cleanly && r.ended.rfind("connection_closed", 0) != 0) {
      v.fail("the echo loop ended with an unexpected exception: " + r.ended);
    }
  }
  return finish(def, v, start);
}

}  // namespace websockets::conformance
