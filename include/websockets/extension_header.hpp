// One entry of a Sec-WebSocket-Extensions header: an extension's name and its
// parameters, as offered by a client or accepted by a server.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace websockets {

// Parameters of one extension, in header order; a parameter without a value
// (like `client_max_window_bits` in an offer) has std::nullopt.
using extension_parameters = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct extension_header {
  std::string name;
  extension_parameters params;

  friend bool operator==(const extension_header&, const extension_header&) = default;
};

}  // namespace websockets
