// The client's side of the opening handshake, from the library's sans-I/O
// pieces: the request to send, and the check of the server's response,
// which gives the negotiated permessage-deflate codec, if any.
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"

namespace websockets::loadgen {

// One handshake request: its bytes, and the key its response must answer.
struct handshake_request {
  std::string bytes;
  std::string key;
};

// A GET of `path` on host:port asking for a WebSocket upgrade, offering
// `deflate` (when not null) in Sec-WebSocket-Extensions.
inline handshake_request make_handshake_request(const std::string& host, std::uint16_t port,
                                                const std::string& path,
                                                const client_extension_factory* deflate) {
  http_request request;
  request.path = path;
  request.headers.add("Host", host + ":" + std::to_string(port));
  handshake_request out;
  out.key = build_request(request.headers);
  if (deflate) {
    const extension_header offer{std::string(deflate->name()), deflate->get_request_params()};
    request.headers.add("Sec-WebSocket-Extensions",
                        build_extension_list(std::span<const extension_header>(&offer, 1)));
  }
  out.bytes = serialize(request);
  return out;
}

// Checks the server's response to a request with `key`: a 101 with the
// right Sec-WebSocket-Accept, and no extension but the permessage-deflate
// that was offered. Returns the negotiated codec, or null without one.
// Throws invalid_status_code, invalid_handshake or negotiation_error.
inline std::unique_ptr<extension> check_handshake_response(
    const http_response& response, const std::string& key,
    const client_extension_factory* deflate) {
  if (response.status_code != 101) throw invalid_status_code(response.status_code);
  check_response(response.headers, key);
  std::vector<std::unique_ptr<extension>> accepted;
  for (auto value : response.headers.get_all("Sec-WebSocket-Extensions")) {
    for (auto& ext : parse_extension_list(value)) {
      if (!deflate || ext.name != deflate->name())
        throw negotiation_error("the server accepted extension " + ext.name +
                                ", which wasn't offered");
      accepted.push_back(deflate->process_response_params(ext.params, accepted));
    }
  }
  if (accepted.size() > 1)
    throw negotiation_error("the server accepted permessage-deflate more than once");
  if (accepted.empty()) return nullptr;
  return std::move(accepted.front());
}

}  // namespace websockets::loadgen
