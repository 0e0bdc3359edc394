// Interop with Node's ws (tests/interop/node_*.js, the version pinned in
// tests/interop/package-lock.json): our server with its client, our client
// with its server, and permessage-deflate negotiated every way it can offer
// or accept.
//
// Unlike Python's websockets, ws works with 8-bit windows both ways (Node
// compresses with 9 bits when asked for 8), so those cases are in. ws's
// server answers an offer by echoing what it accepts, and drops a value-less
// client_max_window_bits unless it is configured with a size.
#include "interop_scenarios.hpp"

using namespace interop;

namespace {

constexpr auto peer = peer_kind::node;

std::string bits_param(std::string_view name, int bits) {
  return std::string(name) + "=" + std::to_string(bits);
}

}  // namespace

TEST_CASE("Node client, our server: text and binary from 0 B to 16 MiB", "[interop][node]") {
  SECTION("uncompressed") {
    our_server_echoes_every_size(peer, false);
  }
  SECTION("permessage-deflate") {
    our_server_echoes_every_size(peer, true);
  }
}

TEST_CASE("Node client, our server: fragments, pings, close codes", "[interop][node]") {
  our_server_fragments_pings_and_closes(peer);
}

TEST_CASE("Node server, our client: text and binary from 0 B to 16 MiB", "[interop][node]") {
  SECTION("uncompressed") {
    our_client_echoes_every_size(peer, false);
  }
  SECTION("permessage-deflate") {
    our_client_echoes_every_size(peer, true);
  }
}

TEST_CASE("Node server, our client: fragments, pings, close codes", "[interop][node]") {
  our_client_fragments_pings_and_closes(peer);
}

TEST_CASE("permessage-deflate: Node client offers, our server answers",
          "[interop][node][deflate]") {
  std::vector<peer_offer_case> cases;
  const auto accepting = accepting_server();
  // What ws offers, accepted as it is.
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
    cases.push_back({bits_param("client_max_window_bits", bits),
                     {"--client-max-window-bits", std::to_string(bits)},
                     accepting,
                     "permessage-deflate; " + bits_param("client_max_window_bits", bits),
                     {.remote_max_window_bits = bits}});
  }
  cases.push_back({"all four parameters",
                   {"--server-no-context-takeover", "--client-no-context-takeover",
                    "--server-max-window-bits", "8", "--client-max-window-bits", "8"},
                   accepting,
                   "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                   "server_max_window_bits=8; client_max_window_bits=8",
                   {true, true, 8, 8}});
  // What our server asks of ws's default offer.
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
  ours.client_max_window_bits = 8;
  cases.push_back({"our server limiting windows to 8 bits",
                   {},
                   ours,
                   "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
                   {.local_max_window_bits = 8, .remote_max_window_bits = 8}});
  peer_client_offers(peer, cases);
}

TEST_CASE("permessage-deflate: our client offers, Node server answers",
          "[interop][node][deflate]") {
  // ws's server with no parameters: no limits of its own.
  std::vector<our_offer_case> cases;
  cases.push_back({"our default offer", {}, "permessage-deflate", {}});
  cases.push_back({"server_no_context_takeover",
                   {.server_no_context_takeover = true},
                   "permessage-deflate; server_no_context_takeover",
                   {.remote_no_context_takeover = true}});
  cases.push_back({"client_no_context_takeover",
                   {.client_no_context_takeover = true},
                   "permessage-deflate; client_no_context_takeover",
                   {.local_no_context_takeover = true}});
  for (int bits = 8; bits <= 15; ++bits) {
    cases.push_back({bits_param("server_max_window_bits", bits),
                     {.server_max_window_bits = bits},
                     "permessage-deflate; " + bits_param("server_max_window_bits", bits),
                     {.remote_max_window_bits = bits}});
    cases.push_back({bits_param("client_max_window_bits", bits),
                     {.client_max_window_bits = bits},
                     "permessage-deflate; " + bits_param("client_max_window_bits", bits),
                     {.local_max_window_bits = bits}});
  }
  cases.push_back({"no client_max_window_bits",
                   {.offer_client_max_window_bits = false},
                   "permessage-deflate",
                   {}});
  our_client_offers(peer, {}, cases);
}

TEST_CASE("permessage-deflate: Node server configured, our client's default offer",
          "[interop][node][deflate]") {
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
  for (int bits = 8; bits <= 15; ++bits) {
    configs.push_back({{"--server-max-window-bits", std::to_string(bits)},
                       "permessage-deflate; " + bits_param("server_max_window_bits", bits),
                       {.remote_max_window_bits = bits}});
    configs.push_back({{"--client-max-window-bits", std::to_string(bits)},
                       "permessage-deflate; " + bits_param("client_max_window_bits", bits),
                       {.local_max_window_bits = bits}});
  }
  for (const auto& c : configs)
    our_client_offers(peer, c.args, {{"our default offer", {}, c.header, c.deflate}});
}
