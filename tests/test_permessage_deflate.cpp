// permessage-deflate (RFC 7692): negotiation on both sides, the codec on the
// RFC's example bytes, round trips, limits, corrupt input and memory.
#include "websockets/extensions/permessage_deflate.hpp"

#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace websockets;
using websockets::detail::zlib_bytes_in_use;

// Counts heap allocations made through operator new, for the steady-state
// test; replaces the global operator for this test program. (GCC takes the
// free() in a replaced operator delete for a mismatch once inlined.)
static std::atomic<std::size_t> allocations{0};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static void* counted_malloc(std::size_t n) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_malloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_malloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace {

// ---- Helpers --------------------------------------------------------------

std::string unhex(std::string_view hex) {
  std::string out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out += static_cast<char>(hi * 16 + v);
      hi = -1;
    }
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

frame make_frame(opcode op, std::string data, bool fin = true, bool rsv1 = false) {
  frame f;
  f.fin = fin;
  f.rsv1 = rsv1;
  f.op = op;
  f.data = std::move(data);
  return f;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string text_like(std::size_t n, std::uint32_t seed) {
  static constexpr std::string_view words[] = {
      "the",   "socket", "frame",  "deflate", "window", "message", "server", "client",
      "value", "offer",  "answer", "close",   "ping",   "pong",    "data",   "stream"};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += words[rng() % 16];
    s += (rng() % 8 == 0) ? ", " : " ";
    if (rng() % 16 == 0) s += std::to_string(rng() % 1000) + "\n";
  }
  s.resize(n);
  return s;
}

// The settings of the other end of the same agreement.
deflate_settings mirror(deflate_settings s) {
  std::swap(s.local_no_context_takeover, s.remote_no_context_takeover);
  std::swap(s.local_max_window_bits, s.remote_max_window_bits);
  return s;
}

// Encodes one message as `pieces` frames (the last may be empty).
std::vector<frame> encode_message(permessage_deflate& e, opcode op, std::string_view msg,
                                  std::size_t pieces = 1) {
  std::vector<frame> frames;
  const std::size_t step = pieces > 1 ? msg.size() / pieces + 1 : msg.size();
  std::size_t at = 0;
  for (std::size_t i = 0; i < pieces; ++i) {
    const std::size_t n = std::min(step, msg.size() - at);
    frame f =
        make_frame(i == 0 ? op : opcode::cont, std::string(msg.substr(at, n)), i + 1 == pieces);
    at += n;
    e.encode(f);
    frames.push_back(std::move(f));
  }
  return frames;
}

// Decodes the frames of one message, passing each the room left.
std::string decode_message(permessage_deflate& d, std::vector<frame> frames,
                           std::optional<std::size_t> max_size = std::nullopt) {
  std::string out;
  for (auto& f : frames) {
    d.decode(f, max_size ? std::optional<std::size_t>(*max_size - out.size()) : std::nullopt);
    CHECK_FALSE(f.rsv1);
    out += f.data;
  }
  return out;
}

std::string decode_one(permessage_deflate& d, std::string_view payload, bool rsv1 = true,
                       std::optional<std::size_t> max_size = std::nullopt) {
  frame f = make_frame(opcode::text, std::string(payload), true, rsv1);
  d.decode(f, max_size);
  CHECK_FALSE(f.rsv1);
  return f.data;
}

// Every message compressed, however small or random.
deflate_settings plain(int bits = 15) {
  return {.local_max_window_bits = bits,
          .remote_max_window_bits = bits,
          .min_size = 0,
          .skip_incompressible = false};
}

permessage_deflate& as_deflate(const std::unique_ptr<extension>& e) {
  REQUIRE(e);
  auto* p = dynamic_cast<permessage_deflate*>(e.get());
  REQUIRE(p);
  return *p;
}

// Runs the server's answer to each offer in turn, as the handshake does:
// declined offers throw, the first acceptable one wins.
std::optional<std::size_t> first_accepted(const server_permessage_deflate& server,
                                          const std::vector<extension_parameters>& offers,
                                          extension_parameters& answer,
                                          std::unique_ptr<extension>& ext) {
  for (std::size_t i = 0; i < offers.size(); ++i) {
    try {
      auto [params, e] = server.process_request_params(offers[i], {});
      answer = std::move(params);
      ext = std::move(e);
      return i;
    } catch (const negotiation_error&) {
    }
  }
  return std::nullopt;
}

using P = extension_parameters;
using param = std::pair<std::string, std::optional<std::string>>;

}  // namespace

// ---- Negotiation: the client's offer ---------------------------------------

TEST_CASE("client offers client_max_window_bits without a value by default",
          "[permessage_deflate][negotiation]") {
  client_permessage_deflate client;
  CHECK(client.name() == "permessage-deflate");
  CHECK(client.get_request_params() == P{param{"client_max_window_bits", std::nullopt}});
  CHECK(default_client_deflate()->get_request_params() == client.get_request_params());
  CHECK(default_client_deflate() == default_client_deflate());  // one shared factory
}

TEST_CASE("client offers every parameter in RFC order", "[permessage_deflate][negotiation]") {
  client_permessage_deflate client({.server_no_context_takeover = true,
                                    .client_no_context_takeover = true,
                                    .server_max_window_bits = 10,
                                    .client_max_window_bits = 11});
  CHECK(client.get_request_params() == P{param{"server_no_context_takeover", std::nullopt},
                                         param{"client_no_context_takeover", std::nullopt},
                                         param{"server_max_window_bits", "10"},
                                         param{"client_max_window_bits", "11"}});
  client_permessage_deflate bare({.offer_client_max_window_bits = false});
  CHECK(bare.get_request_params().empty());
}

// ---- Negotiation: the server's answer --------------------------------------

TEST_CASE("server defaults limit both windows to 12 bits", "[permessage_deflate][negotiation]") {
  auto server = default_server_deflate();
  auto [params, ext] =
      server->process_request_params(P{param{"client_max_window_bits", std::nullopt}}, {});
  CHECK(params == P{param{"server_max_window_bits", "12"}, param{"client_max_window_bits", "12"}});
  const auto& s = as_deflate(ext).settings();
  CHECK(s.local_max_window_bits == 12);
  CHECK(s.remote_max_window_bits == 12);
  CHECK_FALSE(s.local_no_context_takeover);
  CHECK_FALSE(s.remote_no_context_takeover);
  CHECK(s.mem_level == 0);  // picked from the window: 4 for 12 bits
  CHECK(s.compression_level == 6);
  CHECK(s.min_size == 32);
  CHECK(s.skip_incompressible);
  CHECK(ext->rsv_bits().rsv1);
  CHECK_FALSE(ext->rsv_bits().rsv2);
  CHECK(ext->name() == "permessage-deflate");
}

TEST_CASE("server can't limit the client's window when the offer doesn't allow it",
          "[permessage_deflate][negotiation]") {
  server_permessage_deflate server;
  auto [params, ext] = server.process_request_params({}, {});
  // RFC 7692 7.1.2.2: no client_max_window_bits in the answer to an offer without it.
  CHECK(params == P{param{"server_max_window_bits", "12"}});
  CHECK(as_deflate(ext).settings().remote_max_window_bits == 15);

  server_permessage_deflate strict({.require_client_max_window_bits = true});
  CHECK_THROWS_AS(strict.process_request_params({}, {}), negotiation_error);
  auto [p2, e2] = strict.process_request_params(P{param{"client_max_window_bits", "10"}}, {});
  CHECK(p2 == P{param{"server_max_window_bits", "12"}, param{"client_max_window_bits", "10"}});
  CHECK(as_deflate(e2).settings().remote_max_window_bits == 10);
}

TEST_CASE("server window sizes follow the offer within the configured limits",
          "[permessage_deflate][negotiation]") {
  server_permessage_deflate server({.server_max_window_bits = 12, .client_max_window_bits = 11});
  SECTION("smaller asks are granted") {
    auto [params, ext] = server.process_request_params(
        P{param{"server_max_window_bits", "9"}, param{"client_max_window_bits", "10"}}, {});
    CHECK(params == P{param{"server_max_window_bits", "9"}, param{"client_max_window_bits", "10"}});
    CHECK(as_deflate(ext).settings().local_max_window_bits == 9);
    CHECK(as_deflate(ext).settings().remote_max_window_bits == 10);
  }
  SECTION("larger asks are capped") {
    auto [params, ext] = server.process_request_params(
        P{param{"server_max_window_bits", "15"}, param{"client_max_window_bits", "14"}}, {});
    CHECK(params ==
          P{param{"server_max_window_bits", "12"}, param{"client_max_window_bits", "11"}});
  }
  SECTION("no limit configured: the offer's values, else 15") {
    server_permessage_deflate open(
        {.server_max_window_bits = std::nullopt, .client_max_window_bits = std::nullopt});
    auto [p1, e1] = open.process_request_params({}, {});
    CHECK(p1.empty());
    CHECK(as_deflate(e1).settings().local_max_window_bits == 15);
    CHECK(as_deflate(e1).settings().remote_max_window_bits == 15);
    auto [p2, e2] = open.process_request_params(
        P{param{"server_max_window_bits", "10"}, param{"client_max_window_bits", std::nullopt}},
        {});
    CHECK(p2 == P{param{"server_max_window_bits", "10"}});
    CHECK(as_deflate(e2).settings().local_max_window_bits == 10);
    CHECK(as_deflate(e2).settings().remote_max_window_bits == 15);
    auto [p3, e3] = open.process_request_params(P{param{"client_max_window_bits", "13"}}, {});
    CHECK(p3 == P{param{"client_max_window_bits", "13"}});
    CHECK(as_deflate(e3).settings().remote_max_window_bits == 13);
  }
}

TEST_CASE("server accepts or requires no_context_takeover", "[permessage_deflate][negotiation]") {
  SECTION("accepting: follows the offer") {
    server_permessage_deflate server;
    auto [params, ext] =
        server.process_request_params(P{param{"server_no_context_takeover", std::nullopt},
                                        param{"client_no_context_takeover", std::nullopt}},
                                      {});
    CHECK(params == P{param{"server_no_context_takeover", std::nullopt},
                      param{"client_no_context_takeover", std::nullopt},
                      param{"server_max_window_bits", "12"}});
    CHECK(as_deflate(ext).settings().local_no_context_takeover);
    CHECK(as_deflate(ext).settings().remote_no_context_takeover);
    auto [p2, e2] = server.process_request_params({}, {});
    CHECK_FALSE(as_deflate(e2).settings().local_no_context_takeover);
    CHECK_FALSE(as_deflate(e2).settings().remote_no_context_takeover);
  }
  SECTION("requiring: in every answer, offered or not") {
    server_permessage_deflate server(
        {.server_no_context_takeover = true, .client_no_context_takeover = true});
    auto [params, ext] = server.process_request_params({}, {});
    CHECK(params == P{param{"server_no_context_takeover", std::nullopt},
                      param{"client_no_context_takeover", std::nullopt},
                      param{"server_max_window_bits", "12"}});
    CHECK(as_deflate(ext).settings().local_no_context_takeover);
    CHECK(as_deflate(ext).settings().remote_no_context_takeover);
    // A client that didn't offer it must still accept it (RFC 7692 7.1.1.2).
    client_permessage_deflate client;
    auto c = client.process_response_params(params, {});
    CHECK(as_deflate(c).settings().local_no_context_takeover);
    CHECK(as_deflate(c).settings().remote_no_context_takeover);
    CHECK(as_deflate(c).settings().remote_max_window_bits == 12);
  }
}

TEST_CASE("server declines malformed offers with the matching exception",
          "[permessage_deflate][negotiation]") {
  server_permessage_deflate server;
  auto answer = [&](P p) { return server.process_request_params(p, {}); };

  for (const char* name : {"server_no_context_takeover", "client_no_context_takeover"}) {
    try {
      answer(P{param{name, std::nullopt}, param{name, std::nullopt}});
      FAIL("duplicate accepted");
    } catch (const duplicate_parameter& e) {
      CHECK(e.name() == name);
      CHECK(std::string(e.what()).find(name) != std::string::npos);
    }
    try {
      answer(P{param{name, "1"}});
      FAIL("value accepted");
    } catch (const invalid_parameter_value& e) {
      CHECK(e.name() == name);
      CHECK(e.value() == "1");
    }
  }
  for (const char* name : {"server_max_window_bits", "client_max_window_bits"}) {
    CHECK_THROWS_AS(answer(P{param{name, "10"}, param{name, "10"}}), duplicate_parameter);
    for (const char* bad : {"7", "16", "0", "08", "010", "", "abc", "9 ", "-9", "+9", "1e1"}) {
      INFO(name << "=" << bad);
      try {
        answer(P{param{name, bad}});
        FAIL("bad window accepted");
      } catch (const invalid_parameter_value& e) {
        CHECK(e.name() == name);
        CHECK(e.value() == bad);
      }
    }
  }
  CHECK_THROWS_AS(answer(P{param{"client_max_window_bits", std::nullopt},
                           param{"client_max_window_bits", "9"}}),
                  duplicate_parameter);
  // server_max_window_bits always needs a value.
  CHECK_THROWS_AS(answer(P{param{"server_max_window_bits", std::nullopt}}),
                  invalid_parameter_value);
  try {
    answer(P{param{"max_window_bits", "10"}});
    FAIL("unknown parameter accepted");
  } catch (const invalid_parameter_name& e) {
    CHECK(e.name() == "max_window_bits");
  }
  // Every one of these is a negotiation_error, which declines the offer.
  CHECK_THROWS_AS(answer(P{param{"x", std::nullopt}}), negotiation_error);
}

TEST_CASE("server takes the first acceptable offer of several",
          "[permessage_deflate][negotiation]") {
  server_permessage_deflate server({.require_client_max_window_bits = true});
  const std::vector<P> offers = {
      P{param{"server_max_window_bits", "7"}},  // invalid value
      P{param{"unknown", std::nullopt}},        // invalid name
      P{param{"server_no_context_takeover", std::nullopt},
        param{"server_no_context_takeover", std::nullopt}},  // duplicate
      P{param{"server_max_window_bits", "10"}},              // lacks client bits
      P{param{"server_max_window_bits", "11"}, param{"client_max_window_bits", std::nullopt}},
      P{param{"server_max_window_bits", "9"}, param{"client_max_window_bits", std::nullopt}},
  };
  P answer;
  std::unique_ptr<extension> ext;
  CHECK(first_accepted(server, offers, answer, ext) == 4u);
  CHECK(answer == P{param{"server_max_window_bits", "11"}, param{"client_max_window_bits", "12"}});
  CHECK(as_deflate(ext).settings().local_max_window_bits == 11);

  const std::vector<P> none = {offers[0], offers[1], offers[3]};
  CHECK_FALSE(first_accepted(server, none, answer, ext));
}

TEST_CASE("neither side stacks permessage-deflate with another RSV1 extension",
          "[permessage_deflate][negotiation]") {
  std::vector<std::unique_ptr<extension>> accepted;
  accepted.push_back(std::make_unique<permessage_deflate>());
  server_permessage_deflate server;
  CHECK_THROWS_AS(server.process_request_params({}, accepted), negotiation_error);
  client_permessage_deflate client;
  CHECK_THROWS_AS(client.process_response_params({}, accepted), negotiation_error);
}

// ---- Negotiation: the client's check of the answer --------------------------

TEST_CASE("client checks the answer against its offer", "[permessage_deflate][negotiation]") {
  SECTION("server_no_context_takeover asked for must be granted") {
    client_permessage_deflate client({.server_no_context_takeover = true});
    CHECK_THROWS_AS(client.process_response_params({}, {}), negotiation_error);
    auto e =
        client.process_response_params(P{param{"server_no_context_takeover", std::nullopt}}, {});
    CHECK(as_deflate(e).settings().remote_no_context_takeover);
  }
  SECTION("the server may reset its context unasked") {
    client_permessage_deflate client;
    auto e =
        client.process_response_params(P{param{"server_no_context_takeover", std::nullopt}}, {});
    CHECK(as_deflate(e).settings().remote_no_context_takeover);
    CHECK_FALSE(as_deflate(e).settings().local_no_context_takeover);
  }
  SECTION("client_no_context_takeover: offered, or imposed by the answer") {
    client_permessage_deflate offered({.client_no_context_takeover = true});
    CHECK(as_deflate(offered.process_response_params({}, {})).settings().local_no_context_takeover);
    client_permessage_deflate client;
    auto e =
        client.process_response_params(P{param{"client_no_context_takeover", std::nullopt}}, {});
    CHECK(as_deflate(e).settings().local_no_context_takeover);
  }
  SECTION("server_max_window_bits asked for: answered, and no larger") {
    client_permessage_deflate client({.server_max_window_bits = 10});
    CHECK_THROWS_AS(client.process_response_params({}, {}), negotiation_error);
    CHECK_THROWS_AS(client.process_response_params(P{param{"server_max_window_bits", "11"}}, {}),
                    negotiation_error);
    auto e = client.process_response_params(P{param{"server_max_window_bits", "9"}}, {});
    CHECK(as_deflate(e).settings().remote_max_window_bits == 9);
  }
  SECTION("server_max_window_bits not asked for: the server may still state it") {
    client_permessage_deflate client;
    auto e = client.process_response_params(P{param{"server_max_window_bits", "12"}}, {});
    CHECK(as_deflate(e).settings().remote_max_window_bits == 12);
    CHECK(as_deflate(client.process_response_params({}, {})).settings().remote_max_window_bits ==
          15);
  }
  SECTION("client_max_window_bits offered without a value") {
    client_permessage_deflate client;
    auto e = client.process_response_params(P{param{"client_max_window_bits", "10"}}, {});
    CHECK(as_deflate(e).settings().local_max_window_bits == 10);
    CHECK(as_deflate(client.process_response_params({}, {})).settings().local_max_window_bits ==
          15);
  }
  SECTION("client_max_window_bits offered with a value") {
    client_permessage_deflate client({.client_max_window_bits = 11});
    CHECK(as_deflate(client.process_response_params({}, {})).settings().local_max_window_bits ==
          11);
    auto e = client.process_response_params(P{param{"client_max_window_bits", "9"}}, {});
    CHECK(as_deflate(e).settings().local_max_window_bits == 9);
    CHECK_THROWS_AS(client.process_response_params(P{param{"client_max_window_bits", "12"}}, {}),
                    negotiation_error);
  }
  SECTION("client_max_window_bits not offered must not be answered") {
    client_permessage_deflate client({.offer_client_max_window_bits = false});
    CHECK_THROWS_AS(client.process_response_params(P{param{"client_max_window_bits", "10"}}, {}),
                    negotiation_error);
  }
  SECTION("malformed answers fail with the matching exception") {
    client_permessage_deflate client;
    CHECK_THROWS_AS(
        client.process_response_params(P{param{"client_max_window_bits", std::nullopt}}, {}),
        invalid_parameter_value);
    CHECK_THROWS_AS(client.process_response_params(P{param{"server_max_window_bits", "16"}}, {}),
                    invalid_parameter_value);
    CHECK_THROWS_AS(
        client.process_response_params(P{param{"server_no_context_takeover", std::nullopt},
                                         param{"server_no_context_takeover", std::nullopt}},
                                       {}),
        duplicate_parameter);
    CHECK_THROWS_AS(client.process_response_params(P{param{"bogus", "1"}}, {}),
                    invalid_parameter_name);
  }
}

TEST_CASE("factories reject options out of range", "[permessage_deflate][negotiation]") {
  CHECK_THROWS_AS(client_permessage_deflate({.server_max_window_bits = 7}), std::invalid_argument);
  CHECK_THROWS_AS(client_permessage_deflate({.client_max_window_bits = 16}), std::invalid_argument);
  CHECK_THROWS_AS(client_permessage_deflate({.compression_level = 10}), std::invalid_argument);
  CHECK_THROWS_AS(client_permessage_deflate({.mem_level = -1}), std::invalid_argument);
  CHECK_THROWS_AS(server_permessage_deflate({.mem_level = 10}), std::invalid_argument);
  CHECK_THROWS_AS(server_permessage_deflate({.server_max_window_bits = 16}), std::invalid_argument);
  CHECK_THROWS_AS(server_permessage_deflate({.client_max_window_bits = 7}), std::invalid_argument);
  CHECK_THROWS_AS(server_permessage_deflate({.client_max_window_bits = std::nullopt,
                                             .require_client_max_window_bits = true}),
                  std::invalid_argument);
  CHECK_THROWS_AS(permessage_deflate({.local_max_window_bits = 7}), std::invalid_argument);
  CHECK_THROWS_AS(permessage_deflate({.compression_level = -1}), std::invalid_argument);
  CHECK_NOTHROW(permessage_deflate({.local_max_window_bits = 8, .remote_max_window_bits = 8}));
}

TEST_CASE("a negotiated pair talks both ways", "[permessage_deflate][negotiation]") {
  struct combo {
    client_deflate_options client;
    server_deflate_options server;
  };
  const combo combos[] = {
      {{}, {}},
      {{.server_no_context_takeover = true, .client_no_context_takeover = true}, {}},
      {{.server_max_window_bits = 8, .client_max_window_bits = 8}, {}},
      {{.offer_client_max_window_bits = false},
       {.server_max_window_bits = std::nullopt, .client_max_window_bits = std::nullopt}},
      {{}, {.server_no_context_takeover = true, .client_max_window_bits = 9}},
  };
  for (const auto& c : combos) {
    client_permessage_deflate client(c.client);
    server_permessage_deflate server(c.server);
    auto [answer, server_ext] = server.process_request_params(client.get_request_params(), {});
    auto client_ext = client.process_response_params(answer, {});
    auto& s = as_deflate(server_ext);
    auto& k = as_deflate(client_ext);
    CHECK(s.settings().local_max_window_bits == k.settings().remote_max_window_bits);
    CHECK(s.settings().remote_max_window_bits == k.settings().local_max_window_bits);
    CHECK(s.settings().local_no_context_takeover == k.settings().remote_no_context_takeover);
    CHECK(s.settings().remote_no_context_takeover == k.settings().local_no_context_takeover);
    for (int i = 0; i < 3; ++i) {
      const std::string up = text_like(3000, 10 + i), down = text_like(5000, 20 + i);
      CHECK(decode_message(s, encode_message(k, opcode::text, up)) == up);
      CHECK(decode_message(k, encode_message(s, opcode::binary, down, 3)) == down);
    }
  }
}

// ---- Window bits 8 ------------------------------------------------------------

TEST_CASE("window bits 8 are honoured in both directions", "[permessage_deflate][window]") {
  // Messages of 300 random bytes, each sent twice in a row. A window of
  // 1024 bytes finds the repeat 300 bytes back, in the previous message; a
  // compressor for 256-byte peers must not. (Within one inflate() call zlib
  // accepts any distance into that call's output, so the repeat must cross a
  // message boundary to test the window.)
  std::vector<std::string> messages;
  for (std::uint32_t i = 0; i < 20; ++i) {
    messages.push_back(random_bytes(300, 500 + i));
    messages.push_back(messages.back());
  }
  auto exchange = [&](permessage_deflate& sender, permessage_deflate& receiver) {
    std::size_t repeats_size = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      auto frames = encode_message(sender, opcode::binary, messages[i], 1 + i % 2);
      if (i % 2) repeats_size += frames[0].data.size() + frames[1].data.size();
      CHECK(decode_message(receiver, frames) == messages[i]);
    }
    return repeats_size;
  };
  SECTION("a compressor limited to 8 bits stays within 256 bytes") {
    permessage_deflate sender({.local_max_window_bits = 8, .min_size = 0});
    permessage_deflate receiver({.remote_max_window_bits = 8});
    CHECK(exchange(sender, receiver) > 20 * 300);  // no repeat was found
  }
  SECTION("the check can fail: a 10-bit compressor's output breaks an 8-bit decompressor") {
    permessage_deflate sender({.local_max_window_bits = 10, .min_size = 0});
    permessage_deflate wide({.remote_max_window_bits = 10});
    CHECK(exchange(sender, wide) < 20 * 30);  // the repeats were found

    permessage_deflate sender2({.local_max_window_bits = 10, .min_size = 0});
    permessage_deflate narrow({.remote_max_window_bits = 8});
    CHECK(decode_message(narrow, encode_message(sender2, opcode::binary, messages[0])) ==
          messages[0]);
    try {
      decode_message(narrow, encode_message(sender2, opcode::binary, messages[1]));
      FAIL("an out-of-window distance was accepted");
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1007);
      CHECK(std::string(e.what()).find("too far back") != std::string::npos);
    }
  }
  SECTION("negotiated 8 bits, both roles") {
    server_permessage_deflate server({.server_max_window_bits = 8, .client_max_window_bits = 8});
    client_permessage_deflate client;
    auto [answer, s] = server.process_request_params(client.get_request_params(), {});
    CHECK(answer == P{param{"server_max_window_bits", "8"}, param{"client_max_window_bits", "8"}});
    auto k = client.process_response_params(answer, {});
    CHECK(as_deflate(k).settings().local_max_window_bits == 8);
    CHECK(as_deflate(k).settings().remote_max_window_bits == 8);
    exchange(as_deflate(k), as_deflate(s));
    exchange(as_deflate(s), as_deflate(k));
  }
}

// ---- RFC 7692 section 7.2.3 examples ---------------------------------------

TEST_CASE("RFC 7692 7.2.3.1: \"Hello\" compressed, whole and fragmented",
          "[permessage_deflate][rfc]") {
  permessage_deflate e(plain());
  frame f = make_frame(opcode::text, "Hello");
  e.encode(f);
  CHECK(f.rsv1);
  CHECK(f.op == opcode::text);
  CHECK(hex(f.data) == "f2 48 cd c9 c9 07 00");

  permessage_deflate d(plain());
  CHECK(decode_one(d, unhex("f2 48 cd c9 c9 07 00")) == "Hello");
  // 0x41 0x03 f2 48 cd / 0x80 0x04 c9 c9 07 00
  std::vector<frame> frames;
  frames.push_back(make_frame(opcode::text, unhex("f2 48 cd"), false, true));
  frames.push_back(make_frame(opcode::cont, unhex("c9 c9 07 00"), true, false));
  CHECK(decode_message(d, frames) == "Hello");
}

TEST_CASE("RFC 7692 7.2.3.2: sharing the LZ77 window", "[permessage_deflate][rfc]") {
  permessage_deflate e(plain());
  frame a = make_frame(opcode::text, "Hello");
  frame b = make_frame(opcode::text, "Hello");
  e.encode(a);
  e.encode(b);
  CHECK(hex(a.data) == "f2 48 cd c9 c9 07 00");
  CHECK(hex(b.data) == "f2 00 11 00 00");
  CHECK(b.rsv1);

  permessage_deflate d(plain());
  CHECK(decode_one(d, unhex("f2 48 cd c9 c9 07 00")) == "Hello");
  CHECK(decode_one(d, unhex("f2 00 11 00 00")) == "Hello");

  // Without context takeover the second message doesn't refer back.
  permessage_deflate reset({.local_no_context_takeover = true, .min_size = 0});
  frame c = make_frame(opcode::text, "Hello");
  frame g = make_frame(opcode::text, "Hello");
  reset.encode(c);
  reset.encode(g);
  CHECK(hex(g.data) == "f2 48 cd c9 c9 07 00");
  // And a receiver told the peer resets can't be fooled into referring back.
  permessage_deflate fresh({.remote_no_context_takeover = true});
  CHECK(decode_one(fresh, unhex("f2 48 cd c9 c9 07 00")) == "Hello");
  CHECK_THROWS_AS(decode_one(fresh, unhex("f2 00 11 00 00")), protocol_error);
}

TEST_CASE("RFC 7692 7.2.3.3 to 7.2.3.5: other block shapes", "[permessage_deflate][rfc]") {
  permessage_deflate d(plain());
  // A stored (uncompressed) block.
  CHECK(decode_one(d, unhex("00 05 00 fa ff 48 65 6c 6c 6f 00")) == "Hello");
  // A final block (BFINAL = 1), then an empty stored block's first byte.
  CHECK(decode_one(d, unhex("f3 48 cd c9 c9 07 00 00")) == "Hello");
  // Two blocks in one message.
  CHECK(decode_one(d, unhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")) == "Hello");
}

TEST_CASE("after a final block the window carries over to the next message",
          "[permessage_deflate][rfc]") {
  permessage_deflate d(plain());
  CHECK(decode_one(d, unhex("f3 48 cd c9 c9 07 00 00")) == "Hello");
  CHECK(decode_one(d, unhex("f2 00 11 00 00")) == "Hello");  // refers to the first
  // A final block without the trailing 0x00 is accepted too.
  permessage_deflate d2(plain());
  CHECK(decode_one(d2, unhex("f3 48 cd c9 c9 07 00")) == "Hello");
  CHECK(decode_one(d2, unhex("f2 00 11 00 00")) == "Hello");
}

TEST_CASE("an empty message compresses to a single 0x00", "[permessage_deflate][rfc]") {
  permessage_deflate e(plain());
  permessage_deflate d(plain());
  for (int i = 0; i < 3; ++i) {  // fresh, then right after a flush
    frame f = make_frame(opcode::binary, "");
    e.encode(f);
    CHECK(f.rsv1);
    CHECK(hex(f.data) == "00");
    d.decode(f, 0);
    CHECK(f.data.empty());
    auto frames = encode_message(e, opcode::text, "data");
    CHECK(decode_message(d, frames) == "data");
  }
  // An empty last fragment after a flushed one (RFC 7692 7.2.3.6).
  std::vector<frame> frames;
  frames.push_back(make_frame(opcode::text, "Hello", false));
  frames.push_back(make_frame(opcode::cont, "", true));
  for (auto& f : frames) e.encode(f);
  CHECK(frames[0].rsv1);
  CHECK_FALSE(frames[1].rsv1);
  CHECK(hex(frames[1].data) == "00");
  CHECK(decode_message(d, frames) == "Hello");
}

// ---- Encoding rules ---------------------------------------------------------

TEST_CASE("RSV1 only on the first frame; non-final frames keep the flush marker",
          "[permessage_deflate][codec]") {
  permessage_deflate e(plain());
  const std::string msg = text_like(10000, 1);
  auto frames = encode_message(e, opcode::text, msg, 4);
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].rsv1);
  CHECK(frames[0].op == opcode::text);
  for (std::size_t i = 1; i < 4; ++i) {
    CHECK_FALSE(frames[i].rsv1);
    CHECK(frames[i].op == opcode::cont);
  }
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK_FALSE(frames[i].fin);
    CHECK(frames[i].data.substr(frames[i].data.size() - 4) == unhex("00 00 ff ff"));
  }
  CHECK(frames[3].fin);
  CHECK(frames[3].data.substr(frames[3].data.size() - 4) != unhex("00 00 ff ff"));
  permessage_deflate d(plain());
  CHECK(decode_message(d, frames) == msg);
}

TEST_CASE("control frames pass untouched both ways", "[permessage_deflate][codec]") {
  permessage_deflate e(plain());
  for (opcode op : {opcode::ping, opcode::pong, opcode::close}) {
    frame f = make_frame(op, "payload");
    e.encode(f);
    CHECK_FALSE(f.rsv1);
    CHECK(f.data == "payload");
    e.decode(f, 3);  // not limited either: the connection checks control frames
    CHECK(f.data == "payload");
  }
  // Even in the middle of a fragmented message.
  frame first = make_frame(opcode::text, "Hello, ", false);
  e.encode(first);
  frame ping = make_frame(opcode::ping, "x");
  e.encode(ping);
  CHECK(ping.data == "x");
  frame last = make_frame(opcode::cont, "world");
  e.encode(last);
  permessage_deflate d(plain());
  CHECK(decode_message(d, {first, last}) == "Hello, world");
}

TEST_CASE("small messages go uncompressed below min_size", "[permessage_deflate][codec]") {
  permessage_deflate e({.min_size = 16});
  permessage_deflate d;
  frame small = make_frame(opcode::text, "short message");  // 13 bytes
  e.encode(small);
  CHECK_FALSE(small.rsv1);
  CHECK(small.data == "short message");
  frame big = make_frame(opcode::text, "a message of sixteen or more bytes");
  e.encode(big);
  CHECK(big.rsv1);
  // A small first fragment: the message's size is unknown, so it's compressed.
  frame part = make_frame(opcode::text, "tiny", false);
  e.encode(part);
  CHECK(part.rsv1);
  frame rest = make_frame(opcode::cont, "tiny");
  e.encode(rest);

  CHECK(decode_one(d, small.data, false) == "short message");
  CHECK(decode_one(d, big.data) == "a message of sixteen or more bytes");
  CHECK(decode_message(d, {part, rest}) == "tinytiny");
  CHECK(permessage_deflate().settings().min_size == 32);
}

TEST_CASE("messages that look random go uncompressed", "[permessage_deflate][codec]") {
  using detail::looks_incompressible;
  const std::string rnd = random_bytes(100000, 3);
  CHECK_FALSE(looks_incompressible(std::string_view(rnd).substr(0, 1023)));  // too small to tell
  CHECK(looks_incompressible(std::string_view(rnd).substr(0, 1024)));
  CHECK(looks_incompressible(std::string_view(rnd).substr(0, 5000)));
  CHECK(looks_incompressible(rnd));
  CHECK_FALSE(looks_incompressible(text_like(100000, 4)));
  CHECK_FALSE(looks_incompressible(std::string(5000, 'x')));
  // Hex of random bytes: high entropy per symbol, few symbols.
  std::string hexed;
  for (unsigned char c : rnd.substr(0, 4000)) hexed += "0123456789abcdef"[c % 16];
  CHECK_FALSE(looks_incompressible(hexed));
  // Bytes 0..255 cycling: every value, but trivially compressible.
  std::string cycle(8192, '\0');
  for (std::size_t i = 0; i < cycle.size(); ++i) cycle[i] = static_cast<char>(i);
  CHECK(looks_incompressible(cycle));  // a known false positive: costs ratio, not correctness
  // Random at the start, text in the slices sampled further on.
  std::string mixed = rnd.substr(0, 1024) + text_like(60000, 5);
  CHECK_FALSE(looks_incompressible(mixed));

  permessage_deflate e, d;
  frame f = make_frame(opcode::binary, rnd);
  e.encode(f);
  CHECK_FALSE(f.rsv1);
  CHECK(f.data == rnd);
  const std::string text = text_like(5000, 6);
  frame g = make_frame(opcode::text, text);
  e.encode(g);
  CHECK(g.rsv1);
  // Fragmented: the first frame decides for the whole message.
  auto frames = encode_message(e, opcode::binary, rnd, 4);
  for (const auto& fr : frames) CHECK_FALSE(fr.rsv1);
  CHECK(frames[0].data + frames[1].data + frames[2].data + frames[3].data == rnd);
  CHECK(decode_message(d, {f}) == rnd);
  CHECK(decode_message(d, {g}) == text);
  CHECK(decode_message(d, frames) == rnd);
  CHECK(decode_message(d, encode_message(e, opcode::text, text)) == text);

  permessage_deflate always({.skip_incompressible = false});
  frame h = make_frame(opcode::binary, rnd);
  always.encode(h);
  CHECK(h.rsv1);
  CHECK(h.data.size() > rnd.size());  // stored blocks: a little bigger
}

TEST_CASE("a message sent without encode() keeps both ends in step",
          "[permessage_deflate][codec]") {
  for (bool reset : {false, true}) {
    INFO("no_context_takeover " << reset);
    deflate_settings s = plain();
    s.local_no_context_takeover = reset;
    permessage_deflate e(s);
    permessage_deflate d(mirror(s));
    const std::string one = text_like(4000, 7), two = text_like(4000, 8);
    auto m1 = encode_message(e, opcode::text, one);
    // The connection sends this one uncompressed: no encode(), RSV1 clear.
    std::vector<frame> m2 = {make_frame(opcode::binary, two.substr(0, 1000), false),
                             make_frame(opcode::cont, two.substr(1000), true)};
    auto m3 = encode_message(e, opcode::text, one, 3);  // refers back to m1 with context
    auto m4 = encode_message(e, opcode::text, two);
    CHECK(decode_message(d, m1) == one);
    CHECK(decode_message(d, m2) == two);
    CHECK(decode_message(d, m3) == one);
    CHECK(decode_message(d, m4) == two);
    if (!reset) CHECK(m3[0].data.size() + m3[1].data.size() + m3[2].data.size() < 200);
  }
}

// ---- Round trips --------------------------------------------------------------

TEST_CASE("round trips: sizes, data, fragmentation, contexts, windows",
          "[permessage_deflate][codec]") {
  std::vector<std::pair<std::string, bool>> messages;  // payload, is text
  std::uint32_t seed = 1;
  for (std::size_t size : {0u, 1u, 2u, 100u, 4095u, 65536u + 7u, 1u << 20}) {
    messages.emplace_back(text_like(size, seed++), true);
    messages.emplace_back(random_bytes(size, seed++), false);
  }
  for (bool local_reset : {false, true}) {
    for (bool remote_reset : {false, true}) {
      for (int bits : {8, 12, 15}) {
        deflate_settings s{.local_no_context_takeover = local_reset,
                           .remote_no_context_takeover = remote_reset,
                           .local_max_window_bits = bits,
                           .remote_max_window_bits = bits,
                           .min_size = 0,
                           .skip_incompressible = false};
        // Both directions of one connection, message after message.
        permessage_deflate a(s), b(mirror(s));
        for (const auto& [msg, text] : messages) {
          for (std::size_t pieces : {1u, 3u}) {
            INFO("reset " << local_reset << remote_reset << " bits " << bits << " size "
                          << msg.size() << (text ? " text" : " random") << " pieces " << pieces);
            auto frames = encode_message(a, text ? opcode::text : opcode::binary, msg, pieces);
            REQUIRE(decode_message(b, std::move(frames), msg.size()) == msg);
            auto back = encode_message(b, opcode::binary, msg, pieces);
            REQUIRE(decode_message(a, std::move(back)) == msg);
          }
        }
      }
    }
  }
}

TEST_CASE("round trips of 16 MiB messages", "[permessage_deflate][codec][large]") {
  const std::size_t size = 16u << 20;
  const std::string text = text_like(size, 99), rnd = random_bytes(size, 98);
  for (bool reset : {false, true}) {
    deflate_settings s{.local_no_context_takeover = reset,
                       .remote_no_context_takeover = !reset,
                       .local_max_window_bits = reset ? 15 : 10,
                       .remote_max_window_bits = reset ? 10 : 15,
                       .skip_incompressible = false};
    permessage_deflate a(s), b(mirror(s));
    for (std::size_t pieces : {1u, 5u}) {
      auto t = encode_message(a, opcode::text, text, pieces);
      std::size_t compressed = 0;
      for (const auto& f : t) compressed += f.data.size();
      CHECK(compressed < size / 2);
      CHECK(decode_message(b, std::move(t), size) == text);
    }
    const std::size_t pieces = reset ? 5 : 1;
    CHECK(decode_message(a, encode_message(b, opcode::binary, rnd, pieces), size) == rnd);
  }
  // One huge message doesn't pin the thread's scratch buffer.
  CHECK(detail::scratch_buffer::local().size() <= detail::scratch_buffer::keep);
}

// ---- Limits ---------------------------------------------------------------------

TEST_CASE("max_size is enforced on the decompressed size", "[permessage_deflate][limits]") {
  const std::string msg = text_like(100000, 5);
  permessage_deflate e(plain());
  auto frames = encode_message(e, opcode::text, msg);
  {
    permessage_deflate d(plain());
    CHECK(decode_message(d, frames, msg.size()) == msg);  // exactly at the limit
  }
  {
    permessage_deflate d(plain());
    try {
      decode_message(d, frames, msg.size() - 1);
      FAIL("over the limit accepted");
    } catch (const payload_too_big& ex) {
      CHECK(std::string(ex.what()).find(std::to_string(msg.size() - 1)) != std::string::npos);
    }
  }
  {
    // Fragmented: the connection passes the room left for the message.
    permessage_deflate e2(plain()), d(plain());
    CHECK_THROWS_AS(decode_message(d, encode_message(e2, opcode::text, msg, 4), 60000),
                    payload_too_big);
  }
}

TEST_CASE("a zip bomb stops at max_size", "[permessage_deflate][limits]") {
  SECTION("16 MiB of zeros in a few KiB") {
    permessage_deflate e(plain());
    const std::string zeros(16u << 20, '\0');
    auto frames = encode_message(e, opcode::binary, zeros);
    CHECK(frames[0].data.size() < 32 * 1024);
    permessage_deflate d(plain());
    CHECK_THROWS_AS(decode_message(d, frames, 1u << 20), payload_too_big);
  }
  SECTION("1 GiB of zeros, compressed by streaming, through the extension and zlib directly") {
    // Built chunk by chunk: never 1 GiB in memory.
    detail::deflater z({.level = 1, .window_bits = 15, .mem_level = 8});
    const std::string chunk(1u << 20, '\0');
    std::string bomb, out;
    for (int i = 0; i < 1024; ++i) {
      const std::size_t n = z.compress(chunk.data(), chunk.size(), out);
      bomb.append(out.data(), n);
    }
    bomb.resize(bomb.size() - 4);  // the sync flush's tail, as a sender strips it
    CHECK(bomb.size() < 8u << 20);
    const std::size_t max_size = 1u << 20;
    {
      permessage_deflate d(plain());
      CHECK_THROWS_AS(decode_one(d, bomb, true, max_size), payload_too_big);
    }
    // What was inflated before giving up: one byte over the limit.
    detail::inflater inf({.window_bits = 15});
    std::string buffer;
    CHECK_THROWS_AS(inf.decompress(bomb.data(), bomb.size(), buffer, 0, max_size), payload_too_big);
    CHECK(inf.total_out() == max_size + 1);
    CHECK(buffer.size() <= max_size + 1);
  }
}

// ---- Corrupt input -------------------------------------------------------------

TEST_CASE("corrupt compressed data fails with 1007", "[permessage_deflate][corrupt]") {
  auto expect_1007 = [](std::string_view payload, std::string_view why) {
    permessage_deflate d(plain());
    try {
      decode_one(d, payload);
      FAIL("corrupt data accepted: " << hex(payload));
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1007);
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  expect_1007(unhex("ff"), "invalid block type");
  expect_1007(unhex("07 00"), "invalid block type");
  expect_1007(unhex("00 05 00 00 00 48"), "invalid stored block lengths");
  expect_1007(unhex("f2 48 cd"), "ends inside a DEFLATE block");  // truncated
  expect_1007(unhex("f2 00 11 00 00"), "too far back");           // refers to nothing
  // Random garbage never crashes and is rejected or decodes to something.
  for (std::uint32_t seed = 0; seed < 300; ++seed) {
    permessage_deflate d(plain());
    const std::string junk = random_bytes(1 + seed % 64, seed);
    try {
      decode_one(d, junk, true, 1u << 16);
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1007);
    } catch (const payload_too_big&) {
    }
  }
  // A corrupt byte in the middle of a real message.
  permessage_deflate e(plain());
  auto frames = encode_message(e, opcode::text, text_like(20000, 3));
  std::size_t caught = 0;
  for (std::size_t at : {0u, 1u, 2u, 5u}) {
    auto bad = frames;
    bad[0].data[at] = static_cast<char>(bad[0].data[at] ^ 0x5a);
    permessage_deflate d(plain());
    try {
      decode_message(d, bad);
    } catch (const protocol_error& ex) {
      CHECK(ex.close_code() == 1007);
      ++caught;
    }
  }
  CHECK(caught >= 2);
}

TEST_CASE("RSV1 on a continuation frame fails with 1002", "[permessage_deflate][corrupt]") {
  permessage_deflate d(plain());
  frame first = make_frame(opcode::text, unhex("f2 48 cd"), false, true);
  d.decode(first, std::nullopt);
  frame next = make_frame(opcode::cont, unhex("c9 c9 07 00"), true, true);
  try {
    d.decode(next, std::nullopt);
    FAIL("RSV1 on a continuation frame accepted");
  } catch (const protocol_error& e) {
    CHECK(e.close_code() == 1002);
  }
  // Uncompressed messages, fragmented, pass through untouched.
  permessage_deflate d2(plain());
  frame a = make_frame(opcode::binary, "abc", false);
  frame b = make_frame(opcode::cont, "def");
  d2.decode(a, std::nullopt);
  d2.decode(b, std::nullopt);
  CHECK(a.data + b.data == "abcdef");
}

// ---- Memory ------------------------------------------------------------------------

TEST_CASE("zlib streams are made on first use and sized by the settings",
          "[permessage_deflate][memory]") {
  detail::clear_zlib_pools();
  const std::size_t base = zlib_bytes_in_use().load();
  {
    auto ext = default_server_deflate()
                   ->process_request_params(P{param{"client_max_window_bits", std::nullopt}}, {})
                   .second;
    CHECK(zlib_bytes_in_use().load() == base);  // nothing yet
    auto& d = as_deflate(ext);
    permessage_deflate peer(mirror(d.settings()));
    for (int i = 0; i < 4; ++i) {
      const std::string msg = text_like(3000, 40 + i);
      CHECK(decode_message(d, encode_message(peer, opcode::text, msg)) == msg);
      CHECK(decode_message(peer, encode_message(d, opcode::text, msg)) == msg);
    }
    const std::size_t both = zlib_bytes_in_use().load() - base;
    // The server's defaults keep an idle connection well under 64 KiB of
    // zlib state: both ends hold the same here.
    CHECK(both / 2 <= 48 * 1024);
    CHECK(both / 2 >= 20 * 1024);  // and the count is real
  }
  CHECK(zlib_bytes_in_use().load() == base);  // all freed
}

TEST_CASE("no_context_takeover streams return to the pool between messages",
          "[permessage_deflate][memory]") {
  detail::clear_zlib_pools();
  const std::size_t base = zlib_bytes_in_use().load();
  deflate_settings s{.local_no_context_takeover = true,
                     .remote_no_context_takeover = true,
                     .local_max_window_bits = 12,
                     .remote_max_window_bits = 12,
                     .min_size = 0};
  std::vector<std::unique_ptr<permessage_deflate>> ends;
  for (int i = 0; i < 20; ++i) ends.push_back(std::make_unique<permessage_deflate>(s));
  permessage_deflate peer(mirror(s));
  std::size_t after_first = 0;
  for (int round = 0; round < 5; ++round) {
    for (auto& end : ends) {
      const std::string msg = text_like(2000, static_cast<std::uint32_t>(round));
      CHECK(decode_message(*end, encode_message(peer, opcode::text, msg)) == msg);
      CHECK(decode_message(peer, encode_message(*end, opcode::text, msg, 2)) == msg);
    }
    if (round == 0) after_first = zlib_bytes_in_use().load();
    CHECK(zlib_bytes_in_use().load() == after_first);  // steady state: no new streams
  }
  // Twenty idle connections hold nothing: the streams wait in the pools.
  CHECK(detail::stream_pool<detail::deflater>::local().size() == 1);
  CHECK(detail::stream_pool<detail::inflater>::local().size() == 1);
  detail::clear_zlib_pools();
  CHECK(zlib_bytes_in_use().load() == base);
}

TEST_CASE("the steady state allocates nothing per message", "[permessage_deflate][memory]") {
  std::vector<std::string> messages;
  for (std::uint32_t i = 0; i < 16; ++i) messages.push_back(text_like(64u << (i % 11), 70 + i));
  for (bool reset : {false, true}) {
    INFO("no_context_takeover " << reset);
    deflate_settings s{.local_no_context_takeover = reset,
                       .remote_no_context_takeover = reset,
                       .local_max_window_bits = 12,
                       .remote_max_window_bits = 12};
    permessage_deflate sender(s), receiver(mirror(s));
    // As the connection does: one frame object each way, buffers reused.
    frame tx, rx;
    auto one_message = [&](const std::string& m) {
      tx.fin = true;
      tx.rsv1 = false;
      tx.op = opcode::text;
      tx.data.assign(m);
      sender.encode(tx);
      rx.fin = tx.fin;
      rx.rsv1 = tx.rsv1;
      rx.op = tx.op;
      rx.data.assign(tx.data);
      receiver.decode(rx, 1u << 20);
      return rx.data == m;
    };
    for (int round = 0; round < 2; ++round)  // warm up: buffers and streams grow
      for (const auto& m : messages) REQUIRE(one_message(m));
    const std::size_t before = allocations.load();
    for (int round = 0; round < 5; ++round)
      for (const auto& m : messages) REQUIRE(one_message(m));
    CHECK(allocations.load() - before == 0);
  }
}
