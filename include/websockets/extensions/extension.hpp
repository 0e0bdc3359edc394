// The extension interface (RFC 6455 section 9): how an extension such as
// permessage-deflate is negotiated in the opening handshake and then
// transforms the data frames of one connection.
//
// A client offers extensions with client_extension_factory objects and a
// server answers offers with server_extension_factory objects; both go in the
// `extensions` field of the options, in order of preference. Each negotiated
// extension becomes an `extension` object owned by the connection.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "websockets/extension_header.hpp"
#include "websockets/frame.hpp"

namespace websockets {

// Which of the frame header's RSV bits an extension gives a meaning to; the
// connection rejects received frames with any other RSV bit set.
struct reserved_bits {
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
};

// One negotiated extension on one connection.
class extension {
 public:
  virtual ~extension() = default;

  // The registered name, e.g. "permessage-deflate".
  virtual std::string_view name() const noexcept = 0;

  // The RSV bits this extension may set on received data frames.
  virtual reserved_bits rsv_bits() const noexcept { return {}; }

  // Decodes a received data frame (text, binary or continuation) in place.
  // Frames arrive in order, control frames never. The decoded payload may
  // hold at most `max_size` bytes (std::nullopt: no limit); past that,
  // throw payload_too_big as soon as the limit is crossed, without producing
  // the rest. Throw protocol_error for data that doesn't decode.
  virtual void decode(frame& f, std::optional<std::size_t> max_size) = 0;

  // Encodes a data frame about to be sent, in place. Frames come in order;
  // the frames of a message sent with compression off skip extensions.
  virtual void encode(frame& f) = 0;
};

// Client side of the negotiation of one extension.
class client_extension_factory {
 public:
  virtual ~client_extension_factory() = default;

  virtual std::string_view name() const noexcept = 0;

  // The parameters to offer in the request's Sec-WebSocket-Extensions.
  virtual extension_parameters get_request_params() const = 0;

  // Builds the extension from the parameters the server accepted. `accepted`
  // lists the extensions already accepted from the same response, so that a
  // factory can refuse to stack with a conflicting one. Throws
  // negotiation_error (or a subclass) when the answer isn't acceptable.
  virtual std::unique_ptr<extension> process_response_params(
      const extension_parameters& params,
      std::span<const std::unique_ptr<extension>> accepted) const = 0;
};

// Server side of the negotiation of one extension.
class server_extension_factory {
 public:
  virtual ~server_extension_factory() = default;

  virtual std::string_view name() const noexcept = 0;

  // Answers one offer from the client: the parameters for the response's
  // Sec-WebSocket-Extensions and the extension. Throws negotiation_error (or
  // a subclass) to decline this offer; the server then tries the next one.
  virtual std::pair<extension_parameters, std::unique_ptr<extension>> process_request_params(
      const extension_parameters& params,
      std::span<const std::unique_ptr<extension>> accepted) const = 0;
};

}  // namespace websockets
