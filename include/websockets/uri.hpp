// WebSocket URIs (RFC 6455 section 3): parse_uri() checks a ws:// or wss://
// URI and splits it into what a client needs to connect and to write its
// opening handshake.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/exceptions.hpp"

namespace websockets {

// A parsed WebSocket URI.
struct websocket_uri {
  bool secure = false;          // wss:// rather than ws://
  std::string host{};           // lower case; an IPv6 address without brackets
  std::uint16_t port = 80;      // always set: 80 or 443 when the URI has none
  std::string resource_name{};  // path ("/" when empty) and "?query" if any
  // (username, password), percent-decoded, when the URI has "user:password@".
  std::optional<std::pair<std::string, std::string>> user_info{};

  friend bool operator==(const websocket_uri&, const websocket_uri&) = default;
};

// The port a URI without one uses: 443 for wss://, 80 for ws://.
constexpr std::uint16_t default_port(bool secure) noexcept {
  return secure ? 443 : 80;
}

namespace detail::uri {

[[noreturn]] inline void fail(std::string_view uri, std::string_view why) {
  throw invalid_uri(uri, why);
}

constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr int hex_value(char c) noexcept {
  return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}
constexpr bool is_unreserved(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) noexcept {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}
constexpr bool is_ascii(char c) noexcept {
  return static_cast<unsigned char>(c) < 0x80;
}
constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Percent-decodes s, which starts at `offset` in `uri`; throws on a '%' not
// followed by two hex digits.
inline std::string percent_decode(std::string_view uri, std::string_view s, std::size_t offset) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
      fail(uri, "bad percent-escape at position " + std::to_string(offset + i));
    out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
    i += 2;
  }
  return out;
}

// Copies a path or query, which starts at `offset` in `uri`, and
// percent-encodes the bytes a URI can't hold as they are: non-ASCII (an IRI
// becomes a URI, as RFC 3987 section 3.1 does it) and ASCII outside
// RFC 3986's pchar, like '"', '<', '{' or '|'. Existing escapes are checked
// and kept.
inline void append_encoded(std::string& out, std::string_view uri, std::string_view s,
                           std::size_t offset, bool query) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
        fail(uri, "bad percent-escape at position " + std::to_string(offset + i));
      out.append(s.substr(i, 3));
      i += 2;
    } else if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/' ||
               (query && c == '?')) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
}

// dec-octet "." dec-octet "." dec-octet "." dec-octet, without leading zeros.
constexpr bool is_ipv4(std::string_view s) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    std::size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    if (++parts == 4) return i == s.size();
    if (i == s.size() || s[i] != '.') return false;
    ++i;
  }
}

// IPv6address of RFC 3986 section 3.2.2: eight groups of 1 to 4 hex digits,
// at most one "::" standing for one or more zero groups, and optionally an
// IPv4 address in place of the last two groups.
constexpr bool is_ipv6(std::string_view s) noexcept {
  int groups = 0;
  bool elided = false;
  std::size_t i = 0;
  if (s.starts_with("::")) {
    elided = true;
    i = 2;
    if (s.size() == 2) return true;
  }
  while (true) {
    std::size_t end = std::min(s.find(':', i), s.size());
    std::string_view part = s.substr(i, end - i);
    if (part.find('.') != std::string_view::npos) {
      if (end != s.size() || !is_ipv4(part)) return false;
      groups += 2;
      break;
    }
    if (part.empty() || part.size() > 4 || !std::all_of(part.begin(), part.end(), is_hex))
      return false;
    ++groups;
    if (end == s.size()) break;
    if (end + 1 < s.size() && s[end + 1] == ':') {
      if (elided) return false;
      elided = true;
      i = end + 2;
      if (i == s.size()) break;
    } else {
      i = end + 1;
      if (i == s.size()) return false;
    }
  }
  return elided ? groups <= 7 : groups == 8;
}

// Decodes UTF-8 strictly; std::nullopt for overlong forms, surrogates,
// values past U+10FFFF and truncated sequences.
inline std::optional<std::u32string> utf8_decode(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80             ? 1
              : (b & 0xe0) == 0xc0 ? 2
              : (b & 0xf0) == 0xe0 ? 3
              : (b & 0xf8) == 0xf0 ? 4
                                   : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    char32_t cp = len == 1 ? b : b & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return std::nullopt;
      cp = cp << 6 | (c & 0x3f);
    }
    static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return std::nullopt;
    out += cp;
    i += len;
  }
  return out;
}

// Punycode (RFC 3492) of one label; std::nullopt when the result would be
// longer than the 63 bytes DNS allows.
inline std::optional<std::string> punycode_encode(std::u32string_view label) {
  constexpr std::uint64_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  constexpr std::size_t max_label = 63 - 4;  // after "xn--"
  if (label.size() > max_label) return std::nullopt;
  auto digit = [](std::uint64_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + d - 26); };
  auto adapt = [](std::uint64_t delta, std::uint64_t points, bool first) {
    delta = first ? delta / damp : delta / 2;
    delta += delta / points;
    std::uint64_t k = 0;
    while (delta > (base - tmin) * tmax / 2) {
      delta /= base - tmin;
      k += base;
    }
    return k + (base - tmin + 1) * delta / (delta + skew);
  };

  std::string out;
  for (char32_t c : label)
    if (c < 0x80) out += static_cast<char>(c);
  const std::size_t basic = out.size();
  if (basic > 0) out += '-';
  std::uint64_t n = 128, delta = 0, bias = 72;
  for (std::size_t h = basic; h < label.size();) {
    std::uint64_t m = *std::min_element(label.begin(), label.end(), [&](char32_t a, char32_t b) {
      return (a >= n ? a : 0x110000) < (b >= n ? b : 0x110000);
    });
    delta += (m - n) * (h + 1);
    n = m;
    for (char32_t c : label) {
      if (c < n) ++delta;
      if (c != n) continue;
      std::uint64_t q = delta;
      for (std::uint64_t k = base;; k += base) {
        std::uint64_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
        if (q < t) break;
        out += digit(t + (q - t) % (base - t));
        q = (q - t) / (base - t);
      }
      out += digit(q);
      bias = adapt(delta, h + 1, h == basic);
      delta = 0;
      ++h;
    }
    ++delta;
    ++n;
    if (out.size() > max_label) return std::nullopt;
  }
  return out;
}

// Converts an internationalized host name to its ASCII form: each label
// with non-ASCII characters becomes "xn--" and its Punycode (RFC 3490's
// ToASCII without the nameprep mapping, so the name must already be in
// lower case and NFC, as names usually are written).
inline std::string idna_encode(std::string_view uri, std::string_view host) {
  auto decoded = utf8_decode(host);
  if (!decoded) fail(uri, "invalid UTF-8 in host");
  std::string out;
  std::u32string_view rest = *decoded;
  while (true) {
    // IDNA also separates labels with the ideographic and fullwidth stops.
    std::size_t dot = rest.find_first_of(U".\u3002\uFF0E\uFF61");
    std::u32string_view label = rest.substr(0, dot);
    if (std::all_of(label.begin(), label.end(), [](char32_t c) { return c < 0x80; })) {
      for (char32_t c : label) out += lower(static_cast<char>(c));
    } else {
      std::u32string lowered(label);
      for (char32_t& c : lowered)
        if (c < 0x80) c = static_cast<char32_t>(lower(static_cast<char>(c)));
      auto encoded = punycode_encode(lowered);
      if (!encoded) fail(uri, "host label too long");
      out += "xn--";
      out += *encoded;
    }
    if (dot == std::u32string_view::npos) break;
    out += '.';
    rest.remove_prefix(dot + 1);
  }
  return out;
}

}  // namespace detail::uri

// Parses and checks a WebSocket URI: "ws" or "wss" (in any case) "://",
// optional "user:password@", a host name, an IPv4 address or a bracketed
// IPv6 address (with an optional RFC 6874 zone, "[fe80::1%25eth0]"), an
// optional port, then the resource name.
//
// Throws invalid_uri, saying what is wrong, for: another scheme, no host,
// a fragment ("#..."), a port that isn't a number from 1 to 65535 (port 0
// can't be connected to, so it's refused rather than taken as the
// default), user info without a password, spaces, control characters,
// malformed percent-escapes, and characters a host can't hold.
//
// As the reference does, non-ASCII characters are accepted: in the path and
// query they are percent-encoded as UTF-8, in the host the labels are
// converted to Punycode ("xn--..."), and user info is percent-decoded.
// Other bytes that RFC 3986 doesn't allow in a path or query, like '|' or
// '{', are percent-encoded too. An empty query ("ws://h/?") is dropped.
inline websocket_uri parse_uri(std::string_view uri) {
  using namespace detail::uri;
  for (std::size_t i = 0; i < uri.size(); ++i) {
    auto u = static_cast<unsigned char>(uri[i]);
    if (u <= 0x20 || u == 0x7f)
      fail(uri, "space or control character at position " + std::to_string(i));
  }

  websocket_uri out;
  std::size_t colon = uri.find(':');
  std::string_view scheme = uri.substr(0, colon);
  if (colon == std::string_view::npos || scheme.size() < 2 || scheme.size() > 3 ||
      lower(scheme[0]) != 'w' || lower(scheme[1]) != 's' ||
      (scheme.size() == 3 && lower(scheme[2]) != 's'))
    fail(uri, "scheme isn't ws or wss");
  out.secure = scheme.size() == 3;

  if (uri.find('#') != std::string_view::npos) fail(uri, "fragment not allowed");
  if (uri.substr(colon + 1, 2) != "//") fail(uri, "host isn't provided");

  const std::size_t authority_start = colon + 3;
  const std::size_t authority_end = std::min(uri.find_first_of("/?", authority_start), uri.size());
  std::string_view authority = uri.substr(authority_start, authority_end - authority_start);

  // User info: everything before the last '@' (RFC 3986 doesn't allow '@'
  // in a host, and '@' in a password should be escaped but often isn't).
  std::size_t host_start = authority_start;
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = authority.substr(0, at);
    for (std::size_t i = 0; i < user_info.size(); ++i) {
      char c = user_info[i];
      if (!(is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '%' ||
            !is_ascii(c)))
        fail(uri,
             "invalid character in user info at position " + std::to_string(authority_start + i));
    }
    std::size_t sep = user_info.find(':');
    if (sep == std::string_view::npos) fail(uri, "username provided without password");
    out.user_info.emplace(
        percent_decode(uri, user_info.substr(0, sep), authority_start),
        percent_decode(uri, user_info.substr(sep + 1), authority_start + sep + 1));
    if (out.user_info->first.find(':') != std::string::npos) fail(uri, "username contains ':'");
    authority.remove_prefix(at + 1);
    host_start += at + 1;
  }

  // Host, then an optional port.
  std::string_view host, port;
  if (authority.starts_with('[')) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail(uri, "missing ']' after IPv6 address");
    std::string_view literal = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':')
      fail(uri, "unexpected character after IPv6 address at position " +
                    std::to_string(host_start + close + 1));
    if (!after.empty()) port = after.substr(1);
    std::string_view zone;
    if (std::size_t pct = literal.find('%'); pct != std::string_view::npos) {
      zone = literal.substr(pct);
      literal = literal.substr(0, pct);
    }
    if (!is_ipv6(literal)) fail(uri, "invalid IPv6 address");
    for (char c : literal) out.host += lower(c);
    if (!zone.empty()) {
      // RFC 6874: "%25" then the zone, unreserved characters or escapes.
      if (!zone.starts_with("%25") || zone.size() == 3) fail(uri, "invalid IPv6 zone");
      std::size_t zone_at = host_start + 1 + (zone.data() - authority.data() - 1);
      std::string name = percent_decode(uri, zone.substr(3), zone_at + 3);
      if (!std::all_of(name.begin(), name.end(), is_unreserved)) fail(uri, "invalid IPv6 zone");
      out.host += '%';
      out.host += name;
    }
  } else {
    std::size_t sep = authority.rfind(':');
    host = authority.substr(0, sep);
    if (sep != std::string_view::npos) port = authority.substr(sep + 1);
    if (host.empty()) fail(uri, "empty host");
    bool ascii = true;
    for (std::size_t i = 0; i < host.size(); ++i) {
      char c = host[i];
      if (!is_ascii(c)) {
        ascii = false;
      } else if (!is_unreserved(c) && !is_sub_delim(c)) {
        fail(uri, std::string("invalid character '") + c + "' in host at position " +
                      std::to_string(host_start + i));
      }
    }
    if (ascii) {
      out.host.reserve(host.size());
      for (char c : host) out.host += lower(c);
    } else {
      out.host = idna_encode(uri, host);
    }
  }

  out.port = default_port(out.secure);
  if (!port.empty()) {
    unsigned long value = 0;
    for (char c : port) {
      if (!is_digit(c)) fail(uri, "invalid port " + std::string(port));
      value = std::min(value * 10 + static_cast<unsigned long>(c - '0'), 65536ul);
    }
    if (value == 0 || value > 65535) fail(uri, "invalid port " + std::string(port));
    out.port = static_cast<std::uint16_t>(value);
  }

  // Resource name: path, then "?" and the query if it isn't empty.
  std::string_view rest = uri.substr(authority_end);
  std::size_t question = rest.find('?');
  std::string_view path = rest.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  out.resource_name.reserve(rest.size() + 1);
  if (path.empty()) out.resource_name = "/";
  append_encoded(out.resource_name, uri, path, authority_end, false);
  if (!query.empty()) {
    out.resource_name += '?';
    append_encoded(out.resource_name, uri, query, authority_end + question + 1, true);
  }
  return out;
}

// The Host header for a connection to `uri`: the host, in brackets if it's
// an IPv6 address (without its zone, which means nothing to the server),
// then ":port" unless the port is the scheme's default.
inline std::string host_header(const websocket_uri& uri) {
  std::string out;
  if (uri.host.find(':') != std::string::npos) {
    out += '[';
    out.append(uri.host, 0, uri.host.find('%'));
    out += ']';
  } else {
    out = uri.host;
  }
  if (uri.port != default_port(uri.secure)) {
    out += ':';
    out += std::to_string(uri.port);
  }
  return out;
}

// The URI as a string, without the user info so that it can be logged:
// "wss://example.com:8443/chat?room=1". An IPv6 zone is written "%25zone".
inline std::string to_string(const websocket_uri& uri) {
  std::string out = uri.secure ? "wss://" : "ws://";
  if (std::size_t pct = uri.host.find('%'); pct != std::string::npos) {
    out += '[';
    out.append(uri.host, 0, pct);
    out += "%25";
    out.append(uri.host, pct + 1);
    out += ']';
    if (uri.port != default_port(uri.secure)) out += ':' + std::to_string(uri.port);
  } else {
    out += host_header(uri);
  }
  out += uri.resource_name;
  return out;
}

}  // namespace websockets
