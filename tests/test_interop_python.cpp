// Interop with Python's websockets 10.4 (tests/interop/py_*.py): our server
// with its client, our client with its server, and permessage-deflate
// negotiated every way it can offer or accept.
//
// What Python's websockets can't do, and so isn't tested with it: compress
// with an 8-bit window (zlib refuses raw deflate with 8 bits, and Python
// passes the size on as it is), so it neither offers client_max_window_bits=8
// nor accepts server_max_window_bits=8. It decompresses with 8 bits fine.
#include "interop_scenarios.hpp"

using namespace interop;

namespace {

constexpr auto peer = peer_kind::python;

std::string bits_param(std::string_view name, int bits) {
  return std::string(name) + "=" + std::to_string(bits);
}

}  // namespace

TEST_CASE("Python client, our server: text and binary from 0 B to 16 MiB", "[interop][python]") {
  SECTION("uncompressed") {
    our_server_echoes_every_size(peer, false);
  }
  SECTION("permessage-deflate") {
    our_server_echoes_every_size(peer, true);
  }
}

TEST_CASE("Python client, our server: fragments, pings, close codes", "[interop][python]") {
  our_server_fragments_pings_and_closes(peer);
}

TEST_CASE("Python server, our client: text and binary from 0 B to 16 MiB", "[interop][python]") {
  SECTION("uncompressed") {
    our_client_echoes_every_size(peer, false);
  }
  SECTION("permessage-deflate") {
    our_client_echoes_every_size(peer, true);
  }
}

TEST_CASE("Python server, our client: fragments, pings, close codes", "[interop][python]") {
  our_client_fragments_pings_and_closes(peer);
}

TEST_CASE("permessage-deflate: Python client offers, our server answers",
          "[interop][python][deflate]") {
  std::vector<peer_offer_case> cases;
  const auto accepting = accepting_server();
  // What Python offers, accepted as it is.
  cases.push_back({"its default offer", {}, accepting, "permessage-deflate", {}});
  cases.push_back({"server_no_context_takeover",
                   {"--server-no-context-takeover"},
                   accepting,
                   "permessage-deflate; server_no_context_takeover",
                   {.local_no_context_takeover = true}});
  cases.push_back({"client_no_context_takeover",
                   {"--client-no-context-takeover"},
                   accepting,
                   "permessage-deflate; client_no_context_takeover",
                   {.remote_no_context_takeover = true}});
  for (int bits = 8; bits <= 15; ++bits) {
    cases.push_back({bits_param("server_max_window_bits", bits),
                     {"--server-max-window-bits", std::to_string(bits)},
                     accepting,
                     "permessage-deflate; " + bits_param("server_max_window_bits", bits),
                     {.local_max_window_bits = bits}});
  }
  for (int bits = 9; bits <= 15; ++bits) {
    cases.push_back({bits_param("client_max_window_bits", bits),
                     {"--client-max-window-bits", std::to_string(bits)},
                     accepting,
                     "permessage-deflate; " + bits_param("client_max_window_bits", bits),
                     {.remote_max_window_bits = bits}});
  }
  cases.push_back({"all four parameters",
                   {"--server-no-context-takeover", "--client-no-context-takeover",
                    "--server-max-window-bits", "10", "--client-max-window-bits", "11"},
                   accepting,
                   "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                   "server_max_window_bits=10; client_max_window_bits=11",
                   {true, true, 10, 11}});
  // What our server asks of Python's default offer.
  cases.push_back({"our server's defaults",
                   {},
                   {},
                   "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                   {.local_max_window_bits = 12, .remote_max_window_bits = 12}});
  auto ours = accepting;
  ours.server_no_context_takeover = true;
  ours.client_no_context_takeover = true;
  cases.push_back({"our server requiring no context takeover both ways",
                   {},
                   ours,
                   "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                   {true, true, 15, 15}});
  ours = accepting;
  ours.server_max_window_bits = 8;
  ours.client_max_window_bits = 9;
  cases.push_back({"our server limiting windows to 8 and 9 bits",
                   {},
                   ours,
                   "permessage-deflate; server_max_window_bits=8; client_max_window_bits=9",
                   {.local_max_window_bits = 8, .remote_max_window_bits = 9}});
  peer_client_offers(peer, cases);
}

TEST_CASE("permessage-deflate: our client offers, Python server answers",
          "[interop][python][deflate]") {
  // Python's server defaults: 12-bit windows both ways.
  std::vector<our_offer_case> cases;
  const std::string defaults = "server_max_window_bits=12; client_max_window_bits=12";
  cases.push_back({"our default offer",
                   {},
                   "permessage-deflate; " + defaults,
                   {.local_max_window_bits = 12, .remote_max_window_bits = 12}});
  cases.push_back({"server_no_context_takeover",
                   {.server_no_context_takeover = true},
                   "permessage-deflate; server_no_context_takeover; " + defaults,
                   {false, true, 12, 12}});
  cases.push_back({"client_no_context_takeover",
                   {.client_no_context_takeover = true},
                   "permessage-deflate; client_no_context_takeover; " + defaults,
                   {true, false, 12, 12}});
  for (int bits = 9; bits <= 15; ++bits) {
    const int answer = std::min(bits, 12);
    cases.push_back({bits_param("server_max_window_bits", bits),
                     {.server_max_window_bits = bits},
                     "permessage-deflate; " + bits_param("server_max_window_bits", answer) +
                         "; client_max_window_bits=12",
                     {.local_max_window_bits = 12, .remote_max_window_bits = answer}});
  }
  for (int bits = 8; bits <= 15; ++bits) {
    const int answer = std::min(bits, 12);
    cases.push_back({bits_param("client_max_window_bits", bits),
                     {.client_max_window_bits = bits},
                     "permessage-deflate; server_max_window_bits=12; " +
                         bits_param("client_max_window_bits", answer),
                     {.local_max_window_bits = answer, .remote_max_window_bits = 12}});
  }
  cases.push_back({"no client_max_window_bits",
                   {.offer_client_max_window_bits = false},
                   "permessage-deflate; server_max_window_bits=12",
                   {.local_max_window_bits = 15, .remote_max_window_bits = 12}});
  our_client_offers(peer, {}, cases);
}

TEST_CASE("permessage-deflate: Python server configured, our client's default offer",
          "[interop][python][deflate]") {
  struct config {
    std::vector<std::string> args;
    std::string header;
    expected_deflate deflate;
  };
  std::vector<config> configs;
  configs.push_back({{"--server-no-context-takeover"},
                     "permessage-deflate; server_no_context_takeover",
                     {.remote_no_context_takeover = true}});
  configs.push_back({{"--client-no-context-takeover"},
                     "permessage-deflate; client_no_context_takeover",
                     {.local_no_context_takeover = true}});
  for (int bits = 9; bits <= 15; ++bits) {
    configs.push_back({{"--server-max-window-bits", std::to_string(bits)},
                       "permessage-deflate; " + bits_param("server_max_window_bits", bits),
                       {.remote_max_window_bits = bits}});
  }
  for (int bits = 8; bits <= 15; ++bits) {
    configs.push_back({{"--client-max-window-bits", std::to_string(bits)},
                       "permessage-deflate; " + bits_param("client_max_window_bits", bits),
                       {.local_max_window_bits = bits}});
  }
  for (const auto& c : configs)
    our_client_offers(peer, c.args, {{"our default offer", {}, c.header, c.deflate}});
}
