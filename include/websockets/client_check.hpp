// The client's check of the server's answer, without I/O: from the parsed
// response and what the request offered to what was negotiated.
// client_handshake() writes the request, reads the response and asks this
// header.
//
//   client_offer offer{.key = key, .extensions = factories, .subprotocols = protocols};
//   opening_handshake handshake = check_handshake_response(std::move(response), offer);
//
// Failures:
//   invalid_status_code   another status than 101, with the response's
//                         headers and body
//   invalid_upgrade, invalid_header, invalid_header_value
//                         a 101 whose Connection, Upgrade or
//                         Sec-WebSocket-Accept doesn't complete the handshake
//   invalid_header        more than one subprotocol chosen
//   negotiation_error     an extension or subprotocol the request didn't
//                         offer, or an answer its factory refuses
#pragma once

#include <algorithm>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/exceptions.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/opening_handshake.hpp"

namespace websockets {

// What the client's request offered, which the response must answer; views
// of values that outlive the check.
struct client_offer {
  // The request's Sec-WebSocket-Key.
  std::string_view key = {};
  // The factories whose offers the request carries, in order.
  std::span<const client_extension_factory* const> extensions = {};
  // The subprotocols the request offered.
  std::span<const std::string> subprotocols = {};
};

// Checks the server's `response` to a request that made `offer`. Returns
// the response's headers, the subprotocol and the extensions; the path,
// the request's headers, the host, port, security and leftover bytes are
// the caller's to fill. Throws what this header lists.
inline opening_handshake check_handshake_response(http_response response,
                                                  const client_offer& offer);

// ---- Implementation -------------------------------------------------------

namespace detail {

// Builds the extensions the server accepted, in the response's order.
// Every one must match an offer: an answer no factory takes fails the
// handshake, with the factory's own reason when it gave one.
inline void accept_client_extensions(const headers& response,
                                     std::span<const client_extension_factory* const> factories,
                                     std::vector<std::unique_ptr<extension>>& accepted) {
  for (auto value : response.get_all("Sec-WebSocket-Extensions")) {
    for (const auto& answer : parse_extension_list(value)) {
      std::exception_ptr refused;
      bool done = false;
      for (const auto* f : factories) {
        if (f->name() != answer.name) continue;
        try {
          accepted.push_back(f->process_response_params(answer.params, accepted));
          done = true;
          break;
        } catch (const negotiation_error&) {
          refused = std::current_exception();
        }
      }
      if (done) continue;
      if (refused) std::rethrow_exception(refused);
      throw negotiation_error("the server accepted extension " + detail::printable(answer.name) +
                              ", which this client didn't offer");
    }
  }
}

// The subprotocol the server chose, which must be one of `offered`.
inline std::optional<std::string> accept_client_subprotocol(const headers& response,
                                                            std::span<const std::string> offered) {
  auto values = response.get_all("Sec-WebSocket-Protocol");
  if (values.empty()) return std::nullopt;
  std::vector<std::string> chosen;
  for (auto value : values) {
    auto list = parse_subprotocol_list(value);
    chosen.insert(chosen.end(), std::make_move_iterator(list.begin()),
                  std::make_move_iterator(list.end()));
  }
  if (chosen.size() != 1)
    throw invalid_header("Sec-WebSocket-Protocol",
                         "more than one subprotocol chosen: " + detail::join(chosen));
  if (std::find(offered.begin(), offered.end(), chosen.front()) == offered.end())
    throw negotiation_error("the server chose subprotocol " + detail::printable(chosen.front()) +
                            ", which this client didn't offer");
  return std::move(chosen.front());
}

}  // namespace detail

inline opening_handshake check_handshake_response(http_response response,
                                                  const client_offer& offer) {
  if (response.status_code != 101) {
    auto items = response.headers.raw_items();
    throw invalid_status_code(response.status_code, {items.begin(), items.end()},
                              std::move(response.body));
  }
  check_response(response.headers, offer.key);

  opening_handshake result;
  detail::accept_client_extensions(response.headers, offer.extensions, result.extensions);
  result.subprotocol = detail::accept_client_subprotocol(response.headers, offer.subprotocols);
  result.response_headers = std::move(response.headers);
  return result;
}

}  // namespace websockets
