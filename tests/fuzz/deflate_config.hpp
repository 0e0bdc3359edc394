// permessage-deflate options read from fuzz input, and the negotiation of
// a connection's two ends through the library's factories, as the opening
// handshake does it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "fuzz_support.hpp"
#include "websockets/extensions/permessage_deflate.hpp"

namespace fuzz {

namespace detail {

inline std::optional<int> window_bits(unsigned nibble) {
  return nibble >= 8 ? std::optional<int>(static_cast<int>(nibble)) : std::nullopt;
}

inline std::size_t min_size(unsigned choice) {
  static constexpr std::size_t sizes[4] = {0, 1, 32, 1000};
  return sizes[choice % 4];
}

}  // namespace detail

// Three bytes: flags and the server's window; the client's window and the
// level; memLevel and min_size.
inline websockets::client_deflate_options read_client_deflate_options(reader& r) {
  const unsigned a = r.byte(), b = r.byte(), c = r.byte();
  websockets::client_deflate_options o;
  o.server_no_context_takeover = a & 1;
  o.client_no_context_takeover = a & 2;
  o.offer_client_max_window_bits = a & 4;
  o.skip_incompressible = a & 8;
  o.server_max_window_bits = detail::window_bits(a >> 4);
  o.client_max_window_bits = detail::window_bits(b & 15);
  o.compression_level = static_cast<int>((b >> 4) % 10);
  o.mem_level = static_cast<int>((c & 15) % 10);
  o.min_size = detail::min_size(c >> 4);
  return o;
}

// The same three bytes for a server; bit 2 of the first asks for
// require_client_max_window_bits (only with a client_max_window_bits).
inline websockets::server_deflate_options read_server_deflate_options(reader& r) {
  const unsigned a = r.byte(), b = r.byte(), c = r.byte();
  websockets::server_deflate_options o;
  o.server_no_context_takeover = a & 1;
  o.client_no_context_takeover = a & 2;
  o.skip_incompressible = a & 8;
  o.server_max_window_bits = detail::window_bits(a >> 4);
  o.client_max_window_bits = detail::window_bits(b & 15);
  o.require_client_max_window_bits = (a & 4) && o.client_max_window_bits;
  o.compression_level = static_cast<int>((b >> 4) % 10);
  o.mem_level = static_cast<int>((c & 15) % 10);
  o.min_size = detail::min_size(c >> 4);
  return o;
}

// Both ends of one connection after a successful negotiation.
struct deflate_pair {
  std::unique_ptr<websockets::extension> client;
  std::unique_ptr<websockets::extension> server;
};

// The client offers, the server answers, the client accepts the answer.
// std::nullopt when the server declines the offer (negotiation_error); any
// other failure stops the run, and so does a client that refuses an answer
// to its own offer.
inline std::optional<deflate_pair> negotiate(const websockets::client_deflate_options& co,
                                             const websockets::server_deflate_options& so) {
  const websockets::client_permessage_deflate client(co);
  const websockets::server_permessage_deflate server(so);
  deflate_pair out;
  websockets::extension_parameters answer;
  try {
    auto [params, ext] = server.process_request_params(client.get_request_params(), {});
    answer = std::move(params);
    out.server = std::move(ext);
  } catch (const websockets::negotiation_error&) {
    return std::nullopt;
  }
  out.client = client.process_response_params(answer, {});
  return out;
}

}  // namespace fuzz
