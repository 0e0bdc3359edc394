// What the opening handshake settled, handed to a connection when it opens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "websockets/extensions/extension.hpp"
#include "websockets/headers.hpp"

namespace websockets {

struct opening_handshake {
  // The request's path and query ("/chat?room=1").
  std::string path;
  headers request_headers;
  headers response_headers;
  // The subprotocol both sides agreed on, if any.
  std::optional<std::string> subprotocol;
  // The extensions negotiated, in the order of the response header.
  std::vector<std::unique_ptr<extension>> extensions;
  // Bytes that arrived after the HTTP head: the first frames.
  std::string leftover;
  // Where the client connected: the URI's host and port, and whether the
  // connection is encrypted (wss://).
  std::string host;
  std::uint16_t port = 0;
  bool secure = false;
};

}  // namespace websockets
