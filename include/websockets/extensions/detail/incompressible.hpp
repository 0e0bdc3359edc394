// A cheap test for data DEFLATE can't shrink (compressed media, ciphertext,
// random bytes), run before compressing a message: zlib gains nothing on
// such data and is at its slowest on it (a few MB/s with small memLevels),
// while the test reads at most 4 KiB.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace websockets::detail {

// True when `data` (1 KiB or more) looks random: its bytes, sampled in up to
// four 1 KiB slices spread over it, have an entropy of at least 7.9 bits
// (at most 1.3% to gain from Huffman coding, less than DEFLATE's overhead).
// Text and structured data use too few distinct byte values to get past
// the first check, which costs one pass over the sample.
inline bool looks_incompressible(std::string_view data) noexcept {
  constexpr std::size_t min_size = 1024, slice = 1024, slices = 4;
  if (data.size() < min_size) return false;
  std::uint32_t count[256] = {};
  std::size_t n = 0;
  auto add = [&](std::size_t at, std::size_t len) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data()) + at;
    for (std::size_t i = 0; i < len; ++i) ++count[p[i]];
    n += len;
  };
  if (data.size() <= slice * slices) {
    add(0, data.size());
  } else {
    for (std::size_t k = 0; k < slices; ++k) add(k * (data.size() - slice) / (slices - 1), slice);
  }
  int distinct = 0;
  for (auto c : count) distinct += c != 0;
  if (distinct < 200) return false;
  double bits = 0;
  for (auto c : count) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / static_cast<double>(n);
    bits -= p * std::log2(p);
  }
  // A sample's entropy runs low by about (distinct - 1) / (2 n ln 2) bits
  // (Miller-Madow): 0.18 bits for 1 KiB of random bytes.
  bits += (distinct - 1) / (2.0 * static_cast<double>(n) * 0.6931471805599453);
  return bits >= 7.9;
}

}  // namespace websockets::detail
