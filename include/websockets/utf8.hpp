// UTF-8 validation (RFC 3629) of text messages and close reasons, which
// RFC 6455 requires to be valid UTF-8 (sections 5.6, 8.1).
//
// Two engines give the same verdicts:
// - an automaton over single bytes, with a skip over ASCII 16 bytes at a
//   time, which runs anywhere and handles the seams between pieces;
// - on x86-64 CPUs with AVX2, a vectorized range check that classifies every
//   pair of adjacent bytes of a 32-byte block with three 16-entry table
//   lookups (the method Keiser and Lemire published in 2020), and skips
//   blocks of ASCII with one test.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WEBSOCKETS_DETAIL_UTF8_X86 1
#include <immintrin.h>
#endif

namespace websockets {

namespace detail {

// The automaton's states. Each is a bit offset into a 64-bit row: the row of
// a byte holds, at the offset of every state, the 6-bit state that byte leads
// to, so a step is one table load and one shift. Reject, at offset 0, maps
// to 0 in every row and so never leaves.
inline constexpr unsigned utf8_reject = 0;
inline constexpr unsigned utf8_accept = 6;     // on a code point boundary
inline constexpr unsigned utf8_need1 = 12;     // one continuation byte to come
inline constexpr unsigned utf8_need2 = 18;     // two
inline constexpr unsigned utf8_need2_e0 = 24;  // two, after E0: next in A0..BF (no overlong)
inline constexpr unsigned utf8_need2_ed = 30;  // two, after ED: next in 80..9F (no surrogate)
inline constexpr unsigned utf8_need3 = 36;     // three
inline constexpr unsigned utf8_need3_f0 = 42;  // three, after F0: next in 90..BF (no overlong)
inline constexpr unsigned utf8_need3_f4 = 48;  // three, after F4: next in 80..8F (≤ U+10FFFF)

// The RFC 3629 grammar, one byte at a time.
constexpr unsigned utf8_next_state(unsigned state, unsigned b) noexcept {
  const auto in = [b](unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  switch (state) {
    case utf8_accept:
      if (b < 0x80) return utf8_accept;
      if (in(0xC2, 0xDF)) return utf8_need1;
      if (b == 0xE0) return utf8_need2_e0;
      if (b == 0xED) return utf8_need2_ed;
      if (in(0xE1, 0xEF)) return utf8_need2;
      if (b == 0xF0) return utf8_need3_f0;
      if (b == 0xF4) return utf8_need3_f4;
      if (in(0xF1, 0xF3)) return utf8_need3;
      return utf8_reject;  // 80..BF, C0, C1, F5..FF can't start a code point
    case utf8_need1:
      return in(0x80, 0xBF) ? utf8_accept : utf8_reject;
    case utf8_need2:
      return in(0x80, 0xBF) ? utf8_need1 : utf8_reject;
    case utf8_need2_e0:
      return in(0xA0, 0xBF) ? utf8_need1 : utf8_reject;
    case utf8_need2_ed:
      return in(0x80, 0x9F) ? utf8_need1 : utf8_reject;
    case utf8_need3:
      return in(0x80, 0xBF) ? utf8_need2 : utf8_reject;
    case utf8_need3_f0:
      return in(0x90, 0xBF) ? utf8_need2 : utf8_reject;
    case utf8_need3_f4:
      return in(0x80, 0x8F) ? utf8_need2 : utf8_reject;
    default:
      return utf8_reject;
  }
}

// One row per byte value, built from utf8_next_state at compile time.
inline constexpr std::array<std::uint64_t, 256> utf8_rows = [] {
  std::array<std::uint64_t, 256> rows{};
  for (unsigned b = 0; b < 256; ++b)
    for (unsigned s = utf8_accept; s <= utf8_need3_f4; s += 6)
      rows[b] |= std::uint64_t{utf8_next_state(s, b)} << s;
  return rows;
}();

// Runs the automaton over n bytes from `state`; returns the state reached.
inline unsigned utf8_run(unsigned state, const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t s = state;
  for (std::size_t i = 0; i < n; ++i) s = utf8_rows[p[i]] >> (s & 63);
  return static_cast<unsigned>(s & 63);
}

// Validates n bytes that start on a code point boundary, with the automaton
// and an ASCII skip; returns the state reached (utf8_reject on an error).
inline unsigned utf8_validate_portable(const unsigned char* p, std::size_t n) noexcept {
  constexpr std::uint64_t high_bits = 0x8080808080808080;
  unsigned state = utf8_accept;
  std::size_t i = 0;
  while (i < n) {
    if (state == utf8_accept) {
      std::uint64_t a, b;
      for (; i + 16 <= n; i += 16) {
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, p + i + 8, 8);
        if ((a | b) & high_bits) break;
      }
      if (i + 8 <= n) {
        std::memcpy(&a, p + i, 8);
        if ((a & high_bits) == 0) i += 8;
      }
    }
    // Then 16 bytes through the automaton before looking for ASCII again.
    const std::size_t run = n - i < 16 ? n - i : 16;
    state = utf8_run(state, p + i, run);
    i += run;
    if (state == utf8_reject) break;
  }
  return state;
}

#ifdef WEBSOCKETS_DETAIL_UTF8_X86

// The vectorized check sees each byte together with the one before it and
// sets, for every way that pair can be wrong, a bit that needs three
// conditions: one on each nibble of the first byte and one on the high
// nibble of the second. Each table gives, for one nibble, the errors it
// allows; the AND of three lookups gives the errors present.
namespace utf8_pair {
inline constexpr std::uint8_t too_short = 1 << 0;   // a lead byte, then no continuation
inline constexpr std::uint8_t too_long = 1 << 1;    // ASCII, then a continuation
inline constexpr std::uint8_t overlong_3 = 1 << 2;  // E0 80..9F
inline constexpr std::uint8_t too_large = 1 << 3;   // F4..FF 90..BF
inline constexpr std::uint8_t surrogate = 1 << 4;   // ED A0..BF
inline constexpr std::uint8_t overlong_2 = 1 << 5;  // C0..C1 80..BF
inline constexpr std::uint8_t overlong_4_or_too_large = 1 << 6;  // F0 80..8F, F5..FF 80..8F
// Two continuation bytes in a row: wrong unless the second is the third or
// fourth byte of a sequence, which a separate test says; the two are XORed.
inline constexpr std::uint8_t two_conts = 1 << 7;

inline constexpr std::uint8_t any_low = too_short | too_long | two_conts;
inline constexpr std::uint8_t cont_any = too_long | overlong_2 | two_conts;

// clang-format off
// Index: the first byte's high nibble.
inline constexpr std::uint8_t first_high[16] = {
    too_long, too_long, too_long, too_long, too_long, too_long, too_long, too_long,  // 0..7
    two_conts, two_conts, two_conts, two_conts,                                      // 8..B
    too_short | overlong_2,                                                          // C
    too_short,                                                                       // D
    too_short | overlong_3 | surrogate,                                              // E
    too_short | too_large | overlong_4_or_too_large,                                 // F
};
// Index: the first byte's low nibble.
inline constexpr std::uint8_t first_low[16] = {
    any_low | overlong_3 | overlong_2 | overlong_4_or_too_large,  // x0
    any_low | overlong_2,                                         // x1
    any_low,                                                      // x2
    any_low,                                                      // x3
    any_low | too_large,                                          // x4
    any_low | too_large | overlong_4_or_too_large,                // x5
    any_low | too_large | overlong_4_or_too_large,                // x6
    any_low | too_large | overlong_4_or_too_large,                // x7
    any_low | too_large | overlong_4_or_too_large,                // x8
    any_low | too_large | overlong_4_or_too_large,                // x9
    any_low | too_large | overlong_4_or_too_large,                // xA
    any_low | too_large | overlong_4_or_too_large,                // xB
    any_low | too_large | overlong_4_or_too_large,                // xC
    any_low | too_large | overlong_4_or_too_large | surrogate,    // xD
    any_low | too_large | overlong_4_or_too_large,                // xE
    any_low | too_large | overlong_4_or_too_large,                // xF
};
// Index: the second byte's high nibble.
inline constexpr std::uint8_t second_high[16] = {
    too_short, too_short, too_short, too_short, too_short, too_short, too_short, too_short,  // 0..7
    cont_any | overlong_3 | overlong_4_or_too_large,  // 8
    cont_any | overlong_3 | too_large,                // 9
    cont_any | surrogate | too_large,                 // A
    cont_any | surrogate | too_large,                 // B
    too_short, too_short, too_short, too_short,       // C..F
};
// clang-format on
}  // namespace utf8_pair

// The block engine's state between blocks: the tables and the errors so far.
class utf8_blocks {
 public:
  __attribute__((target("avx2"))) utf8_blocks() noexcept
      : first_high_(table(utf8_pair::first_high)),
        first_low_(table(utf8_pair::first_low)),
        second_high_(table(utf8_pair::second_high)) {}

  // Checks the next 32 bytes of a stream.
  __attribute__((target("avx2"))) void check(const unsigned char* p) noexcept { check(load(p)); }
  __attribute__((target("avx2"))) void check(__m256i in) noexcept {
    if (ascii(in)) return;
    // The bytes 1, 2 and 3 positions earlier, across the block boundary.
    const __m256i straddle = _mm256_permute2x128_si256(prev_, in, 0x21);
    check(in, _mm256_alignr_epi8(in, straddle, 15), _mm256_alignr_epi8(in, straddle, 14),
          _mm256_alignr_epi8(in, straddle, 13));
  }

  // Checks the 32 bytes that end at p + n, some of which were checked
  // already (n ≥ 35, and the stream ended less than 32 bytes before p + n).
  // The bytes before them are read from memory rather than carried over.
  __attribute__((target("avx2"))) void check_last(const unsigned char* p, std::size_t n) noexcept {
    const __m256i in = load(p + n - 32);
    // Bytes already checked can't make the ASCII shortcut wrong: it only
    // asks whether the stream so far ended inside a sequence.
    if (ascii(in)) return;
    check(in, load(p + n - 33), load(p + n - 34), load(p + n - 35));
  }

  // Whether everything checked is valid and ends on a code point boundary.
  __attribute__((target("avx2"))) bool valid() const noexcept {
    const __m256i e = _mm256_or_si256(error_, prev_incomplete_);
    return _mm256_testz_si256(e, e) != 0;
  }

 private:
  // An all-ASCII block is fine unless the stream ended inside a sequence
  // before it.
  __attribute__((target("avx2"))) bool ascii(__m256i in) noexcept {
    if (_mm256_movemask_epi8(in) != 0) return false;
    error_ = _mm256_or_si256(error_, prev_incomplete_);
    prev_incomplete_ = _mm256_setzero_si256();
    prev_ = in;
    return true;
  }

  // Checks `in`, given the bytes 1, 2 and 3 positions before each of its
  // bytes.
  __attribute__((target("avx2"))) void check(__m256i in, __m256i prev1, __m256i prev2,
                                             __m256i prev3) noexcept {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i e1 =
        _mm256_shuffle_epi8(first_high_, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    const __m256i e2 = _mm256_shuffle_epi8(first_low_, _mm256_and_si256(prev1, nibble));
    const __m256i e3 =
        _mm256_shuffle_epi8(second_high_, _mm256_and_si256(_mm256_srli_epi16(in, 4), nibble));
    const __m256i pair_errors = _mm256_and_si256(_mm256_and_si256(e1, e2), e3);

    // 0x80 where a byte must be the third or fourth of a sequence: subtracted
    // with saturation, these leave ≥ 0x80 exactly from a byte ≥ E0 two
    // places back or ≥ F0 three places back.
    const __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(0xE0 - 0x80));
    const __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(0xF0 - 0x80));
    const __m256i must_be_cont =
        _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(static_cast<char>(0x80)));
    error_ = _mm256_or_si256(error_, _mm256_xor_si256(must_be_cont, pair_errors));

    // Nonzero when the block ends inside a sequence: a lead byte last, a 3-
    // or 4-byte lead second to last, a 4-byte lead third to last.
    const __m256i ends_inside =
        _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, static_cast<char>(0xF0 - 1),
                         static_cast<char>(0xE0 - 1), static_cast<char>(0xC0 - 1));
    prev_incomplete_ = _mm256_subs_epu8(in, ends_inside);
    prev_ = in;
  }

  __attribute__((target("avx2"))) static __m256i load(const unsigned char* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }

  __attribute__((target("avx2"))) static __m256i table(const std::uint8_t (&t)[16]) noexcept {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
  }

  __m256i first_high_, first_low_, second_high_;
  __m256i prev_ = _mm256_setzero_si256();  // as if ASCII came before
  __m256i prev_incomplete_ = _mm256_setzero_si256();
  __m256i error_ = _mm256_setzero_si256();
};

// The length of `p` less a code point that the end cuts short, if any: the
// block engine needs its input to end on a boundary, and the automaton
// takes what follows. An error near the end is found by one or the other.
inline std::size_t utf8_whole_prefix(const unsigned char* p, std::size_t n) noexcept {
  std::size_t lead = n;
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    if ((p[n - back] & 0xC0) != 0x80) {
      lead = n - back;
      break;
    }
  }
  if (lead == n || p[lead] < 0xC0) return n;
  const std::size_t len = p[lead] >= 0xF0 ? 4 : p[lead] >= 0xE0 ? 3 : 2;
  return lead + len > n ? lead : n;
}

// Validates n bytes that start on a code point boundary with AVX2; returns
// the state reached, like utf8_validate_portable. Only call it when the CPU
// has AVX2 (utf8_cpu_has_avx2()).
__attribute__((target("avx2"))) inline unsigned utf8_validate_avx2(const unsigned char* p,
                                                                   std::size_t n) noexcept {
  const std::size_t whole = utf8_whole_prefix(p, n);
  utf8_blocks blocks;
  std::size_t i = 0;
  for (; i + 32 <= whole; i += 32) blocks.check(p + i);
  if (i < whole && whole >= 35) {
    blocks.check_last(p, whole);
  } else if (i < whole) {
    // A short string: its bytes followed by zeros (ASCII) fill a block.
    alignas(32) unsigned char last[32] = {};
    std::memcpy(last, p + i, whole - i);
    blocks.check(_mm256_load_si256(reinterpret_cast<const __m256i*>(last)));
  }
  if (!blocks.valid()) return utf8_reject;
  return utf8_run(utf8_accept, p + whole, n - whole);
}

// Whether the CPU and the OS support AVX2 (asked once).
inline bool utf8_cpu_has_avx2() noexcept {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

#endif  // WEBSOCKETS_DETAIL_UTF8_X86

// Validates n bytes that start on a code point boundary with the fastest
// engine; returns the automaton's state after them.
inline unsigned utf8_validate(const unsigned char* p, std::size_t n) noexcept {
#ifdef WEBSOCKETS_DETAIL_UTF8_X86
  if (n >= 32 && utf8_cpu_has_avx2()) return utf8_validate_avx2(p, n);
#endif
  return utf8_validate_portable(p, n);
}

// The offset of the first byte of `s` that can't continue valid UTF-8, or
// s.size() when `s` ends inside a code point, or npos when `s` is valid. For
// error messages.
inline std::size_t utf8_error_offset(std::string_view s) noexcept {
  unsigned state = utf8_accept;
  for (std::size_t i = 0; i < s.size(); ++i) {
    state = utf8_next_state(state, static_cast<unsigned char>(s[i]));
    if (state == utf8_reject) return i;
  }
  return state == utf8_accept ? std::string_view::npos : s.size();
}

}  // namespace detail

// Validates the payload of a text message as it arrives, in pieces split
// anywhere, even inside a code point.
class utf8_validator {
 public:
  // Feeds the next piece. Returns false as soon as the bytes fed so far can't
  // begin valid UTF-8: the piece that holds the first impossible byte (a
  // stray continuation, C0, C1, F5..FF, an overlong form, a surrogate, a
  // code point above U+10FFFF) returns false, and so does every later call.
  // A piece that ends inside a code point is fine.
  bool feed(const std::byte* data, std::size_t size) noexcept {
    if (state_ == detail::utf8_reject) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    std::size_t i = 0;
    // Finish the code point the previous piece ended inside (≤ 3 bytes).
    while (state_ != detail::utf8_accept && i < size) {
      state_ = detail::utf8_next_state(state_, p[i++]);
      if (state_ == detail::utf8_reject) return false;
    }
    if (i < size) state_ = detail::utf8_validate(p + i, size - i);
    return state_ != detail::utf8_reject;
  }
  bool feed(std::string_view s) noexcept {
    return feed(reinterpret_cast<const std::byte*>(s.data()), s.size());
  }

  // True when everything fed so far is valid UTF-8 ending on a code point
  // boundary: the check to make at the end of a message.
  bool complete() const noexcept { return state_ == detail::utf8_accept; }

  // Forgets everything fed, for the next message.
  void reset() noexcept { state_ = detail::utf8_accept; }

 private:
  unsigned state_ = detail::utf8_accept;
};

// Whether `s` is valid UTF-8, whole.
inline bool is_valid_utf8(std::string_view s) noexcept {
  return detail::utf8_validate(reinterpret_cast<const unsigned char*>(s.data()), s.size()) ==
         detail::utf8_accept;
}

}  // namespace websockets
