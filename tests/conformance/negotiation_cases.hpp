// Section 0 (ours): the permessage-deflate negotiation of RFC 7692 section 5
// and 7.1, which Autobahn exercises only through 13.x. Each side has its own
// list: the server gets offers, valid ones answered exactly as its defaults
// say and broken ones declined (the connection then runs without
// compression); the client gets answers, valid ones used and broken ones
// refused (connect() fails, RFC 6455 4.1).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "conformance/cases.hpp"

namespace websockets::conformance {

// A message each way after the handshake: compressed when permessage-deflate
// was agreed, so the agreement is seen to work, plain otherwise.
inline void negotiated_echo(case_context& c) {
  const std::string m = "negotiated " + std::string(200, 'z');
  if (c.peer().deflate_on()) {
    c.peer().send_compressed(op::text, m, c.within(waits::answer));
  } else {
    c.send({op::text, m});
  }
  if (c.expect({text(m)})) c.close_normally();
}

// The server side: offers, and echo_server's exact answer ("" = declined).
inline section server_negotiation_cases() {
  section s{"0", "permessage-deflate negotiation (ours)", {}};
  const std::string pmd = "permessage-deflate";
  const std::pair<std::string, std::string> offers[] = {
      {pmd, pmd + "; server_max_window_bits=12"},
      {pmd + "; client_max_window_bits",
       pmd + "; server_max_window_bits=12; client_max_window_bits=12"},
      {pmd + "; server_no_context_takeover",
       pmd + "; server_no_context_takeover; server_max_window_bits=12"},
      {pmd + "; client_no_context_takeover",
       pmd + "; client_no_context_takeover; server_max_window_bits=12"},
      {pmd + "; server_max_window_bits=7", ""},
      {pmd + "; server_max_window_bits=16", ""},
      {pmd + "; server_max_window_bits=010", ""},
      {pmd + "; server_max_window_bits", ""},
      {pmd + "; client_max_window_bits=7", ""},
      {pmd + "; client_max_window_bits=16", ""},
      {pmd + "; server_no_context_takeover=1", ""},
      {pmd + "; server_max_window_bits=10; server_max_window_bits=10", ""},
      {pmd + "; unknown_parameter", ""},
      {pmd + "; unknown_parameter, " + pmd + "; client_max_window_bits",
       pmd + "; server_max_window_bits=12; client_max_window_bits=12"},
      {"x-webkit-deflate-frame, " + pmd, pmd + "; server_max_window_bits=12"},
      {pmd + "; server_max_window_bits=\"10\"", pmd + "; server_max_window_bits=10"},
  };
  for (const auto& [offer, answer] : offers) {
    s.cases.push_back({"0." + std::to_string(s.cases.size() + 1), "(ours) Offer: " + offer + ".",
                       answer.empty() ? "Declined: no Sec-WebSocket-Extensions in the response."
                                      : "Accepted with: " + answer + ".",
                       negotiated_echo, outcome::ok, deflate_setup{offer, answer, ""}});
  }
  return s;
}

// Expects the client under test to refuse the handshake: it closes TCP
// without sending a data frame.
inline void refused(case_context& c) {
  const event e = c.next();
  if (e.type == event::kind::eof || e.type == event::kind::reset) return;
  if (e.type == event::kind::close) {
    c.result().note(outcome::ok, "sent " + describe(e) + " before closing");
    c.peer().wait_for_close(c.within(waits::tcp_close));
    return;
  }
  c.result().fail("expected the client to close TCP, got " + describe(e));
}

// The client side: answers to the client's default offer
// (permessage-deflate; client_max_window_bits).
inline section client_negotiation_cases() {
  section s{"0", "permessage-deflate negotiation (ours)", {}};
  const std::string pmd = "permessage-deflate";
  const std::string valid[] = {
      pmd,
      pmd + "; server_no_context_takeover",
      pmd + "; client_no_context_takeover",
      pmd + "; server_max_window_bits=8",
      pmd + "; client_max_window_bits=8",
      pmd + "; server_max_window_bits=15; client_max_window_bits=15",
      pmd + "; client_max_window_bits=12; server_max_window_bits=9",
  };
  for (const auto& answer : valid) {
    s.cases.push_back({"0." + std::to_string(s.cases.size() + 1), "(ours) Answer: " + answer + ".",
                       "Accepted; a compressed message each way.", negotiated_echo, outcome::ok,
                       deflate_setup{"", "", answer}});
  }
  const std::string invalid[] = {
      pmd + "; server_max_window_bits=16",
      pmd + "; server_max_window_bits=7",
      pmd + "; client_max_window_bits",
      pmd + "; client_max_window_bits=16",
      pmd + "; server_no_context_takeover=1",
      pmd + "; server_max_window_bits=10; server_max_window_bits=10",
      pmd + "; unknown_parameter",
      pmd + ", " + pmd,
      "x-never-offered",
  };
  for (const auto& answer : invalid) {
    case_def def{"0." + std::to_string(s.cases.size() + 1),
                 "(ours) Answer: " + answer + ".",
                 "Refused: connect() fails and the client closes TCP.",
                 refused,
                 outcome::ok,
                 deflate_setup{"", "", answer}};
    def.client_refuses = true;
    s.cases.push_back(std::move(def));
  }
  return s;
}

}  // namespace websockets::conformance
