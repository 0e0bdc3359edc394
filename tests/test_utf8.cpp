// UTF-8 validation: fixed samples, seams between pieces at every byte,
// both engines (automaton and AVX2) around their block sizes, and random
// strings checked against a reference decoder written here from RFC 3629.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "websockets/utf8.hpp"

using websockets::is_valid_utf8;
using websockets::utf8_validator;
namespace detail = websockets::detail;

namespace {

constexpr std::size_t npos = std::string_view::npos;

// What the reference decoder makes of a string: the offset of the first
// byte after which no continuation can make the string valid (npos if
// none), and whether the string ends on a code point boundary.
struct verdict {
  std::size_t error_at = npos;
  bool complete = true;
  bool valid() const { return error_at == npos && complete; }
};

// Whether some code point in [lo, hi] is a valid scalar value that takes
// exactly `n` bytes in UTF-8.
bool can_encode(std::uint32_t lo, std::uint32_t hi, int n) {
  static constexpr std::uint32_t min_for[] = {0, 0, 0x80, 0x800, 0x10000};
  static constexpr std::uint32_t max_for[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  lo = std::max(lo, min_for[n]);
  hi = std::min(hi, max_for[n]);
  if (lo > hi) return false;
  return lo < 0xD800 || hi > 0xDFFF;  // not only surrogates
}

// Decodes code point by code point. After each byte of a multi-byte
// sequence it asks whether the bits read so far can still end as a valid
// code point of that length; the first byte where they can't is the error.
verdict reference(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n;
    std::uint32_t bits;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC0 && b < 0xE0) {
      n = 2, bits = b & 0x1F;
    } else if (b >= 0xE0 && b < 0xF0) {
      n = 3, bits = b & 0x0F;
    } else if (b >= 0xF0 && b < 0xF8) {
      n = 4, bits = b & 0x07;
    } else {
      return {i, false};  // a continuation byte or F8..FF can't start one
    }
    for (int k = 1;; ++k) {
      const int unknown = 6 * (n - k);
      const std::uint32_t lo = bits << unknown;
      const std::uint32_t hi = lo | ((1u << unknown) - 1);
      if (!can_encode(lo, hi, n)) return {i + k - 1, false};
      if (k == n) break;
      if (i + k == s.size()) return {npos, false};
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return {i + k, false};
      bits = (bits << 6) | (c & 0x3F);
    }
    i += n;
  }
  return {npos, true};
}

std::string encode(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// An encoding in exactly `n` bytes, even where that's overlong or the value
// is out of range (up to 21 bits).
std::string encode_in(std::uint32_t cp, int n) {
  static constexpr unsigned lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  std::string s(static_cast<std::size_t>(n), '\0');
  for (int k = n - 1; k > 0; --k, cp >>= 6) s[k] = static_cast<char>(0x80 | (cp & 0x3F));
  s[0] = static_cast<char>(lead[n] | cp);
  return s;
}

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s += static_cast<char>(b);
  return s;
}

const unsigned char* uc(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool has_avx2() {
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
  return detail::utf8_cpu_has_avx2();
#else
  return false;
#endif
}

// The state an engine reaches must say the same as the reference: reject
// iff an error, accept iff valid, and a "need more" state otherwise.
void check_state(unsigned state, const verdict& v) {
  if (v.error_at != npos) {
    CHECK(state == detail::utf8_reject);
  } else if (v.complete) {
    CHECK(state == detail::utf8_accept);
  } else {
    CHECK(state != detail::utf8_reject);
    CHECK(state != detail::utf8_accept);
  }
}

// Checks every entry point on `s` as one piece, against the reference.
void check_whole(std::string_view s) {
  INFO("length " << s.size());
  const verdict v = reference(s);
  CHECK(is_valid_utf8(s) == v.valid());
  utf8_validator val;
  CHECK(val.feed(s) == (v.error_at == npos));
  CHECK(val.complete() == v.valid());
  const unsigned portable = detail::utf8_validate_portable(uc(s), s.size());
  check_state(portable, v);
  // Also the state reached with the automaton alone, byte by byte.
  CHECK(detail::utf8_run(detail::utf8_accept, uc(s), s.size()) == portable);
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
  if (has_avx2()) CHECK(detail::utf8_validate_avx2(uc(s), s.size()) == portable);
#endif
  CHECK(detail::utf8_error_offset(s) == (v.error_at != npos ? v.error_at
                                         : v.complete       ? npos
                                                            : s.size()));
}

// Feeds `s` in the pieces that end at `cuts` (increasing, the last is
// s.size()): the first piece that returns false must be the one holding
// the first impossible byte, and every later one returns false too.
void check_pieces(std::string_view s, const std::vector<std::size_t>& cuts) {
  const verdict v = reference(s);
  utf8_validator val;
  std::size_t begin = 0;
  for (std::size_t end : cuts) {
    const bool ok = val.feed(s.substr(begin, end - begin));
    const bool error_seen = v.error_at != npos && v.error_at < end;
    INFO("piece [" << begin << ", " << end << ") of " << s.size() << " bytes");
    REQUIRE(ok == !error_seen);
    begin = end;
  }
  CHECK(val.complete() == v.valid());
}

// Every split into two pieces, and every byte on its own.
void check_every_split(std::string_view s) {
  for (std::size_t k = 0; k <= s.size(); ++k) check_pieces(s, {k, s.size()});
  std::vector<std::size_t> each;
  for (std::size_t k = 1; k <= s.size(); ++k) each.push_back(k);
  check_pieces(s, each);
}

// A sample and the expected offset of its first impossible byte.
struct invalid_sample {
  const char* what;
  std::string text;
  std::size_t error_at;
};

std::vector<invalid_sample> invalid_samples() {
  return {
      {"lone continuation 80", bytes({0x80}), 0},
      {"lone continuation BF", bytes({0xBF}), 0},
      {"continuation after ASCII", bytes({'a', 0x80}), 1},
      {"continuation after a whole sequence", bytes({0xC3, 0xA9, 0x80}), 2},
      {"C0 (only overlong forms)", bytes({0xC0, 0x80}), 0},
      {"C1", bytes({0xC1, 0xBF}), 0},
      {"overlong 3-byte NUL", bytes({0xE0, 0x80, 0x80}), 1},
      {"overlong 3-byte U+07FF", bytes({0xE0, 0x9F, 0xBF}), 1},
      {"overlong 4-byte NUL", bytes({0xF0, 0x80, 0x80, 0x80}), 1},
      {"overlong 4-byte U+FFFF", bytes({0xF0, 0x8F, 0xBF, 0xBF}), 1},
      {"surrogate U+D800", bytes({0xED, 0xA0, 0x80}), 1},
      {"surrogate U+DFFF", bytes({0xED, 0xBF, 0xBF}), 1},
      {"surrogate pair as CESU-8", bytes({0xED, 0xA0, 0xBD, 0xED, 0xB2, 0xA9}), 1},
      {"U+110000", bytes({0xF4, 0x90, 0x80, 0x80}), 1},
      {"F5", bytes({0xF5, 0x80, 0x80, 0x80}), 0},
      {"F7 BF BF BF (U+1FFFFF)", bytes({0xF7, 0xBF, 0xBF, 0xBF}), 0},
      {"F8 (old 5-byte form)", bytes({0xF8, 0x88, 0x80, 0x80, 0x80}), 0},
      {"FC (old 6-byte form)", bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}), 0},
      {"FE", bytes({0xFE}), 0},
      {"FF", bytes({0xFF}), 0},
      {"2-byte lead then ASCII", bytes({0xC2, 'a'}), 1},
      {"3-byte lead, one continuation, then ASCII", bytes({0xE2, 0x82, 'a'}), 2},
      {"4-byte lead, two continuations, then a lead", bytes({0xF0, 0x9D, 0x84, 0xC3}), 3},
      {"lead then lead", bytes({0xE2, 0xE2, 0x82, 0xAC}), 1},
      {"too many continuations", bytes({0xE2, 0x82, 0xAC, 0xAC}), 3},
      {"valid text, then an error", "κόσμε" + bytes({0xED, 0xA0, 0x80}), 11},
  };
}

std::vector<std::string> valid_samples() {
  return {
      "",
      "Hello, world",
      bytes({0x00}),
      bytes({0x7F}),
      encode(0x80),
      encode(0x7FF),
      encode(0x800),
      "κόσμε",
      "€",
      encode(0xD7FF),
      encode(0xE000),
      encode(0xFFFD),
      encode(0xFFFF),
      encode(0x10000),
      "𝄞",
      "😀 emoji",
      encode(0x10FFFF),
      "日本語のテキスト",
      "mixed: a é € 𝄞 z",
  };
}

}  // namespace

TEST_CASE("the reference decoder agrees with the samples", "[utf8]") {
  for (const auto& s : valid_samples()) CHECK(reference(s).valid());
  for (const auto& s : invalid_samples()) {
    INFO(s.what);
    CHECK(reference(s.text).error_at == s.error_at);
  }
}

TEST_CASE("valid samples are accepted", "[utf8]") {
  for (const auto& s : valid_samples()) {
    INFO(s);
    CHECK(is_valid_utf8(s));
    utf8_validator v;
    CHECK(v.feed(s));
    CHECK(v.complete());
    check_whole(s);
  }
}

TEST_CASE("invalid samples fail at their first impossible byte", "[utf8]") {
  for (const auto& s : invalid_samples()) {
    INFO(s.what);
    CHECK_FALSE(is_valid_utf8(s.text));
    CHECK(detail::utf8_error_offset(s.text) == s.error_at);
    // Byte by byte: true up to the impossible byte, false from it on.
    utf8_validator v;
    for (std::size_t i = 0; i < s.text.size(); ++i) {
      INFO("byte " << i);
      CHECK(v.feed(std::string_view(s.text).substr(i, 1)) == (i < s.error_at));
    }
    CHECK_FALSE(v.complete());
    CHECK_FALSE(v.feed("more ASCII"));  // a rejection sticks
    v.reset();
    CHECK(v.feed("fine again"));
    CHECK(v.complete());
    check_whole(s.text);
  }
}

TEST_CASE("every code point encodes to valid UTF-8, every surrogate doesn't", "[utf8]") {
  std::string all;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      const std::string s = encode_in(cp, 3);
      REQUIRE_FALSE(is_valid_utf8(s));
      REQUIRE(detail::utf8_error_offset(s) == 1);
      continue;
    }
    const std::string s = encode(cp);
    REQUIRE(is_valid_utf8(s));
    all += s;
  }
  // All of them in one string: about 4 MB through the block engine.
  CHECK(is_valid_utf8(all));
  utf8_validator v;
  CHECK(v.feed(all.substr(0, all.size() / 3)));
  CHECK(v.feed(std::string_view(all).substr(all.size() / 3)));
  CHECK(v.complete());
}

TEST_CASE("overlong forms and values above U+10FFFF are rejected", "[utf8]") {
  // Every code point that fits in fewer bytes, encoded in 2, 3 or 4.
  for (int n = 2; n <= 4; ++n) {
    const std::uint32_t limit = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    for (std::uint32_t cp = 0; cp < limit; cp += (n == 4 ? 7 : 1)) {
      const std::string s = encode_in(cp, n);
      INFO("U+" << std::hex << cp << " in " << n << " bytes");
      REQUIRE_FALSE(is_valid_utf8(s));
      REQUIRE(detail::utf8_error_offset(s) == (n == 2 ? 0u : 1u));
    }
  }
  // 4-byte forms beyond U+10FFFF, up to the 21-bit limit.
  for (std::uint32_t cp = 0x110000; cp <= 0x1FFFFF; cp += 0x1111) {
    const std::string s = encode_in(cp, 4);
    INFO("U+" << std::hex << cp);
    REQUIRE_FALSE(is_valid_utf8(s));
    REQUIRE(detail::utf8_error_offset(s) == (cp < 0x140000 ? 1u : 0u));
  }
}

TEST_CASE("truncated sequences are valid prefixes but not complete", "[utf8]") {
  for (const std::string& s :
       {encode(0x80), encode(0x7FF), encode(0x800), encode(0xFFFF), encode(0x10000),
        encode(0x10FFFF), std::string("€"), std::string("𝄞")}) {
    for (std::size_t k = 1; k < s.size(); ++k) {
      const std::string cut = "abc" + s.substr(0, k);
      INFO("a " << s.size() << "-byte sequence cut after " << k);
      utf8_validator v;
      CHECK(v.feed(cut));
      CHECK_FALSE(v.complete());
      CHECK_FALSE(is_valid_utf8(cut));
      CHECK(detail::utf8_error_offset(cut) == cut.size());
      // The rest completes it.
      CHECK(v.feed(s.substr(k)));
      CHECK(v.complete());
    }
  }
}

TEST_CASE("split at every byte position, the verdict is the same", "[utf8]") {
  for (const auto& s : valid_samples()) {
    INFO(s);
    check_every_split(s);
    check_every_split("prefix " + s + " suffix");
  }
  for (const auto& s : invalid_samples()) {
    INFO(s.what);
    check_every_split(s.text);
    check_every_split("κόσμε " + s.text + " tail");
  }
}

TEST_CASE("all strings of one and two bytes, and of three and four from edge bytes", "[utf8]") {
  std::string s;
  for (unsigned a = 0; a < 256; ++a) {
    s = bytes({a});
    check_whole(s);
    for (unsigned b = 0; b < 256; ++b) {
      s = bytes({a, b});
      const verdict v = reference(s);
      REQUIRE(is_valid_utf8(s) == v.valid());
      REQUIRE(detail::utf8_error_offset(s) == (v.error_at != npos ? v.error_at
                                               : v.complete       ? npos
                                                                  : s.size()));
      // Every pair through the block engine too, inside a block and across
      // the seam of two.
      for (std::size_t at : {std::size_t{5}, std::size_t{31}}) {
        std::string t(64, 'x');
        t[at] = static_cast<char>(a);
        t[at + 1] = static_cast<char>(b);
        const unsigned portable = detail::utf8_validate_portable(uc(t), t.size());
        check_state(portable, reference(t));
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
        if (has_avx2()) REQUIRE(detail::utf8_validate_avx2(uc(t), t.size()) == portable);
#endif
      }
    }
  }
  // The bytes where some rule changes.
  const unsigned edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                            0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                            0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF};
  // Each 4-byte combination, at the start and at the seam of two 32-byte blocks,
  // after ASCII and after multi-byte text; the engines must agree with the
  // reference on all.
  std::string ascii_ctx(96, 'x');
  std::string multi_ctx;
  while (multi_ctx.size() < 26) multi_ctx += "é";  // 26 bytes of 2-byte code points
  std::size_t checked = 0;
  for (unsigned a : edges)
    for (unsigned b : edges)
      for (unsigned c : edges) {
        s = bytes({a, b, c});
        check_whole(s);
        for (unsigned d : edges) {
          const std::string q = bytes({a, b, c, d});
          for (std::size_t at : {std::size_t{0}, std::size_t{30}}) {
            std::string t = ascii_ctx;
            t.replace(at, 4, q);
            const verdict v = reference(t);
            REQUIRE(is_valid_utf8(t) == v.valid());
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
            if (has_avx2())
              REQUIRE(detail::utf8_validate_avx2(uc(t), t.size()) ==
                      detail::utf8_validate_portable(uc(t), t.size()));
#endif
          }
          std::string t = multi_ctx + q + std::string(40, 'y');
          const verdict v = reference(t);
          REQUIRE(is_valid_utf8(t) == v.valid());
          ++checked;
        }
      }
  CHECK(checked == 27u * 27 * 27 * 27);
}

TEST_CASE("the block engine is exact around its block sizes", "[utf8]") {
  // Sequences, valid and not, put at every offset of strings of every length
  // up to 4 blocks and a bit, in ASCII and in multi-byte surroundings.
  std::vector<std::string> pieces = valid_samples();
  for (const auto& s : invalid_samples()) pieces.push_back(s.text);
  pieces.push_back(bytes({0xF0, 0x9D}));  // cut short
  pieces.push_back(bytes({0xE2}));
  const std::string fillers[] = {"a", "é", "€", "𝄞"};
  for (const auto& filler : fillers) {
    INFO("filler " << filler);
    for (std::size_t len = 1; len <= 140; ++len) {
      // Every short length, and the lengths around the later block ends.
      if (len > 36 && (len + 4) % 32 > 8 && len != 140) continue;
      for (const auto& p : pieces) {
        if (p.empty() || p.size() > len) continue;
        for (std::size_t at = 0; at + p.size() <= len; ++at) {
          // `at` rounded to the filler's code points; the tail is cut short
          // at `len` bytes, which tests seams at the end too.
          std::string s;
          while (s.size() + filler.size() <= at) s += filler;
          s += p;
          while (s.size() < len) s += filler;
          s.resize(len);
          const verdict v = reference(s);
          REQUIRE(is_valid_utf8(s) == v.valid());
          const unsigned portable = detail::utf8_validate_portable(uc(s), s.size());
          check_state(portable, v);
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
          if (has_avx2()) REQUIRE(detail::utf8_validate_avx2(uc(s), s.size()) == portable);
#endif
        }
      }
    }
  }
  if (!has_avx2()) WARN("no AVX2 on this CPU: only the portable engine was tested");
}

namespace {

// A random string biased toward almost-valid UTF-8: mostly whole code
// points from every length class and the edges between them, then a few
// mutations that tend to hit exactly the rules.
std::string random_near_utf8(std::mt19937_64& rng) {
  const auto pick = [&rng](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };
  static constexpr std::uint32_t edge_cps[] = {0x0,     0x7F,    0x80,    0x7FF,    0x800,
                                               0xD7FF,  0xE000,  0xFFFD,  0xFFFF,   0x10000,
                                               0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
  static constexpr unsigned edge_bytes[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                            0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0,
                                            0xF4, 0xF5, 0xF8, 0xFF, 0x00, 0x7F};
  // Lengths: mostly short, some over several blocks.
  const std::size_t cps = pick(8) == 0 ? pick(400) : pick(40);
  const int mix = static_cast<int>(pick(4));  // how much ASCII
  const bool bad_encodings = pick(4) == 0;
  std::string s;
  for (std::size_t i = 0; i < cps; ++i) {
    const std::size_t kind = pick(bad_encodings ? 10 : 9);
    if (static_cast<int>(kind) < mix * 2) {
      s += static_cast<char>(0x20 + pick(0x5F));
    } else if (kind < 7) {
      std::uint32_t cp;
      switch (pick(3)) {
        case 0:
          cp = 0x80 + static_cast<std::uint32_t>(pick(0x780));
          break;
        case 1:
          cp = 0x800 + static_cast<std::uint32_t>(pick(0xF800));
          break;
        default:
          cp = 0x10000 + static_cast<std::uint32_t>(pick(0x100000));
          break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;
      s += encode(cp);
    } else if (kind < 9) {
      s += encode(edge_cps[pick(std::size(edge_cps))]);
    } else {
      // A code point encoded badly: overlong, a surrogate or too large.
      switch (pick(3)) {
        case 0:
          s += encode_in(static_cast<std::uint32_t>(pick(0x800)), 3);
          break;
        case 1:
          s += encode_in(0xD800 + static_cast<std::uint32_t>(pick(0x800)), 3);
          break;
        default:
          s += encode_in(0x110000 + static_cast<std::uint32_t>(pick(0xEFFFF)), 4);
          break;
      }
    }
  }
  // Some strings are cut short, likely inside a code point.
  if (!s.empty() && pick(6) == 0) s.resize(pick(s.size()));
  // Some get mutations: a byte changed, dropped or inserted.
  if (!s.empty() && pick(3) == 0) {
    const std::size_t n = 1 + pick(3);
    for (std::size_t m = 0; m < n && !s.empty(); ++m) {
      const std::size_t at = pick(s.size());
      const char b = pick(2) ? static_cast<char>(edge_bytes[pick(std::size(edge_bytes))])
                             : static_cast<char>(pick(256));
      switch (pick(3)) {
        case 0:
          s[at] = b;
          break;
        case 1:
          s.erase(at, 1);
          break;
        default:
          s.insert(at, 1, b);
          break;
      }
    }
  }
  return s;
}

}  // namespace

TEST_CASE("100k random near-UTF-8 strings agree with the reference decoder", "[utf8]") {
  std::mt19937_64 rng(20240601);
  std::size_t valid = 0, invalid = 0, incomplete = 0;
  for (int n = 0; n < 100000; ++n) {
    const std::string s = random_near_utf8(rng);
    const verdict v = reference(s);
    valid += v.valid();
    invalid += v.error_at != npos;
    incomplete += v.error_at == npos && !v.complete;
    REQUIRE(is_valid_utf8(s) == v.valid());
    const unsigned portable = detail::utf8_validate_portable(uc(s), s.size());
    if (v.error_at != npos) {
      REQUIRE(portable == detail::utf8_reject);
    } else {
      REQUIRE(portable == detail::utf8_run(detail::utf8_accept, uc(s), s.size()));
    }
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
    if (has_avx2()) REQUIRE(detail::utf8_validate_avx2(uc(s), s.size()) == portable);
#endif
    // In random pieces.
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; at < s.size();) {
      at = std::min(s.size(), at + 1 + static_cast<std::size_t>(rng() % 70));
      cuts.push_back(at);
    }
    if (cuts.empty()) cuts.push_back(0);
    check_pieces(s, cuts);
  }
  // The generator must produce all three outcomes in good numbers.
  CHECK(valid > 20000);
  CHECK(invalid > 20000);
  CHECK(incomplete > 1000);
}

TEST_CASE("a validator continues a code point across pieces into the block engine", "[utf8]") {
  // A 4-byte code point split 1|3, 2|2, 3|1, with a long multi-byte tail so
  // the second piece goes through the block engine after the seam.
  std::string tail;
  while (tail.size() < 300) tail += "日本𝄞é";
  for (std::size_t k = 1; k < 4; ++k) {
    const std::string s = "𝄞" + tail;
    utf8_validator v;
    CHECK(v.feed(s.substr(0, k)));
    CHECK(v.feed(s.substr(k)));
    CHECK(v.complete());
    // The same with an error right after the seam.
    utf8_validator w;
    CHECK(w.feed(s.substr(0, k)));
    CHECK_FALSE(w.feed(s.substr(k, 4 - k) + "\x80" + tail));
  }
}

TEST_CASE("empty input", "[utf8]") {
  utf8_validator v;
  CHECK(v.feed(nullptr, 0));
  CHECK(v.feed(std::string_view{}));
  CHECK(v.complete());
  CHECK(is_valid_utf8({}));
}
