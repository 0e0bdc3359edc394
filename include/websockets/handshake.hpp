// The opening handshake's headers (RFC 6455 section 4): what a client adds
// to its request and checks in the response, what a server checks in the
// request and adds to its response.
//
// A server reads the request, checks that it's an HTTP/1.1 GET (not done
// here), calls check_request() and, if that throws, answers with an error
// such as 400 Bad Request (426 Upgrade Required with
// "Sec-WebSocket-Version: 13" when only the version is wrong); otherwise it
// sends 101 with the headers from build_response(). A client sends a GET
// with the headers from build_request(), then checks that the response's
// status is 101 (not done here) and calls check_response().
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "websockets/detail/base64.hpp"
#include "websockets/detail/random.hpp"
#include "websockets/detail/sha1.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/headers.hpp"

namespace websockets {

// The GUID that RFC 6455 appends to the key before hashing it.
inline constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// A fresh Sec-WebSocket-Key: 16 random bytes, base64-encoded.
inline std::string generate_key() {
  std::array<std::byte, 16> nonce;
  detail::fill_random(nonce);
  return detail::base64_encode(nonce);
}

// The Sec-WebSocket-Accept value that answers `key`: the base64 of the
// SHA-1 of the key followed by the GUID.
inline std::string accept_key(std::string_view key) {
  detail::sha1 h;
  h.update(key);
  h.update(websocket_guid);
  auto digest = h.finish();
  return detail::base64_encode(digest.data(), digest.size());
}

namespace detail {

inline std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Checks the Connection and Upgrade headers, shared by request and response:
// Connection must hold the "upgrade" option and Upgrade must be exactly
// "websocket", both in any case (RFC 6455's IANA section spells it
// "WebSocket", and some peers follow).
inline void check_upgrade_headers(const headers& hs) {
  auto connection_values = hs.get_all("Connection");
  std::vector<std::string> connection;
  for (auto v : connection_values) {
    auto options = parse_connection(v);
    connection.insert(connection.end(), options.begin(), options.end());
  }
  bool has_upgrade = false;
  for (auto& option : connection) has_upgrade = has_upgrade || iequals(option, "upgrade");
  if (!has_upgrade) {
    std::optional<std::string> value;
    if (!connection_values.empty()) value = join(connection);
    throw invalid_upgrade("Connection", value);
  }

  auto upgrade_values = hs.get_all("Upgrade");
  std::vector<std::string> upgrade;
  for (auto v : upgrade_values) {
    auto protocols = parse_upgrade(v);
    upgrade.insert(upgrade.end(), protocols.begin(), protocols.end());
  }
  if (upgrade.size() != 1 || !iequals(upgrade[0], "websocket")) {
    std::optional<std::string> value;
    if (!upgrade_values.empty()) value = join(upgrade);
    throw invalid_upgrade("Upgrade", value);
  }
}

// The one value of header `name`: throws invalid_header when it's missing
// or repeated.
inline std::string_view single_header(const headers& hs, std::string_view name) {
  std::optional<std::string_view> found;
  for (auto& [n, v] : hs) {
    if (!iequals(n, name)) continue;
    if (found)
      throw invalid_header(std::string(name),
                           "more than one " + std::string(name) + " header found");
    found = v;
  }
  if (!found) throw invalid_header(std::string(name));
  return *found;
}

}  // namespace detail

// Adds to a client's request headers the fields that ask for a WebSocket
// upgrade (Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version)
// and returns the key, for check_response(). Host, Origin, extensions and
// subprotocols are the caller's.
inline std::string build_request(headers& request_headers) {
  std::string key = generate_key();
  request_headers.add("Upgrade", "websocket");
  request_headers.add("Connection", "Upgrade");
  request_headers.add("Sec-WebSocket-Key", key);
  request_headers.add("Sec-WebSocket-Version", "13");
  return key;
}

// Checks a client's request headers and returns its Sec-WebSocket-Key, for
// build_response(). Throws:
// - invalid_upgrade when Connection lacks "upgrade" or Upgrade isn't
//   "websocket",
// - invalid_header_format when one of those can't be parsed,
// - invalid_header when Sec-WebSocket-Key or Sec-WebSocket-Version is
//   missing or repeated,
// - invalid_header_value when the key isn't the base64 of 16 bytes or the
//   version isn't 13.
// The method, HTTP version, Host and Origin aren't checked here.
inline std::string check_request(const headers& request_headers) {
  detail::check_upgrade_headers(request_headers);

  std::string_view key = detail::single_header(request_headers, "Sec-WebSocket-Key");
  std::array<std::byte, 17> raw;  // one spare byte, to tell 16 from more
  auto size = detail::base64_decode(key, raw);
  if (!size || *size != 16) throw invalid_header_value("Sec-WebSocket-Key", std::string(key));

  std::string_view version = detail::single_header(request_headers, "Sec-WebSocket-Version");
  if (version != "13") throw invalid_header_value("Sec-WebSocket-Version", std::string(version));
  return std::string(key);
}

// Adds to a server's 101 response headers the fields that accept the
// upgrade: Upgrade, Connection and the Sec-WebSocket-Accept for `key` (from
// check_request()).
inline void build_response(headers& response_headers, std::string_view key) {
  response_headers.add("Upgrade", "websocket");
  response_headers.add("Connection", "Upgrade");
  response_headers.add("Sec-WebSocket-Accept", accept_key(key));
}

// Checks a server's 101 response headers against the `key` that
// build_request() returned. Throws invalid_upgrade or
// invalid_header_format for the Connection and Upgrade headers as
// check_request() does, invalid_header when Sec-WebSocket-Accept is missing
// or repeated, and invalid_header_value when it doesn't match the key.
// The status code isn't checked here.
inline void check_response(const headers& response_headers, std::string_view key) {
  detail::check_upgrade_headers(response_headers);
  std::string_view accept = detail::single_header(response_headers, "Sec-WebSocket-Accept");
  if (accept != accept_key(key))
    throw invalid_header_value("Sec-WebSocket-Accept", std::string(accept));
}

}  // namespace websockets
