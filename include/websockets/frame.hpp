// WebSocket frames (RFC 6455 section 5): opcodes, the frame value type, the
// header codec, masking and close frame payloads.
#pragma once

#include <cstdint>
#include <string>

#include "websockets/exceptions.hpp"

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

}  // namespace websockets
