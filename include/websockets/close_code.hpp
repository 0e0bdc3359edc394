// The close codes of RFC 6455 7.4.1 and the IANA registry, by name.
//
//   co_await ws.close(websockets::close_code::going_away);
//   if (ws.close_code() == websockets::code_of(websockets::close_code::normal_closure)) ...
//
// Codes 3000-3999 are registered by libraries and frameworks, 4000-4999
// are for applications to agree on privately; a close frame may carry any
// of those, and of the named ones all but 1005, 1006 and 1015 (which only
// report what happened).
#pragma once

#include <cstdint>

namespace websockets {

enum class close_code : std::uint16_t {
  normal_closure = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status_received = 1005,  // never sent: the close frame had no code
  abnormal_closure = 1006,    // never sent: the connection ended without a close frame
  invalid_payload = 1007,     // "invalid frame payload data": bad UTF-8, say
  policy_violation = 1008,
  message_too_big = 1009,
  mandatory_extension = 1010,
  internal_error = 1011,
  service_restart = 1012,
  try_again_later = 1013,
  bad_gateway = 1014,
  tls_handshake = 1015,  // never sent
};

// The number on the wire.
constexpr std::uint16_t code_of(close_code c) noexcept {
  return static_cast<std::uint16_t>(c);
}

// 3000-3999: registered with IANA by libraries, frameworks and applications.
constexpr bool is_registered_close_code(std::uint16_t code) noexcept {
  return code >= 3000 && code <= 3999;
}

// 4000-4999: private use, by agreement between the two ends.
constexpr bool is_private_close_code(std::uint16_t code) noexcept {
  return code >= 4000 && code <= 4999;
}

}  // namespace websockets
