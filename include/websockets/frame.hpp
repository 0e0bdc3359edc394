// WebSocket frames (RFC 6455 section 5): opcodes, the frame value type, the
// header codec, masking and close frame payloads.
//
// Layering: parse_frame_header() and serialize_frame_header() are the fast
// path the connection uses; it streams payloads itself, unmasking them with
// detail::apply_mask(). parse_frame() and serialize_frame() handle whole
// frames for tests, tools and slow paths. The rules that depend on the
// connection's state (masking direction, negotiated RSV bits, the order of
// fragments) are checked by the connection, not here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "websockets/close_code.hpp"
#include "websockets/detail/mask.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/utf8.hpp"

namespace websockets {

enum class opcode : std::uint8_t { cont = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// A frame as higher-level code sees it: the mask bit, payload length and
// masking key are handled by the codec.
struct frame {
  bool fin = true;
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
  opcode op = opcode::text;
  std::string data;

  // Throws protocol_error when the frame breaks a rule of RFC 6455 that holds
  // for a frame on its own: reserved bits set, a fragmented or oversized
  // control frame.
  void check() const;
};

// True for close, ping and pong, the opcodes of control frames.
constexpr bool is_control(opcode op) noexcept {
  return op == opcode::close || op == opcode::ping || op == opcode::pong;
}

// True for continuation, text and binary, the opcodes of data frames.
constexpr bool is_data(opcode op) noexcept {
  return op == opcode::cont || op == opcode::text || op == opcode::binary;
}

// True when the raw 4-bit opcode of a header is one RFC 6455 defines; the
// others (3-7, 11-15) are reserved and fail the connection.
constexpr bool is_known_opcode(std::uint8_t raw) noexcept {
  const auto in = [raw](opcode first, opcode last) {
    return raw >= static_cast<std::uint8_t>(first) && raw <= static_cast<std::uint8_t>(last);
  };
  return in(opcode::cont, opcode::binary) || in(opcode::close, opcode::pong);
}

// A short name of the opcode, for error messages ("TEXT", "PING").
constexpr std::string_view opcode_name(opcode op) noexcept {
  switch (op) {
    case opcode::cont:
      return "CONT";
    case opcode::text:
      return "TEXT";
    case opcode::binary:
      return "BINARY";
    case opcode::close:
      return "CLOSE";
    case opcode::ping:
      return "PING";
    case opcode::pong:
      return "PONG";
  }
  return "reserved opcode";
}

// A frame header as it is on the wire.
struct frame_header {
  bool fin = true, rsv1 = false, rsv2 = false, rsv3 = false;
  std::uint8_t opcode = 0;  // the raw 4 bits, which may be a reserved value
  bool masked = false;
  std::uint64_t length = 0;  // of the payload, < 2^63
  detail::mask_key mask{};   // meaningful when `masked`
};

// The largest header: 2 bytes, an 8-byte length and a 4-byte masking key.
constexpr std::size_t max_frame_header_size = 14;

// The largest payload a control frame may carry (RFC 6455 5.5).
constexpr std::size_t max_control_payload = 125;

// The longest close reason: a control frame's payload less the 2-byte code.
constexpr std::size_t max_close_reason = max_control_payload - 2;

namespace detail {

// Big-endian integers, as frame headers and close frames hold them. The
// compilers turn these shifts into one load or store and a byte swap.
inline std::uint16_t load_be16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                                    std::to_integer<unsigned>(p[1]));
}

inline std::uint64_t load_be64(const std::byte* p) noexcept {
  const auto b = [p](int i) { return std::to_integer<std::uint64_t>(p[i]); };
  return (b(0) << 56) | (b(1) << 48) | (b(2) << 40) | (b(3) << 32) | (b(4) << 24) | (b(5) << 16) |
         (b(6) << 8) | b(7);
}

inline void store_be64(std::byte* p, std::uint64_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 56);
  p[1] = static_cast<std::byte>(v >> 48);
  p[2] = static_cast<std::byte>(v >> 40);
  p[3] = static_cast<std::byte>(v >> 32);
  p[4] = static_cast<std::byte>(v >> 24);
  p[5] = static_cast<std::byte>(v >> 16);
  p[6] = static_cast<std::byte>(v >> 8);
  p[7] = static_cast<std::byte>(v);
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_length_msb(std::uint64_t length) {
  throw protocol_error("invalid frame header: the 64-bit payload length " + std::to_string(length) +
                       " has its most significant bit set (RFC 6455 5.2)");
}

}  // namespace detail

// Parses the header at the start of `in` into `out`: returns its size
// (2 to 14 bytes), or 0, leaving `out` alone, when `in` doesn't hold the
// whole header yet. Throws protocol_error when a 64-bit length has its most
// significant bit set (RFC 6455 5.2). Checks nothing else: the opcode, RSV
// bits, control frame rules and masking are the connection's to check. A
// length in a longer encoding than needed is accepted, as most peers do.
inline std::size_t parse_frame_header(std::span<const std::byte> in, frame_header& out) {
  if (in.size() < 2) return 0;
  const auto b0 = std::to_integer<unsigned>(in[0]);
  const auto b1 = std::to_integer<unsigned>(in[1]);
  const unsigned len7 = b1 & 0x7F;
  const bool masked = (b1 & 0x80) != 0;
  const std::size_t len_size = len7 < 126 ? 0 : len7 == 126 ? 2 : 8;
  const std::size_t size = 2 + len_size + (masked ? 4 : 0);
  if (in.size() < size) return 0;

  const std::byte* p = in.data() + 2;
  std::uint64_t length = len7;
  if (len_size == 2) {
    length = detail::load_be16(p);
  } else if (len_size == 8) {
    length = detail::load_be64(p);
    if (length >> 63) detail::throw_length_msb(length);
  }
  p += len_size;
  out.fin = (b0 & 0x80) != 0;
  out.rsv1 = (b0 & 0x40) != 0;
  out.rsv2 = (b0 & 0x20) != 0;
  out.rsv3 = (b0 & 0x10) != 0;
  out.opcode = static_cast<std::uint8_t>(b0 & 0x0F);
  out.masked = masked;
  out.length = length;
  if (masked) {
    std::memcpy(out.mask.data(), p, 4);
  } else {
    out.mask = {};
  }
  return size;
}

// Writes `h` to `out`, which has room for max_frame_header_size bytes, with
// the shortest length encoding; returns the number of bytes written.
// h.length must be below 2^63; only the low 4 bits of h.opcode are used.
inline std::size_t serialize_frame_header(const frame_header& h, std::byte* out) noexcept {
  out[0] = std::byte((h.fin ? 0x80 : 0) | (h.rsv1 ? 0x40 : 0) | (h.rsv2 ? 0x20 : 0) |
                     (h.rsv3 ? 0x10 : 0) | (h.opcode & 0x0F));
  const unsigned mask_bit = h.masked ? 0x80 : 0;
  const std::uint64_t length = h.length;  // read once: `out` may alias it
  std::size_t size;
  if (length <= 125) {
    out[1] = std::byte(mask_bit | static_cast<unsigned>(length));
    size = 2;
  } else if (length <= 0xFFFF) {
    out[1] = std::byte(mask_bit | 126);
    out[2] = std::byte(length >> 8);
    out[3] = std::byte(length & 0xFF);
    size = 4;
  } else {
    out[1] = std::byte(mask_bit | 127);
    detail::store_be64(out + 2, length);
    size = 10;
  }
  if (h.masked) {
    std::memcpy(out + size, h.mask.data(), 4);
    size += 4;
  }
  return size;
}

// Serializes a whole frame, masked with `mask` when one is given (as a
// client must). Doesn't call f.check(), so that tests can build frames that
// break the rules.
inline std::string serialize_frame(const frame& f,
                                   const std::optional<detail::mask_key>& mask = std::nullopt) {
  frame_header h;
  h.fin = f.fin;
  h.rsv1 = f.rsv1;
  h.rsv2 = f.rsv2;
  h.rsv3 = f.rsv3;
  h.opcode = static_cast<std::uint8_t>(f.op);
  h.length = f.data.size();
  h.masked = mask.has_value();
  if (mask) h.mask = *mask;
  std::byte header[max_frame_header_size];
  const std::size_t hsize = serialize_frame_header(h, header);
  std::string out(hsize + f.data.size(), '\0');
  auto* dst = reinterpret_cast<std::byte*>(out.data());
  std::copy_n(header, hsize, dst);
  const auto* src = reinterpret_cast<const std::byte*>(f.data.data());
  if (mask) {
    detail::mask_copy(dst + hsize, src, f.data.size(), *mask);
  } else {
    std::copy_n(src, f.data.size(), dst + hsize);
  }
  return out;
}

// Parses one whole frame at the start of `in` into `out`, unmasking its
// payload: returns the number of bytes it took, or 0 when `in` doesn't hold
// the whole frame yet. Throws protocol_error for a reserved opcode (as soon
// as the header is there) and for a 64-bit length with its most significant
// bit set. Doesn't call out.check().
inline std::size_t parse_frame(std::span<const std::byte> in, frame& out) {
  frame_header h;
  const std::size_t hsize = parse_frame_header(in, h);
  if (hsize == 0) return 0;
  if (!is_known_opcode(h.opcode))
    throw protocol_error("invalid frame header: reserved opcode " + std::to_string(h.opcode));
  if (h.length > in.size() - hsize) return 0;
  const auto length = static_cast<std::size_t>(h.length);
  out.fin = h.fin;
  out.rsv1 = h.rsv1;
  out.rsv2 = h.rsv2;
  out.rsv3 = h.rsv3;
  out.op = static_cast<opcode>(h.opcode);
  out.data.resize(length);
  auto* dst = reinterpret_cast<std::byte*>(out.data.data());
  if (h.masked) {
    detail::mask_copy(dst, in.data() + hsize, length, h.mask);
  } else {
    std::copy_n(in.data() + hsize, length, dst);
  }
  return hsize + length;
}

// Also rejects a reserved opcode, which parse_frame() never produces.
inline void frame::check() const {
  if (rsv1 || rsv2 || rsv3) {
    std::string bits;
    const auto add = [&bits](bool set, const char* name) {
      if (!set) return;
      if (!bits.empty()) bits += ", ";
      bits += name;
    };
    add(rsv1, "RSV1");
    add(rsv2, "RSV2");
    add(rsv3, "RSV3");
    throw protocol_error("reserved bits must be 0: " + bits + " set on a " +
                         std::string(opcode_name(op)) + " frame");
  }
  if (is_data(op)) return;
  if (!is_control(op))
    throw protocol_error("reserved opcode " + std::to_string(static_cast<unsigned>(op)));
  if (!fin) throw protocol_error("fragmented control frame: " + std::string(opcode_name(op)));
  if (data.size() > max_control_payload)
    throw protocol_error("control frame too long: " + std::string(opcode_name(op)) + " with " +
                         std::to_string(data.size()) + " bytes, at most 125 allowed");
}

// Close codes (RFC 6455 7.4): whether `code` may appear in a close frame on
// the wire: 1000-1003, 1007-1014 and 3000-4999, as Python's websockets and
// Node's ws have it. 1005, 1006 and 1015 only stand for the absence of a
// code; the rest are reserved or unassigned.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  const auto in = [code](close_code first, close_code last) {
    return code >= code_of(first) && code <= code_of(last);
  };
  return in(close_code::normal_closure, close_code::unsupported_data) ||
         in(close_code::invalid_payload, close_code::bad_gateway) ||
         is_registered_close_code(code) || is_private_close_code(code);
}

// Parses the payload of a close frame (RFC 6455 5.5.1) into a code and a
// reason. An empty payload gives {1005, ""}: no code was sent. Throws
// protocol_error with close code 1002 for a 1-byte payload or a code that
// may not be received, and with 1007 for a reason that isn't valid UTF-8.
inline std::pair<std::uint16_t, std::string> parse_close(std::string_view payload) {
  if (payload.empty()) return {code_of(close_code::no_status_received), {}};
  if (payload.size() == 1)
    throw protocol_error("close frame too short: a 1-byte payload",
                         code_of(close_code::protocol_error));
  const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                               static_cast<unsigned char>(payload[1]));
  if (!is_valid_close_code(code))
    throw protocol_error("invalid close code in a close frame: " + detail::describe_close(code, {}),
                         code_of(close_code::protocol_error));
  const std::string_view reason = payload.substr(2);
  if (!is_valid_utf8(reason))
    throw protocol_error("invalid UTF-8 in the reason of a close frame at byte " +
                             std::to_string(2 + detail::utf8_error_offset(reason)) +
                             " of its payload",
                         code_of(close_code::invalid_payload));
  return {code, std::string(reason)};
}

// Builds the payload of a close frame: the code, big-endian, then the
// reason. Throws protocol_error for a code that may not be sent (see
// is_valid_close_code), and std::invalid_argument for a reason over 123
// bytes or one that isn't valid UTF-8.
inline std::string serialize_close(std::uint16_t code, std::string_view reason) {
  if (!is_valid_close_code(code))
    throw protocol_error("close code " + detail::describe_close(code, {}) +
                         " may not be sent in a close frame");
  if (reason.size() > max_close_reason)
    throw std::invalid_argument("close reason too long: " + std::to_string(reason.size()) +
                                " bytes, at most 123 fit in a close frame");
  if (!is_valid_utf8(reason))
    throw std::invalid_argument("close reason isn't valid UTF-8 at byte " +
                                std::to_string(detail::utf8_error_offset(reason)));
  std::string out;
  out.reserve(2 + reason.size());
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  out += reason;
  return out;
}

}  // namespace websockets
