// Payload masking (RFC 6455 section 5.3): every byte of a frame a client
// sends is XORed with a 4-byte key that repeats along the payload.
//
// Masking touches every byte of every client frame and every frame a server
// receives, so it runs a machine word, an SSE2 register (baseline on x86-64)
// or, where the CPU has it, an AVX2 register at a time. The key repeats every
// 4 bytes and every block size here is a multiple of 4, so one rotated copy
// of the key serves a whole payload whatever its alignment.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WEBSOCKETS_DETAIL_MASK_X86 1
#include <immintrin.h>
#endif

namespace websockets::detail {

// A masking key, in the order its bytes appear on the wire.
using mask_key = std::array<std::byte, 4>;

// The key as a 32-bit word whose first byte in memory is key[phase % 4], so
// that XORing it into 4 bytes at offset `phase` of a payload masks them.
inline std::uint32_t mask_word(const mask_key& key, std::size_t phase) noexcept {
  std::uint32_t word;
  std::memcpy(&word, key.data(), 4);
  // Moving the bytes down in memory order is a rotation of the word.
  const int shift = static_cast<int>(8 * (phase & 3));
  if constexpr (std::endian::native == std::endian::little) return std::rotr(word, shift);
  return std::rotl(word, shift);
}

// The bytes after the last whole block: 8, then 4, then 1 at a time.
inline void mask_copy_tail(std::byte* dst, const std::byte* src, std::size_t size,
                           std::uint32_t word) noexcept {
  const std::uint64_t word2 = (std::uint64_t{word} << 32) | word;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, src + i, 8);
    v ^= word2;
    std::memcpy(dst + i, &v, 8);
  }
  if (i + 4 <= size) {
    std::uint32_t v;
    std::memcpy(&v, src + i, 4);
    v ^= word;
    std::memcpy(dst + i, &v, 4);
    i += 4;
  }
  std::byte rotated[4];
  std::memcpy(rotated, &word, 4);
  for (std::size_t j = 0; i < size; ++i, ++j) dst[i] = src[i] ^ rotated[j];
}

// Masking with 64-bit words only, for any architecture.
inline std::size_t mask_copy_portable(std::byte* dst, const std::byte* src, std::size_t size,
                                      const mask_key& key, std::size_t phase = 0) noexcept {
  mask_copy_tail(dst, src, size, mask_word(key, phase));
  return (phase + size) & 3;
}

#ifdef WEBSOCKETS_DETAIL_MASK_X86

// Masking with 16-byte SSE2 registers, which every x86-64 CPU has.
inline std::size_t mask_copy_sse2(std::byte* dst, const std::byte* src, std::size_t size,
                                  const mask_key& key, std::size_t phase = 0) noexcept {
  const std::uint32_t word = mask_word(key, phase);
  const __m128i k = _mm_set1_epi32(static_cast<int>(word));
  std::size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), _mm_xor_si128(b, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), _mm_xor_si128(c, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), _mm_xor_si128(d, k));
  }
  for (; i + 16 <= size; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, k));
  }
  mask_copy_tail(dst + i, src + i, size - i, word);
  return (phase + size) & 3;
}

// Masking with 32-byte AVX2 registers; only call it when cpu_has_avx2().
__attribute__((target("avx2"))) inline std::size_t mask_copy_avx2(std::byte* dst,
                                                                  const std::byte* src,
                                                                  std::size_t size,
                                                                  const mask_key& key,
                                                                  std::size_t phase = 0) noexcept {
  std::size_t i = 0;
  // On large payloads, bring the stores to a 32-byte boundary first: a store
  // that straddles two cache lines costs twice.
  if (size >= 1024) {
    i = (0 - reinterpret_cast<std::uintptr_t>(dst)) & 31;
    mask_copy_tail(dst, src, i, mask_word(key, phase));
  }
  const std::uint32_t word = mask_word(key, phase + i);
  const __m256i k = _mm256_set1_epi32(static_cast<int>(word));
  for (; i + 128 <= size; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, k));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), _mm256_xor_si256(b, k));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 64), _mm256_xor_si256(c, k));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 96), _mm256_xor_si256(d, k));
  }
  for (; i + 32 <= size; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, k));
  }
  mask_copy_tail(dst + i, src + i, size - i, word);
  return (phase + size) & 3;
}

// Whether the CPU and the OS support AVX2 (asked once).
inline bool cpu_has_avx2() noexcept {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

#endif  // WEBSOCKETS_DETAIL_MASK_X86

// dst[i] = src[i] ^ key[(phase + i) % 4] for i < size. dst == src is
// allowed (masking in place); any other overlap isn't. Returns the phase
// after the last byte, (phase + size) % 4, to mask the rest of a payload
// that arrives in pieces.
inline std::size_t mask_copy(std::byte* dst, const std::byte* src, std::size_t size,
                             const mask_key& key, std::size_t phase = 0) noexcept {
#ifdef WEBSOCKETS_DETAIL_MASK_X86
  if (size >= 128 && cpu_has_avx2()) return mask_copy_avx2(dst, src, size, key, phase);
  return mask_copy_sse2(dst, src, size, key, phase);
#else
  return mask_copy_portable(dst, src, size, key, phase);
#endif
}

// data[i] ^= key[(phase + i) % 4] for i < size: masks or unmasks in place.
// Returns (phase + size) % 4, the phase to continue with on the next piece.
inline std::size_t apply_mask(std::byte* data, std::size_t size, const mask_key& key,
                              std::size_t phase = 0) noexcept {
  return mask_copy(data, data, size, key, phase);
}

}  // namespace websockets::detail
