// HTTP header fields: the `headers` container, and parsers and builders for
// the header fields of the opening handshake (Connection, Upgrade,
// Sec-WebSocket-Extensions, Sec-WebSocket-Protocol, Authorization), following
// the grammar of RFC 7230 section 3.2.6 and 7.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/detail/base64.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extension_header.hpp"

namespace websockets {

namespace detail {

// tchar of RFC 7230 section 3.2.6: the characters of a token.
constexpr bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// OWS: optional whitespace, spaces and horizontal tabs.
constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// A byte allowed in a field value (or a reason phrase): HTAB, SP, VCHAR and
// obs-text; that is, anything but a control character.
constexpr bool is_field_char(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

constexpr char to_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality, for header names and tokens.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace detail

// Throws std::invalid_argument unless `name` is a token (RFC 7230), so that
// it can go in a header line as it is.
inline void check_header_name(std::string_view name) {
  if (!detail::is_token(name))
    throw std::invalid_argument("invalid HTTP header name " + detail::printable(name));
}

// Throws std::invalid_argument when `value` holds a control character (CR,
// LF and NUL among them), which could end the header line early and inject
// headers or a body.
inline void check_header_value(std::string_view name, std::string_view value) {
  auto bad = std::find_if_not(value.begin(), value.end(), detail::is_field_char);
  if (bad != value.end())
    throw std::invalid_argument("invalid character at " + std::to_string(bad - value.begin()) +
                                " in the value of HTTP header " + detail::printable(name) + ": " +
                                detail::printable(value));
}

// HTTP header fields in the order received or added. Names compare without
// regard to case; a name may appear several times.
//
// Lookups scan the fields in order: handshake messages hold a few dozen
// fields at most, where a flat vector beats any index.
class headers {
 public:
  // One field: name and value as received or added.
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  headers() = default;

  // Fields in order, e.g. {{"Host", "example.com"}, {"Origin", "..."}}.
  headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    items_.reserve(fields.size());
    for (auto& [name, value] : fields) items_.emplace_back(name, value);
  }

  // Takes over a list of fields, as abort_handshake holds them.
  explicit headers(std::vector<value_type> fields) noexcept : items_(std::move(fields)) {}

  // Appends a field, keeping any earlier field with the same name.
  template <class Name, class Value>
  requires std::constructible_from<std::string, Name&&> &&
      std::constructible_from<std::string, Value&&>
  void add(Name&& name, Value&& value) {
    items_.emplace_back(std::string(std::forward<Name>(name)),
                        std::string(std::forward<Value>(value)));
  }

  // Replaces every field named `name` with one field at the end.
  template <class Name, class Value>
  requires std::constructible_from<std::string, Name&&> &&
      std::constructible_from<std::string, Value&&>
  void set(Name&& name, Value&& value) {
    // Copy first: `value` may be a field that erase() removes.
    std::string n(std::forward<Name>(name));
    std::string v(std::forward<Value>(value));
    erase(n);
    items_.emplace_back(std::move(n), std::move(v));
  }

  // The one value of `name`. Throws std::out_of_range when there is none and
  // multiple_values_error when there are several.
  const std::string& operator[](std::string_view name) const {
    const std::string* found = nullptr;
    for (auto& [n, v] : items_) {
      if (!detail::iequals(n, name)) continue;
      if (found) throw multiple_values_error(std::string(name));
      found = &v;
    }
    if (!found) throw std::out_of_range("no HTTP header named " + std::string(name));
    return *found;
  }

  // The first value of `name`, or std::nullopt when there is none.
  std::optional<std::string_view> get(std::string_view name) const noexcept {
    for (auto& [n, v] : items_)
      if (detail::iequals(n, name)) return std::string_view(v);
    return std::nullopt;
  }

  // Every value of `name` in order; empty when there is none. The views last
  // until this object changes.
  std::vector<std::string_view> get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (auto& [n, v] : items_)
      if (detail::iequals(n, name)) out.emplace_back(v);
    return out;
  }

  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }

  // How many fields are named `name`.
  std::size_t count(std::string_view name) const noexcept {
    return static_cast<std::size_t>(std::count_if(
        items_.begin(), items_.end(), [&](auto& f) { return detail::iequals(f.first, name); }));
  }

  // Removes every field named `name`; returns how many there were.
  std::size_t erase(std::string_view name) noexcept {
    return std::erase_if(items_, [&](auto& f) { return detail::iequals(f.first, name); });
  }

  void clear() noexcept { items_.clear(); }
  void reserve(std::size_t n) { items_.reserve(n); }

  // The number of fields: a name that appears twice counts twice.
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }

  // Every field in order, with names in their original case.
  std::span<const value_type> raw_items() const noexcept { return items_; }
  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }

  // Equal when both hold the same fields in the same order, names in the same case.
  friend bool operator==(const headers&, const headers&) = default;

 private:
  std::vector<value_type> items_;
};

namespace detail {

// A cursor over one header value for the parsers below: each step either
// advances or throws invalid_header_format naming the header and the position.
class header_reader {
 public:
  header_reader(std::string_view header_name, std::string_view s) noexcept
      : name_(header_name), s_(s) {}

  bool at_end() const noexcept { return pos_ == s_.size(); }
  std::size_t pos() const noexcept { return pos_; }
  bool peek(char c) const noexcept { return pos_ < s_.size() && s_[pos_] == c; }
  bool consume(char c) noexcept { return peek(c) && (++pos_, true); }
  void skip_ows() noexcept {
    while (pos_ < s_.size() && is_ows(s_[pos_])) ++pos_;
  }

  [[noreturn]] void fail(std::string error, std::size_t at) const {
    throw invalid_header_format(std::string(name_), std::move(error), std::string(s_), at);
  }
  [[noreturn]] void fail(std::string error) const { fail(std::move(error), pos_); }

  std::string_view token(const char* error = "expected token") {
    std::size_t start = pos_;
    while (pos_ < s_.size() && is_tchar(s_[pos_])) ++pos_;
    if (pos_ == start) fail(error);
    return s_.substr(start, pos_ - start);
  }

  // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, unescaped.
  std::string quoted_string() {
    std::size_t start = pos_;
    if (!peek('"')) fail("expected quoted string");
    std::string out;
    for (++pos_; pos_ < s_.size(); ++pos_) {
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        if (++pos_ == s_.size()) break;
        c = s_[pos_];
      }
      if (!is_field_char(c)) break;
      out += c;
    }
    fail("expected quoted string", start);
  }

  // token68 of RFC 7235 section 2.1, as Basic credentials are.
  std::string_view token68() {
    auto ok = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    };
    std::size_t start = pos_;
    while (pos_ < s_.size() && ok(s_[pos_])) ++pos_;
    if (pos_ == start) fail("expected token68");
    while (peek('=')) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // #element of RFC 7230 section 7: a comma-separated list of at least one
  // element, where empty elements and whitespace around commas are ignored.
  template <class ParseItem>
  auto list(ParseItem parse_item) {
    std::vector<decltype(parse_item(*this))> items;
    skip_ows();
    auto skip_commas = [&] {
      while (peek(',')) {
        ++pos_;
        skip_ows();
      }
    };
    skip_commas();
    for (;;) {
      items.push_back(parse_item(*this));
      skip_ows();
      if (at_end()) break;
      if (!peek(',')) fail("expected comma");
      skip_commas();
      if (at_end()) break;
    }
    return items;
  }

 private:
  std::string_view name_;
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses a Connection header into its options, e.g. "keep-alive, Upgrade"
// into {"keep-alive", "Upgrade"}, keeping their case.
inline std::vector<std::string> parse_connection(std::string_view value) {
  detail::header_reader r("Connection", value);
  return r.list([](detail::header_reader& r) { return std::string(r.token()); });
}

// Parses an Upgrade header into its protocols, each a token or
// "token/version", e.g. "websocket" or "HTTP/2.0, websocket".
inline std::vector<std::string> parse_upgrade(std::string_view value) {
  detail::header_reader r("Upgrade", value);
  return r.list([value](detail::header_reader& r) {
    std::size_t start = r.pos();
    r.token("expected protocol");
    if (r.consume('/')) r.token("expected protocol version");
    return std::string(value.substr(start, r.pos() - start));
  });
}

// Parses a Sec-WebSocket-Extensions header, e.g.
// "permessage-deflate; client_max_window_bits, x-foo; a=1; b=\"2\"".
// A parameter without "=" has std::nullopt as value. A quoted value is
// unquoted and must then be a token (RFC 6455 section 9.1). Repeated
// parameters are kept: rejecting them is the extension's business.
inline std::vector<extension_header> parse_extension_list(std::string_view value) {
  detail::header_reader r("Sec-WebSocket-Extensions", value);
  return r.list([](detail::header_reader& r) {
    extension_header ext{std::string(r.token()), {}};
    r.skip_ows();
    while (r.consume(';')) {
      r.skip_ows();
      auto& [name, param_value] = ext.params.emplace_back(std::string(r.token()), std::nullopt);
      r.skip_ows();
      if (r.consume('=')) {
        r.skip_ows();
        if (r.peek('"')) {
          std::size_t start = r.pos();
          param_value = r.quoted_string();
          if (!detail::is_token(*param_value)) r.fail("invalid quoted header content", start);
        } else {
          param_value = std::string(r.token());
        }
        r.skip_ows();
      }
    }
    return ext;
  });
}

// Builds a Sec-WebSocket-Extensions header; the reverse of
// parse_extension_list(). Throws std::invalid_argument when a name or a
// value isn't a token, as the header's grammar requires.
inline std::string build_extension_list(std::span<const extension_header> extensions) {
  std::string out;
  for (auto& ext : extensions) {
    if (!detail::is_token(ext.name))
      throw std::invalid_argument("invalid extension name " + detail::printable(ext.name));
    if (!out.empty()) out += ", ";
    out += ext.name;
    for (auto& [name, value] : ext.params) {
      if (!detail::is_token(name))
        throw std::invalid_argument("invalid parameter name " + detail::printable(name) +
                                    " for extension " + ext.name);
      out += "; ";
      out += name;
      if (!value) continue;
      if (!detail::is_token(*value))
        throw std::invalid_argument("invalid value " + detail::printable(*value) +
                                    " for parameter " + name + " of extension " + ext.name);
      out += '=';
      out += *value;
    }
  }
  return out;
}

// Parses a Sec-WebSocket-Protocol header, e.g. "chat, superchat".
inline std::vector<std::string> parse_subprotocol_list(std::string_view value) {
  detail::header_reader r("Sec-WebSocket-Protocol", value);
  return r.list([](detail::header_reader& r) { return std::string(r.token()); });
}

// Builds a Sec-WebSocket-Protocol header; the reverse of
// parse_subprotocol_list(). Throws std::invalid_argument when a subprotocol
// isn't a token.
inline std::string build_subprotocol_list(std::span<const std::string> subprotocols) {
  std::string out;
  for (auto& p : subprotocols) {
    if (!detail::is_token(p))
      throw std::invalid_argument("invalid subprotocol " + detail::printable(p));
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

// Builds an Authorization header with Basic credentials (RFC 7617), as a
// client sends for the user info of its URI. Throws std::invalid_argument
// when the username holds a ':', which Basic can't carry.
inline std::string build_authorization_basic(std::string_view username, std::string_view password) {
  if (username.find(':') != std::string_view::npos)
    throw std::invalid_argument("a username for Basic authentication can't contain ':'");
  std::string credentials;
  credentials.reserve(username.size() + 1 + password.size());
  credentials.append(username).append(1, ':').append(password);
  return "Basic " + detail::base64_encode(credentials);
}

// Parses an Authorization header with Basic credentials into (username,
// password). Throws invalid_header_format when it can't be parsed and
// invalid_header_value for another scheme or credentials that don't decode.
inline std::pair<std::string, std::string> parse_authorization_basic(std::string_view value) {
  detail::header_reader r("Authorization", value);
  auto scheme = r.token();
  if (!detail::iequals(scheme, "basic"))
    throw invalid_header_value("Authorization", "unsupported scheme: " + std::string(scheme));
  if (!r.consume(' ')) r.fail("expected space after scheme");
  auto encoded = r.token68();
  if (!r.at_end()) r.fail("expected end of string");
  auto decoded = detail::base64_decode(encoded);
  if (!decoded) throw invalid_header_value("Authorization", "expected base64-encoded credentials");
  auto colon = decoded->find(':');
  if (colon == std::string::npos)
    throw invalid_header_value("Authorization", "expected username:password credentials");
  return {decoded->substr(0, colon), decoded->substr(colon + 1)};
}

// Builds a WWW-Authenticate header asking for Basic credentials in `realm`.
inline std::string build_www_authenticate_basic(std::string_view realm) {
  std::string out = "Basic realm=\"";
  for (char c : realm) {
    if (!detail::is_field_char(c))
      throw std::invalid_argument("invalid character in realm " + detail::printable(realm));
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += "\", charset=\"UTF-8\"";
  return out;
}

}  // namespace websockets
