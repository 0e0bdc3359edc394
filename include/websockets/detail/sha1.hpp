// SHA-1 (FIPS 180-4), for the Sec-WebSocket-Accept header only.
//
// SHA-1 is broken for collision resistance; RFC 6455 uses it merely to prove
// that a server read the client's key, which it still does.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace websockets::detail {

// An incremental SHA-1: update() with the message in any number of pieces,
// then finish() once for the 20-byte digest.
class sha1 {
 public:
  using digest = std::array<std::uint8_t, 20>;

  // Appends bytes to the message.
  void update(const void* data, std::size_t size) noexcept {
    auto* in = static_cast<const std::uint8_t*>(data);
    length_ += size;
    if (buffered_ != 0) {
      std::size_t take = std::min(size, block_.size() - buffered_);
      std::memcpy(block_.data() + buffered_, in, take);
      buffered_ += take;
      in += take;
      size -= take;
      if (buffered_ < block_.size()) return;
      compress(block_.data());
      buffered_ = 0;
    }
    for (; size >= block_.size(); in += block_.size(), size -= block_.size()) compress(in);
    if (size != 0) std::memcpy(block_.data(), in, size);
    buffered_ = size;
  }

  void update(std::string_view s) noexcept { update(s.data(), s.size()); }

  // Pads the message and returns its digest; the object is spent afterwards.
  digest finish() noexcept {
    const std::uint64_t bits = length_ * 8;
    block_[buffered_++] = 0x80;
    if (buffered_ > 56) {
      std::memset(block_.data() + buffered_, 0, block_.size() - buffered_);
      compress(block_.data());
      buffered_ = 0;
    }
    std::memset(block_.data() + buffered_, 0, 56 - buffered_);
    for (int i = 0; i < 8; ++i) block_[56 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    compress(block_.data());
    digest out;
    for (int i = 0; i < 5; ++i) {
      for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
    }
    return out;
  }

  // The digest of one whole message.
  static digest hash(std::string_view s) noexcept {
    sha1 h;
    h.update(s);
    return h.finish();
  }

 private:
  void compress(const std::uint8_t* p) noexcept {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = std::uint32_t{p[4 * i]} << 24 | std::uint32_t{p[4 * i + 1]} << 16 |
             std::uint32_t{p[4 * i + 2]} << 8 | std::uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = std::rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
    // One loop per round function, so that no round tests which one it is.
    auto step = [&](std::uint32_t f, std::uint32_t k, std::uint32_t w) {
      std::uint32_t t = std::rotl(a, 5) + f + e + k + w;
      e = d;
      d = c;
      c = std::rotl(b, 30);
      b = a;
      a = t;
    };
    for (int i = 0; i < 20; ++i) step((b & c) | (~b & d), 0x5a827999, w[i]);
    for (int i = 20; i < 40; ++i) step(b ^ c ^ d, 0x6ed9eba1, w[i]);
    for (int i = 40; i < 60; ++i) step((b & c) | (b & d) | (c & d), 0x8f1bbcdc, w[i]);
    for (int i = 60; i < 80; ++i) step(b ^ c ^ d, 0xca62c1d6, w[i]);
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
  }

  std::array<std::uint32_t, 5> h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  std::array<std::uint8_t, 64> block_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace websockets::detail
