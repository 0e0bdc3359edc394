// Test payloads and their checksums. Peers report the CRC-32 of what they
// sent or received, so a test compares bytes without shipping them back.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace websockets::testing {

// `size` pseudo-random bytes from `seed`; letters and digits if `text`
// (valid UTF-8), any byte otherwise. The same arguments give the same bytes.
inline std::string make_payload(std::size_t size, std::uint32_t seed, bool text = false) {
  static constexpr char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
  std::string out(size, '\0');
  std::uint32_t x = seed ? seed : 0x9E3779B9u;  // xorshift32 must not start at 0
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = text ? alphabet[x & 63] : static_cast<char>(x & 0xFF);
  }
  return out;
}

// The CRC-32 (zlib's, as Python's zlib.crc32 and Node's zlib.crc32) of `data`.
inline std::uint32_t crc32_of(std::string_view data) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (!data.empty()) {
    auto n = static_cast<uInt>(std::min<std::size_t>(data.size(), 1u << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), n);
    data.remove_prefix(n);
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace websockets::testing
