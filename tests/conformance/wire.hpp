// The driver's own frame codec (RFC 6455 section 5.2), written apart from
// the library's so that the two check each other: it builds any frame, legal
// or not (reserved bits, reserved opcodes, oversized control frames), masked
// as a client sends it or bare as a server does, and parses what the peer
// sends while noting every rule the peer's frame breaks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace websockets::conformance {

// The opcodes of RFC 6455 5.2, plus any 4-bit value for reserved ones.
namespace op {
inline constexpr std::uint8_t cont = 0x0;
inline constexpr std::uint8_t text = 0x1;
inline constexpr std::uint8_t binary = 0x2;
inline constexpr std::uint8_t close = 0x8;
inline constexpr std::uint8_t ping = 0x9;
inline constexpr std::uint8_t pong = 0xA;
}  // namespace op

// The RSV bits as the 3-bit number Autobahn's case list uses: RSV1 is 4,
// RSV2 is 2, RSV3 is 1.
inline constexpr std::uint8_t rsv1 = 4;

// Which end of the connection the driver plays: a client masks every frame
// it sends, a server masks none (RFC 6455 5.1).
enum class role { client, server };

// One frame to send. `rsv` is the 3-bit RSV field (RSV1 = 4).
struct frame_spec {
  std::uint8_t opcode = op::text;
  std::string_view payload = {};
  bool fin = true;
  std::uint8_t rsv = 0;
};

// Appends `spec` to `out` as `sender` sends it. A client frame is masked
// with `key`; a zero key leaves the payload as it is, which saves a pass
// over bulk data without breaking any rule (the RFC asks for an
// unpredictable key, which a test needn't have).
inline void append_frame(std::string& out, const frame_spec& spec, role sender,
                         std::array<std::uint8_t, 4> key = {0x5A, 0x3C, 0xA5, 0x0F}) {
  const bool masked = sender == role::client;
  const std::uint64_t n = spec.payload.size();
  out += static_cast<char>((spec.fin ? 0x80 : 0) | ((spec.rsv & 7) << 4) | (spec.opcode & 0x0F));
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (n <= 125) {
    out += static_cast<char>(mask_bit | static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  }
  if (masked) out.append(reinterpret_cast<const char*>(key.data()), key.size());
  const std::size_t at = out.size();
  out.append(spec.payload);
  if (masked && (key[0] | key[1] | key[2] | key[3]) != 0) {
    for (std::size_t i = 0; i < n; ++i) out[at + i] = static_cast<char>(out[at + i] ^ key[i & 3]);
  }
}

// `spec` as `sender` sends it.
inline std::string make_frame(const frame_spec& spec, role sender) {
  std::string out;
  append_frame(out, spec, sender);
  return out;
}

// A masked client frame with a zero key, for bulk payloads.
inline std::string make_bulk_frame(const frame_spec& spec, role sender) {
  std::string out;
  out.reserve(spec.payload.size() + 14);
  append_frame(out, spec, sender, {0, 0, 0, 0});
  return out;
}

// Only the header of a frame declaring `length` payload bytes in the 64-bit
// form (the shortest form only above 65535), any length, even one with the
// top bit set, which RFC 6455 5.2 forbids. A client's header carries a zero
// masking key, so the payload follows as it is.
inline std::string make_header(std::uint8_t opcode, std::uint64_t length, role sender,
                               bool fin = true) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0F));
  const char mask_bit = sender == role::client ? static_cast<char>(0x80) : 0;
  out += static_cast<char>(mask_bit | 127);
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xFF);
  if (sender == role::client) out.append(4, '\0');
  return out;
}

// A close frame's payload: the code in network order, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  out.append(reason);
  return out;
}

// A frame as received, unmasked, with what the header said about itself.
struct wire_frame {
  bool fin = true;
  std::uint8_t rsv = 0;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::string payload;
  // The first rule of RFC 6455 5.2 the header breaks, empty if none: a
  // length not in its shortest form, or a 64-bit length with its top bit.
  std::string header_fault;

  bool is_control() const noexcept { return (opcode & 0x8) != 0; }
};

// Parses one whole frame from the front of `in`, unmasking it. Returns the
// number of bytes it took, or 0 if `in` doesn't hold a whole frame yet.
// `max_payload` bounds what a broken peer can make the driver buffer.
inline std::size_t parse_frame(std::string_view in, wire_frame& f,
                               std::uint64_t max_payload = std::uint64_t{1} << 32) {
  if (in.size() < 2) return 0;
  const auto b0 = static_cast<std::uint8_t>(in[0]);
  const auto b1 = static_cast<std::uint8_t>(in[1]);
  std::size_t pos = 2;
  std::uint64_t n = b1 & 0x7F;
  f.header_fault.clear();
  if (n == 126) {
    if (in.size() < 4) return 0;
    n = (std::uint64_t{static_cast<std::uint8_t>(in[2])} << 8) | static_cast<std::uint8_t>(in[3]);
    if (n <= 125) f.header_fault = "16-bit length " + std::to_string(n) + " isn't minimal";
    pos = 4;
  } else if (n == 127) {
    if (in.size() < 10) return 0;
    n = 0;
    for (std::size_t i = 2; i < 10; ++i) n = (n << 8) | static_cast<std::uint8_t>(in[i]);
    if (n >> 63)
      f.header_fault = "64-bit length has its most significant bit set";
    else if (n <= 0xFFFF)
      f.header_fault = "64-bit length " + std::to_string(n) + " isn't minimal";
    pos = 10;
  }
  if (n > max_payload) {
    f.header_fault = "payload length " + std::to_string(n) + " is beyond the driver's limit";
    f.payload.clear();
    return in.size();  // unrecoverable: the caller stops on header_fault
  }
  f.fin = (b0 & 0x80) != 0;
  f.rsv = static_cast<std::uint8_t>((b0 >> 4) & 7);
  f.opcode = b0 & 0x0F;
  f.masked = (b1 & 0x80) != 0;
  std::array<std::uint8_t, 4> key{};
  if (f.masked) {
    if (in.size() < pos + 4) return 0;
    std::memcpy(key.data(), in.data() + pos, 4);
    pos += 4;
  }
  if (in.size() - pos < n) return 0;
  f.payload.assign(in.data() + pos, static_cast<std::size_t>(n));
  if (f.masked) {
    for (std::size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] = static_cast<char>(f.payload[i] ^ key[i & 3]);
  }
  return pos + static_cast<std::size_t>(n);
}

// "text", "close", "opcode 3"...
inline std::string opcode_name(std::uint8_t code) {
  switch (code) {
    case op::cont:
      return "continuation";
    case op::text:
      return "text";
    case op::binary:
      return "binary";
    case op::close:
      return "close";
    case op::ping:
      return "ping";
    case op::pong:
      return "pong";
    default:
      return "opcode " + std::to_string(code);
  }
}

// Bytes as hex, cut after `max` bytes, for failure details.
inline std::string hex(std::string_view bytes, std::size_t max = 32) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  if (bytes.size() > max) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace websockets::conformance
