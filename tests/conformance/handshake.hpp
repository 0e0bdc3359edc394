// The opening handshake by hand (RFC 6455 section 4), for both ends the
// driver plays: as a client it writes the upgrade request byte by byte of
// its own choosing and checks the server's 101 response; as a server it
// reads the request of the client under test, checks it, and answers with
// whatever extension response the case wants.
#pragma once

#include <cctype>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conformance/tcp.hpp"
#include "websockets/detail/base64.hpp"
#include "websockets/detail/sha1.hpp"

namespace websockets::conformance {

// An HTTP head: the start line and the header fields in order.
struct http_head {
  std::string start_line;
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of the only field named `name` (any case), or of the first;
  // std::nullopt if there is none.
  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [n, v] : fields)
      if (equal_nocase(n, name)) return v;
    return std::nullopt;
  }

  // How many fields are named `name`.
  std::size_t count(std::string_view name) const {
    std::size_t k = 0;
    for (const auto& [n, v] : fields) k += equal_nocase(n, name);
    return k;
  }

  static bool equal_nocase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    return true;
  }
};

// Whether the comma-separated list `value` holds `token` (any case).
inline bool has_token(std::string_view value, std::string_view token) {
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view item = value.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (http_head::equal_nocase(item, token)) return true;
    start = comma + 1;
  }
  return false;
}

// Reads an HTTP head (up to the empty line) from `c`; what follows it stays
// in `rest`. Returns std::nullopt with `error` set if it doesn't come whole
// within 16 KiB and the deadline, or doesn't parse.
inline std::optional<http_head> read_head(tcp_connection& c, std::string& rest,
                                          clock::time_point deadline, std::string& error) {
  std::size_t end;
  while ((end = rest.find("\r\n\r\n")) == std::string::npos) {
    if (rest.size() > 16384) {
      error = "HTTP head longer than 16 KiB";
      return std::nullopt;
    }
    const io_status s = c.read(rest, deadline);
    if (s != io_status::ok) {
      error = std::string("HTTP head incomplete: ") + to_string(s) + " after " +
              std::to_string(rest.size()) + " bytes";
      return std::nullopt;
    }
  }
  http_head head;
  std::string_view text(rest.data(), end + 2);
  std::size_t line_end = text.find("\r\n");
  head.start_line = std::string(text.substr(0, line_end));
  std::size_t pos = line_end + 2;
  while (pos < text.size()) {
    line_end = text.find("\r\n", pos);
    const std::string_view line = text.substr(pos, line_end - pos);
    pos = line_end + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "malformed header line: " + std::string(line);
      return std::nullopt;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    head.fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  rest.erase(0, end + 4);
  return head;
}

// base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). The suite checks it against
// the RFC's own example before trusting it.
inline std::string expected_accept(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  detail::sha1 h;
  h.update(key.data(), key.size());
  h.update(guid.data(), guid.size());
  const auto digest = h.finish();
  return detail::base64_encode(digest.data(), digest.size());
}

// A fresh Sec-WebSocket-Key: 16 random bytes in base64.
inline std::string random_key() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  unsigned char bytes[16];
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  return detail::base64_encode(bytes, sizeof bytes);
}

// The upgrade request the driver sends as a client; `extensions` goes in
// Sec-WebSocket-Extensions when not empty.
inline std::string upgrade_request(std::uint16_t port, std::string_view path, std::string_view key,
                                   std::string_view extensions) {
  std::string r = "GET " + std::string(path) + " HTTP/1.1\r\n";
  r += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  r += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  r += "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
  r += "Sec-WebSocket-Version: 13\r\n";
  if (!extensions.empty()) r += "Sec-WebSocket-Extensions: " + std::string(extensions) + "\r\n";
  r += "\r\n";
  return r;
}

// Checks a server's answer to an upgrade request with `key`; returns what
// is wrong, empty if nothing.
inline std::string check_upgrade_response(const http_head& h, std::string_view key) {
  if (h.start_line.rfind("HTTP/1.1 101", 0) != 0) return "status line is " + h.start_line;
  const auto upgrade = h.get("Upgrade");
  if (!upgrade || !has_token(*upgrade, "websocket")) return "no Upgrade: websocket";
  const auto connection = h.get("Connection");
  if (!connection || !has_token(*connection, "upgrade")) return "no Connection: Upgrade";
  if (h.count("Sec-WebSocket-Accept") != 1) return "not exactly one Sec-WebSocket-Accept";
  if (*h.get("Sec-WebSocket-Accept") != expected_accept(key))
    return "Sec-WebSocket-Accept is " + *h.get("Sec-WebSocket-Accept") + ", not " +
           expected_accept(key);
  return {};
}

// Checks a client's upgrade request (RFC 6455 4.1); returns what is wrong,
// empty if nothing.
inline std::string check_upgrade_request(const http_head& h) {
  if (h.start_line.rfind("GET ", 0) != 0 || h.start_line.size() < 14 ||
      h.start_line.compare(h.start_line.size() - 9, 9, " HTTP/1.1") != 0)
    return "request line is " + h.start_line;
  if (!h.get("Host")) return "no Host";
  const auto upgrade = h.get("Upgrade");
  if (!upgrade || !has_token(*upgrade, "websocket")) return "no Upgrade: websocket";
  const auto connection = h.get("Connection");
  if (!connection || !has_token(*connection, "upgrade")) return "no Connection: Upgrade";
  const auto version = h.get("Sec-WebSocket-Version");
  if (!version || *version != "13") return "Sec-WebSocket-Version isn't 13";
  const auto key = h.get("Sec-WebSocket-Key");
  if (!key) return "no Sec-WebSocket-Key";
  const auto decoded = detail::base64_decode(*key);
  if (!decoded || decoded->size() != 16) return "Sec-WebSocket-Key isn't 16 bytes in base64";
  return {};
}

// The driver's 101 answer to a request with `key`.
inline std::string upgrade_response(std::string_view key, std::string_view extensions) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  r += "Sec-WebSocket-Accept: " + expected_accept(key) + "\r\n";
  if (!extensions.empty()) r += "Sec-WebSocket-Extensions: " + std::string(extensions) + "\r\n";
  r += "\r\n";
  return r;
}

}  // namespace websockets::conformance
