// The frame codec, masking and close frame payloads, byte for byte.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "websockets/frame.hpp"

using namespace websockets;
using Catch::Matchers::Contains;
using detail::mask_key;

namespace {

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s += static_cast<char>(b);
  return s;
}

std::span<const std::byte> as_span(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

mask_key key(unsigned a, unsigned b, unsigned c, unsigned d) {
  return {std::byte(a), std::byte(b), std::byte(c), std::byte(d)};
}

// The simplest masking there is, to check the fast ones against.
void reference_mask(unsigned char* p, std::size_t n, const mask_key& k, std::size_t phase) {
  for (std::size_t i = 0; i < n; ++i)
    p[i] = static_cast<unsigned char>(p[i] ^ std::to_integer<unsigned>(k[(phase + i) % 4]));
}

frame make(opcode op, std::string data, bool fin = true) {
  frame f;
  f.op = op;
  f.fin = fin;
  f.data = std::move(data);
  return f;
}

void check_same(const frame& a, const frame& b) {
  CHECK(a.fin == b.fin);
  CHECK(a.rsv1 == b.rsv1);
  CHECK(a.rsv2 == b.rsv2);
  CHECK(a.rsv3 == b.rsv3);
  CHECK(a.op == b.op);
  CHECK(a.data == b.data);
}

// Serializes `f` (masked with `k` if given), checks the bytes, and parses
// them back.
void check_both_ways(const frame& f, const std::string& wire,
                     const std::optional<mask_key>& k = std::nullopt) {
  CHECK(serialize_frame(f, k) == wire);
  frame back;
  back.data = "garbage from before";
  CHECK(parse_frame(as_span(wire), back) == wire.size());
  check_same(back, f);
}

}  // namespace

TEST_CASE("RFC 6455 5.7 examples, byte for byte", "[frame]") {
  const mask_key k = key(0x37, 0xfa, 0x21, 0x3d);
  SECTION("a single-frame unmasked text message") {
    check_both_ways(make(opcode::text, "Hello"), bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  }
  SECTION("a single-frame masked text message") {
    check_both_ways(make(opcode::text, "Hello"),
                    bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), k);
  }
  SECTION("a fragmented unmasked text message") {
    check_both_ways(make(opcode::text, "Hel", false), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
    check_both_ways(make(opcode::cont, "lo"), bytes({0x80, 0x02, 0x6c, 0x6f}));
  }
  SECTION("an unmasked ping and a masked pong") {
    check_both_ways(make(opcode::ping, "Hello"), bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    check_both_ways(make(opcode::pong, "Hello"),
                    bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), k);
  }
  SECTION("256 bytes and 64 KiB binary messages, unmasked and masked") {
    for (std::size_t n : {std::size_t{256}, std::size_t{65536}}) {
      std::string payload(n, '\0');
      for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 7 + (i >> 8));
      const std::string header =
          n == 256 ? bytes({0x82, 0x7E, 0x01, 0x00}) : bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0});
      check_both_ways(make(opcode::binary, payload), header + payload);

      std::string masked = payload;
      reference_mask(reinterpret_cast<unsigned char*>(masked.data()), n, k, 0);
      std::string masked_header = header;
      masked_header[1] = static_cast<char>(masked_header[1] | 0x80);
      check_both_ways(make(opcode::binary, payload),
                      masked_header + bytes({0x37, 0xfa, 0x21, 0x3d}) + masked, k);
    }
  }
}

TEST_CASE("the three length encodings at their boundaries", "[frame]") {
  struct boundary {
    std::uint64_t length;
    std::string encoded;  // the second byte on, without the mask bit
  };
  const boundary cases[] = {
      {0, bytes({0})},
      {1, bytes({1})},
      {125, bytes({125})},
      {126, bytes({126, 0, 126})},
      {127, bytes({126, 0, 127})},
      {65535, bytes({126, 0xFF, 0xFF})},
      {65536, bytes({127, 0, 0, 0, 0, 0, 1, 0, 0})},
      {0xFFFFFFFF, bytes({127, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})},
      {0x100000000, bytes({127, 0, 0, 0, 1, 0, 0, 0, 0})},
      {0x7FFFFFFFFFFFFFFF, bytes({127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})},
  };
  for (const auto& c : cases) {
    for (bool masked : {false, true}) {
      INFO("length " << c.length << (masked ? ", masked" : ""));
      frame_header h;
      h.opcode = 2;
      h.length = c.length;
      h.masked = masked;
      h.mask = key(1, 2, 3, 4);
      std::string expected = bytes({0x82}) + c.encoded;
      if (masked) expected[1] = static_cast<char>(expected[1] | 0x80);
      if (masked) expected += bytes({1, 2, 3, 4});

      std::byte out[max_frame_header_size];
      const std::size_t n = serialize_frame_header(h, out);
      REQUIRE(n == expected.size());
      CHECK(std::memcmp(out, expected.data(), n) == 0);

      frame_header back;
      CHECK(parse_frame_header(as_span(expected), back) == expected.size());
      CHECK(back.length == c.length);
      CHECK(back.masked == masked);
      CHECK(back.opcode == 2);
      CHECK(back.fin);
      if (masked) CHECK(back.mask == h.mask);
    }
  }
  // The whole-frame codec picks the same encodings.
  for (std::size_t n : {125, 126, 65535, 65536}) {
    const std::string wire = serialize_frame(make(opcode::binary, std::string(n, 'x')));
    const std::size_t header = n <= 125 ? 2 : n <= 65535 ? 4 : 10;
    CHECK(wire.size() == header + n);
  }
}

TEST_CASE("a length in a longer encoding than needed is accepted", "[frame]") {
  frame f;
  const std::string wire = bytes({0x81, 126, 0, 2}) + "hi";
  CHECK(parse_frame(as_span(wire), f) == wire.size());
  CHECK(f.data == "hi");
  const std::string wire8 = bytes({0x81, 127, 0, 0, 0, 0, 0, 0, 0, 2}) + "hi";
  CHECK(parse_frame(as_span(wire8), f) == wire8.size());
  CHECK(f.data == "hi");
}

TEST_CASE("a 64-bit length with its most significant bit set is a protocol error", "[frame]") {
  for (const std::string& wire :
       {bytes({0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}),
        bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}),
        bytes({0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})}) {
    frame_header h;
    try {
      parse_frame_header(as_span(wire), h);
      FAIL("no exception");
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1002);
      CHECK_THAT(e.what(), Contains("most significant bit"));
    }
    frame f;
    CHECK_THROWS_AS(parse_frame(as_span(wire), f), protocol_error);
  }
  // One less is fine: 2^63 - 1.
  frame_header h;
  const std::string ok = bytes({0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  CHECK(parse_frame_header(as_span(ok), h) == 10);
  CHECK(h.length == 0x7FFFFFFFFFFFFFFF);
}

TEST_CASE("every truncated prefix parses as incomplete", "[frame]") {
  const mask_key k = key(0xA1, 0xB2, 0xC3, 0xD4);
  std::vector<std::string> wires;
  for (std::size_t n : {0, 5, 125, 126, 300, 65535, 65536}) {
    std::string payload(n, 'p');
    wires.push_back(serialize_frame(make(opcode::binary, payload)));
    wires.push_back(serialize_frame(make(opcode::binary, payload), k));
  }
  wires.push_back(serialize_frame(make(opcode::close, bytes({0x03, 0xE8}) + "bye"), k));
  for (const auto& wire : wires) {
    INFO("a frame of " << wire.size() << " bytes");
    // The header: 0 and `out` untouched for every prefix shorter than it.
    frame_header full;
    const std::size_t hsize = parse_frame_header(as_span(wire), full);
    REQUIRE(hsize >= 2);
    for (std::size_t k2 = 0; k2 < hsize; ++k2) {
      frame_header h;
      h.length = 12345;
      h.opcode = 7;
      REQUIRE(parse_frame_header(as_span(wire).first(k2), h) == 0);
      REQUIRE(h.length == 12345);
      REQUIRE(h.opcode == 7);
    }
    // The whole frame: 0 for every prefix, its size when complete, and
    // nothing taken from the bytes that follow it.
    const std::size_t step = wire.size() > 1000 ? 997 : 1;
    for (std::size_t k2 = 0; k2 < wire.size(); k2 += step) {
      frame f;
      REQUIRE(parse_frame(as_span(wire).first(k2), f) == 0);
    }
    for (std::size_t k2 = wire.size() - std::min<std::size_t>(wire.size(), 20); k2 < wire.size();
         ++k2) {
      frame f;
      REQUIRE(parse_frame(as_span(wire).first(k2), f) == 0);
    }
    frame f;
    const std::string more = wire + bytes({0x81, 0x00});
    CHECK(parse_frame(as_span(more), f) == wire.size());
    CHECK(f.data.size() == full.length);
  }
}

TEST_CASE("header bits and raw opcodes round-trip", "[frame]") {
  for (unsigned op = 0; op < 16; ++op) {
    for (unsigned bits = 0; bits < 16; ++bits) {
      frame_header h;
      h.fin = bits & 8;
      h.rsv1 = bits & 4;
      h.rsv2 = bits & 2;
      h.rsv3 = bits & 1;
      h.opcode = static_cast<std::uint8_t>(op);
      h.length = 3;
      std::byte out[max_frame_header_size];
      REQUIRE(serialize_frame_header(h, out) == 2);
      CHECK(std::to_integer<unsigned>(out[0]) == ((bits << 4) | op));
      frame_header back;
      REQUIRE(parse_frame_header(std::span<const std::byte>(out, 2), back) == 2);
      CHECK(back.fin == h.fin);
      CHECK(back.rsv1 == h.rsv1);
      CHECK(back.rsv2 == h.rsv2);
      CHECK(back.rsv3 == h.rsv3);
      CHECK(back.opcode == op);
      CHECK_FALSE(back.masked);
    }
  }
}

TEST_CASE("parse_frame rejects reserved opcodes as soon as the header is in", "[frame]") {
  for (unsigned op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    INFO("opcode " << op);
    const std::string header_only = bytes({0x80 | op, 10});  // payload not here yet
    frame f;
    try {
      parse_frame(as_span(header_only), f);
      FAIL("no exception");
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1002);
      CHECK_THAT(e.what(), Contains("opcode " + std::to_string(op)));
    }
    CHECK_FALSE(is_known_opcode(static_cast<std::uint8_t>(op)));
  }
  for (unsigned op : {0, 1, 2, 8, 9, 10}) CHECK(is_known_opcode(static_cast<std::uint8_t>(op)));
}

TEST_CASE("control and data opcodes", "[frame]") {
  CHECK(is_data(opcode::cont));
  CHECK(is_data(opcode::text));
  CHECK(is_data(opcode::binary));
  CHECK(is_control(opcode::close));
  CHECK(is_control(opcode::ping));
  CHECK(is_control(opcode::pong));
  for (opcode op : {opcode::cont, opcode::text, opcode::binary}) CHECK_FALSE(is_control(op));
  for (opcode op : {opcode::close, opcode::ping, opcode::pong}) CHECK_FALSE(is_data(op));
  static_assert(is_control(opcode::ping) && is_data(opcode::text));
}

TEST_CASE("frame::check", "[frame]") {
  SECTION("valid frames pass") {
    CHECK_NOTHROW(make(opcode::text, "hi").check());
    CHECK_NOTHROW(make(opcode::text, "hi", false).check());
    CHECK_NOTHROW(make(opcode::cont, std::string(100000, 'x'), false).check());
    CHECK_NOTHROW(make(opcode::binary, "").check());
    CHECK_NOTHROW(make(opcode::ping, std::string(125, 'x')).check());
    CHECK_NOTHROW(make(opcode::pong, "").check());
    CHECK_NOTHROW(make(opcode::close, bytes({0x03, 0xE8})).check());
  }
  SECTION("reserved bits") {
    for (int bit = 0; bit < 3; ++bit) {
      frame f = make(opcode::text, "hi");
      (bit == 0 ? f.rsv1 : bit == 1 ? f.rsv2 : f.rsv3) = true;
      try {
        f.check();
        FAIL("no exception");
      } catch (const protocol_error& e) {
        CHECK(e.close_code() == 1002);
        CHECK_THAT(e.what(), Contains("RSV" + std::to_string(bit + 1)));
        CHECK_THAT(e.what(), Contains("TEXT"));
      }
    }
    frame f = make(opcode::ping, "");
    f.rsv3 = true;
    CHECK_THROWS_AS(f.check(), protocol_error);
  }
  SECTION("control frames: 125 bytes at most, never fragmented") {
    for (opcode op : {opcode::close, opcode::ping, opcode::pong}) {
      CHECK_THROWS_WITH(make(op, std::string(126, 'x')).check(), Contains("too long"));
      CHECK_THROWS_WITH(make(op, "", false).check(), Contains("fragmented"));
    }
  }
  SECTION("a reserved opcode") {
    frame f = make(static_cast<opcode>(3), "");
    CHECK_THROWS_AS(f.check(), protocol_error);
  }
}

TEST_CASE("masking equals the byte-by-byte reference for every length, phase, alignment",
          "[frame][mask]") {
  using fn =
      std::size_t (*)(std::byte*, const std::byte*, std::size_t, const mask_key&, std::size_t);
  struct impl {
    const char* name;
    fn f;
  };
  std::vector<impl> impls = {{"mask_copy", &detail::mask_copy},
                             {"portable", &detail::mask_copy_portable}};
#ifdef WEBSOCKETS_DETAIL_MASK_X86
  impls.push_back({"sse2", &detail::mask_copy_sse2});
  if (detail::cpu_has_avx2())
    impls.push_back({"avx2", &detail::mask_copy_avx2});
  else
    WARN("no AVX2 on this CPU: its masking isn't tested");
#endif
  const mask_key k = key(0x12, 0x9A, 0xF0, 0x5C);
  constexpr std::size_t guard = 40;
  alignas(64) unsigned char src[guard + 64 + 1200 + guard];
  alignas(64) unsigned char dst[guard + 64 + 1200 + guard];
  unsigned char expected[1200];
  for (std::size_t i = 0; i < sizeof src; ++i) src[i] = static_cast<unsigned char>(i * 131 + 17);

  std::size_t checked = 0;
  const auto run = [&](const impl& im, std::size_t len, std::size_t phase, std::size_t src_off,
                       std::size_t dst_off, bool in_place) {
    std::memset(dst, 0xEE, sizeof dst);
    unsigned char* d = dst + guard + dst_off;
    const unsigned char* s = in_place ? d : src + guard + src_off;
    if (in_place) std::memcpy(d, src + guard + src_off, len);
    std::memcpy(expected, src + guard + src_off, len);
    reference_mask(expected, len, k, phase);
    const std::size_t next =
        im.f(reinterpret_cast<std::byte*>(d), reinterpret_cast<const std::byte*>(s), len, k, phase);
    // Nothing written outside.
    const auto untouched = [](const unsigned char* b, const unsigned char* e) {
      return std::all_of(b, e, [](unsigned char c) { return c == 0xEE; });
    };
    const bool ok = next == (phase + len) % 4 && std::memcmp(d, expected, len) == 0 &&
                    untouched(dst, d) && untouched(d + len, dst + sizeof dst);
    if (!ok) {
      INFO(im.name << ": length " << len << ", phase " << phase << ", src+" << src_off << ", dst+"
                   << dst_off << (in_place ? ", in place" : ""));
      REQUIRE(next == (phase + len) % 4);
      REQUIRE(std::memcmp(d, expected, len) == 0);
      REQUIRE(untouched(dst, d));
      REQUIRE(untouched(d + len, dst + sizeof dst));
    }
    ++checked;
  };

  for (const auto& im : impls) {
    for (std::size_t len = 0; len <= 300; ++len)
      for (std::size_t phase = 0; phase < 4; ++phase)
        for (std::size_t off = 0; off < 32; ++off) {
          run(im, len, phase, off, off, true);
          run(im, len, phase, (off * 7) % 32, off, false);
        }
    // Past the size where the AVX2 engine aligns its stores first.
    for (std::size_t len : {1023, 1024, 1025, 1027, 1100, 1200})
      for (std::size_t phase = 0; phase < 4; ++phase)
        for (std::size_t off = 0; off < 64; ++off) {
          run(im, len, phase, off, off, true);
          run(im, len, phase, (off * 5 + 3) % 64, off, false);
        }
  }
  CHECK(checked == impls.size() * (301 * 4 * 32 * 2 + 6 * 4 * 64 * 2));
}

TEST_CASE("masking in chunks equals masking at once", "[frame][mask]") {
  const mask_key k = key(0xDE, 0xAD, 0xBE, 0xEF);
  std::mt19937 rng(7);
  std::string original(70000, '\0');
  for (auto& c : original) c = static_cast<char>(rng());
  std::string whole = original;
  auto* w = reinterpret_cast<std::byte*>(whole.data());
  CHECK(detail::apply_mask(w, whole.size(), k) == whole.size() % 4);
  for (int round = 0; round < 50; ++round) {
    std::string chunked = original;
    auto* c = reinterpret_cast<std::byte*>(chunked.data());
    std::size_t phase = 0;
    for (std::size_t at = 0; at < chunked.size();) {
      const std::size_t n =
          std::min<std::size_t>(chunked.size() - at, round < 25 ? rng() % 40 : rng() % 5000);
      phase = detail::apply_mask(c + at, n, k, phase);
      at += n;
    }
    REQUIRE(chunked == whole);
  }
  // Masking twice gives the original back.
  detail::apply_mask(w, whole.size(), k);
  CHECK(whole == original);
}

TEST_CASE("close codes: which may be on the wire", "[frame][close]") {
  // Written out rather than computed: RFC 6455 7.4.1 and the IANA registry,
  // less 1004 (reserved), 1005, 1006 (never sent) and 1015 (TLS, never sent).
  const std::uint16_t allowed_1000s[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                         1009, 1010, 1011, 1012, 1013, 1014};
  std::size_t valid = 0;
  for (unsigned c = 0; c <= 65535; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    bool expected = c >= 3000 && c <= 4999;
    for (auto a : allowed_1000s) expected = expected || a == c;
    REQUIRE(is_valid_close_code(code) == expected);
    if (c > 5000) continue;
    INFO("code " << c);
    const std::string payload = bytes({c >> 8, c & 0xFF});
    if (expected) {
      ++valid;
      const auto [got, reason] = parse_close(payload);
      REQUIRE(got == code);
      REQUIRE(reason.empty());
      REQUIRE(serialize_close(code, "") == payload);
    } else {
      try {
        parse_close(payload);
        FAIL("no exception");
      } catch (const protocol_error& e) {
        REQUIRE(e.close_code() == 1002);
        REQUIRE_THAT(e.what(), Contains(std::to_string(c)));
      }
      try {
        serialize_close(code, "");
        FAIL("no exception");
      } catch (const protocol_error& e) {
        REQUIRE_THAT(e.what(), Contains(std::to_string(c)));
      }
    }
  }
  CHECK(valid == 12 + 2000);
}

TEST_CASE("close payloads", "[frame][close]") {
  SECTION("empty: no code, 1005") {
    const auto [code, reason] = parse_close("");
    CHECK(code == 1005);
    CHECK(reason.empty());
  }
  SECTION("one byte is too short") {
    try {
      parse_close(bytes({0x03}));
      FAIL("no exception");
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1002);
      CHECK_THAT(e.what(), Contains("1-byte"));
    }
  }
  SECTION("a code and a reason, both ways") {
    const std::string payload = bytes({0x03, 0xE9}) + "going away, bye ☺";
    CHECK(serialize_close(1001, "going away, bye ☺") == payload);
    const auto [code, reason] = parse_close(payload);
    CHECK(code == 1001);
    CHECK(reason == "going away, bye ☺");
    CHECK(serialize_close(4999, "x") == bytes({0x13, 0x87, 'x'}));
  }
  SECTION("123 bytes of reason fit, 124 don't") {
    const std::string r123(123, 'r');
    const std::string p = serialize_close(1000, r123);
    CHECK(p.size() == 125);
    CHECK(parse_close(p).second == r123);
    CHECK_THROWS_AS(serialize_close(1000, std::string(124, 'r')), std::invalid_argument);
    CHECK_THROWS_WITH(serialize_close(1000, std::string(124, 'r')), Contains("124"));
    // 123 bytes ending in a whole 3-byte code point.
    const std::string multi = std::string(120, 'r') + "€";
    CHECK(serialize_close(1000, multi).size() == 125);
  }
  SECTION("a reason that isn't valid UTF-8") {
    const std::string bad = "ok" + bytes({0xED, 0xA0, 0x80});
    try {
      parse_close(bytes({0x03, 0xE8}) + bad);
      FAIL("no exception");
    } catch (const protocol_error& e) {
      CHECK(e.close_code() == 1007);
      CHECK_THAT(e.what(), Contains("byte 5"));  // the A0, counting the code's 2 bytes
    }
    CHECK_THROWS_AS(parse_close(bytes({0x03, 0xE8, 0xC3})), protocol_error);  // cut short
    CHECK_THROWS_AS(serialize_close(1000, bad), std::invalid_argument);
    CHECK_THROWS_AS(serialize_close(1000, bytes({0xFF})), std::invalid_argument);
  }
}
