// Base64 (RFC 4648 section 4, with padding): for Sec-WebSocket-Key,
// Sec-WebSocket-Accept and Basic authentication.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace websockets::detail {

inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// How many characters base64_encode produces for `size` bytes.
constexpr std::size_t base64_encoded_size(std::size_t size) noexcept {
  return (size + 2) / 3 * 4;
}

// Encodes bytes, padding the output with '=' to a multiple of 4 characters.
inline std::string base64_encode(const void* data, std::size_t size) {
  auto* in = static_cast<const std::uint8_t*>(data);
  std::string out(base64_encoded_size(size), '=');
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    *o++ = base64_alphabet[v >> 18];
    *o++ = base64_alphabet[(v >> 12) & 63];
    *o++ = base64_alphabet[(v >> 6) & 63];
    *o++ = base64_alphabet[v & 63];
  }
  if (size - i == 1) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    *o++ = base64_alphabet[v >> 18];
    *o++ = base64_alphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8;
    *o++ = base64_alphabet[v >> 18];
    *o++ = base64_alphabet[(v >> 12) & 63];
    *o++ = base64_alphabet[(v >> 6) & 63];
  }
  return out;
}

inline std::string base64_encode(std::string_view s) {
  return base64_encode(s.data(), s.size());
}

inline std::string base64_encode(std::span<const std::byte> s) {
  return base64_encode(s.data(), s.size());
}

namespace base64_table {
// Each character's 6-bit value, or 64 for a character outside the alphabet.
inline constexpr auto values = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(64);
  for (std::size_t i = 0; i < base64_alphabet.size(); ++i)
    t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}();
}  // namespace base64_table

// Decodes `in` into `out` and returns the number of bytes written, or
// std::nullopt when `in` isn't canonical padded base64 or `out` is too small.
//
// Strict: no whitespace, no missing padding, no character outside the
// alphabet, and the unused bits before the padding must be zero (RFC 4648
// section 3.5), so that every byte string has exactly one accepted encoding.
inline std::optional<std::size_t> base64_decode(std::string_view in,
                                                std::span<std::byte> out) noexcept {
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  const std::size_t size = in.size() / 4 * 3 - pad;
  if (size > out.size()) return std::nullopt;

  const auto& t = base64_table::values;
  auto value = [&](std::size_t i) { return t[static_cast<unsigned char>(in[i])]; };
  std::size_t o = 0;
  const std::size_t full = pad == 0 ? in.size() : in.size() - 4;
  for (std::size_t i = 0; i < full; i += 4) {
    std::uint8_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) & 64) return std::nullopt;
    std::uint32_t v = std::uint32_t{a} << 18 | std::uint32_t{b} << 12 | std::uint32_t{c} << 6 | d;
    out[o++] = static_cast<std::byte>(v >> 16);
    out[o++] = static_cast<std::byte>(v >> 8);
    out[o++] = static_cast<std::byte>(v);
  }
  if (pad != 0) {
    const std::size_t i = full;
    std::uint8_t a = value(i), b = value(i + 1), c = pad == 1 ? value(i + 2) : 0;
    if ((a | b | c) & 64) return std::nullopt;
    // The bits that the padding stands for must be zero.
    if (pad == 2 ? (b & 0x0f) != 0 : (c & 0x03) != 0) return std::nullopt;
    std::uint32_t v = std::uint32_t{a} << 18 | std::uint32_t{b} << 12 | std::uint32_t{c} << 6;
    out[o++] = static_cast<std::byte>(v >> 16);
    if (pad == 1) out[o++] = static_cast<std::byte>(v >> 8);
  }
  return o;
}

// Decodes `in`, or returns std::nullopt when it isn't canonical padded base64.
inline std::optional<std::string> base64_decode(std::string_view in) {
  std::string out(in.size() / 4 * 3, '\0');
  auto n = base64_decode(in, std::as_writable_bytes(std::span(out.data(), out.size())));
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

}  // namespace websockets::detail
