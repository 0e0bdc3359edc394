// Every error the library raises, in the reference's hierarchy.
//
//   websocket_exception
//   ├── connection_closed            (code(), reason(), sent_code(), sent_reason())
//   │   ├── connection_closed_ok     the peer closed with 1000 or 1001
//   │   └── connection_closed_error  anything else
//   ├── invalid_handshake
//   │   ├── invalid_message          a malformed HTTP request or response
//   │   ├── invalid_header           (name(), value())
//   │   │   ├── invalid_header_format (name(), error(), string(), pos())
//   │   │   └── invalid_header_value
//   │   │       ├── invalid_origin
//   │   │       └── invalid_upgrade
//   │   ├── invalid_status_code      (status_code())
//   │   ├── negotiation_error
//   │   │   ├── duplicate_parameter   (name())
//   │   │   ├── invalid_parameter_name (name())
//   │   │   └── invalid_parameter_value (name(), value())
//   │   └── abort_handshake          (status(), headers(), body())
//   ├── cancel_handshake
//   ├── invalid_state
//   ├── invalid_uri                  (uri(), what was wrong)
//   ├── payload_too_big
//   ├── protocol_error               (close_code(): 1002, 1007 or 1009)
//   └── multiple_values_error        (name())
//
// Every message says what was wrong and where: the header's name, the byte
// offset, the close code.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/close_code.hpp"

namespace websockets {

// The base of every exception of the library.
class websocket_exception : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

// Quotes untrusted text for an error message: control characters and
// non-ASCII bytes become \xNN, and anything past `max` bytes becomes "...",
// so that a peer can neither forge log lines nor make messages huge.
inline std::string printable(std::string_view s, std::size_t max = 200) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7f || u == '"' || u == '\\') {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += static_cast<char>(u);
    }
  }
  if (s.size() > max) out += "...";
  out += '"';
  return out;
}

// A readable name for a close code, for messages ("1002 (protocol error)").
inline std::string_view close_code_name(std::uint16_t code) noexcept {
  switch (code) {
    case code_of(close_code::normal_closure):
      return "OK";
    case code_of(close_code::going_away):
      return "going away";
    case code_of(close_code::protocol_error):
      return "protocol error";
    case code_of(close_code::unsupported_data):
      return "unsupported data";
    case code_of(close_code::no_status_received):
      return "no status received";
    case code_of(close_code::abnormal_closure):
      return "connection closed abnormally";
    case code_of(close_code::invalid_payload):
      return "invalid frame payload data";
    case code_of(close_code::policy_violation):
      return "policy violation";
    case code_of(close_code::message_too_big):
      return "message too big";
    case code_of(close_code::mandatory_extension):
      return "mandatory extension";
    case code_of(close_code::internal_error):
      return "internal error";
    case code_of(close_code::service_restart):
      return "service restart";
    case code_of(close_code::try_again_later):
      return "try again later";
    case code_of(close_code::bad_gateway):
      return "bad gateway";
    case code_of(close_code::tls_handshake):
      return "TLS handshake failed";
    default:
      if (is_registered_close_code(code)) return "registered";
      if (is_private_close_code(code)) return "private use";
      return "unknown";
  }
}

inline std::string describe_close(std::uint16_t code, std::string_view reason) {
  std::string s = std::to_string(code);
  s += " (";
  s += close_code_name(code);
  s += ')';
  if (!reason.empty()) {
    s += ' ';
    s += reason;
  }
  return s;
}

inline std::string closed_message(std::optional<std::uint16_t> rcvd_code,
                                  std::string_view rcvd_reason,
                                  std::optional<std::uint16_t> sent_code,
                                  std::string_view sent_reason) {
  if (!rcvd_code && !sent_code) return "no close frame received or sent";
  std::string s;
  if (rcvd_code) {
    s = "received " + describe_close(*rcvd_code, rcvd_reason);
    s += sent_code ? "; then sent " + describe_close(*sent_code, sent_reason)
                   : std::string("; no close frame sent");
  } else {
    s = "sent " + describe_close(*sent_code, sent_reason) + "; no close frame received";
  }
  return s;
}

}  // namespace detail

// Raised when reading from or writing to a connection that is closed.
//
// code() and reason() are those of the close frame the peer sent, or 1006
// and "" when the connection ended without one. sent_code() and
// sent_reason() are those of the close frame this side sent, if any: when
// this side failed the connection because the peer broke the protocol, the
// code that says why (1002, 1007, 1009, ...) is there.
class connection_closed : public websocket_exception {
 public:
  connection_closed(std::optional<std::uint16_t> rcvd_code, std::string rcvd_reason,
                    std::optional<std::uint16_t> sent_code = std::nullopt,
                    std::string sent_reason = {})
      : websocket_exception(detail::closed_message(rcvd_code, rcvd_reason, sent_code, sent_reason)),
        code_(rcvd_code.value_or(code_of(close_code::abnormal_closure))),
        reason_(std::move(rcvd_reason)),
        sent_code_(sent_code),
        sent_reason_(std::move(sent_reason)) {}

  std::uint16_t code() const noexcept { return code_; }
  const std::string& reason() const noexcept { return reason_; }
  std::optional<std::uint16_t> sent_code() const noexcept { return sent_code_; }
  const std::string& sent_reason() const noexcept { return sent_reason_; }

 private:
  std::uint16_t code_;
  std::string reason_;
  std::optional<std::uint16_t> sent_code_;
  std::string sent_reason_;
};

// The connection closed normally: the peer's close frame said 1000 or 1001.
class connection_closed_ok : public connection_closed {
 public:
  using connection_closed::connection_closed;
};

// The connection closed with any other code, or without a close frame.
class connection_closed_error : public connection_closed {
 public:
  using connection_closed::connection_closed;
};

// The opening handshake failed.
class invalid_handshake : public websocket_exception {
 public:
  using websocket_exception::websocket_exception;
};

// The HTTP request or response of the opening handshake is malformed.
class invalid_message : public invalid_handshake {
 public:
  using invalid_handshake::invalid_handshake;
};

// An HTTP header is missing, malformed or has a wrong value.
class invalid_header : public invalid_handshake {
 public:
  explicit invalid_header(std::string name, std::optional<std::string> value = std::nullopt)
      : invalid_header(describe(name, value), name, value) {}

  const std::string& name() const noexcept { return name_; }
  const std::optional<std::string>& value() const noexcept { return value_; }

 protected:
  invalid_header(const std::string& what, std::string name, std::optional<std::string> value)
      : invalid_handshake(what), name_(std::move(name)), value_(std::move(value)) {}

 private:
  static std::string describe(const std::string& name, const std::optional<std::string>& value) {
    if (!value) return "missing " + name + " header";
    if (value->empty()) return "empty " + name + " header";
    return "invalid " + name + " header: " + detail::printable(*value);
  }

  std::string name_;
  std::optional<std::string> value_;
};

// A Sec-WebSocket-* (or Connection, Upgrade) header can't be parsed.
class invalid_header_format : public invalid_header {
 public:
  invalid_header_format(std::string name, std::string error, std::string string, std::size_t pos)
      : invalid_header("invalid " + name + " header: " + error + " at " + std::to_string(pos) +
                           " in " + detail::printable(string),
                       name, string),
        error_(std::move(error)),
        string_(std::move(string)),
        pos_(pos) {}

  const std::string& error() const noexcept { return error_; }
  const std::string& string() const noexcept { return string_; }
  std::size_t pos() const noexcept { return pos_; }

 private:
  std::string error_;
  std::string string_;
  std::size_t pos_;
};

// A header parses but has a value this side can't accept.
class invalid_header_value : public invalid_header {
 public:
  using invalid_header::invalid_header;
};

// The request's Origin isn't among the accepted origins.
class invalid_origin : public invalid_header_value {
 public:
  explicit invalid_origin(std::optional<std::string> origin)
      : invalid_header_value(origin ? "invalid Origin header: " + detail::printable(*origin)
                                    : std::string("missing Origin header"),
                             "Origin", origin) {}
};

// The Upgrade or Connection header isn't what WebSocket needs.
class invalid_upgrade : public invalid_header_value {
 public:
  using invalid_header_value::invalid_header_value;
};

// The server answered the opening handshake with another status than 101.
// headers() and body() are those of its response (a Location, a reason).
class invalid_status_code : public invalid_handshake {
 public:
  explicit invalid_status_code(int status_code,
                               std::vector<std::pair<std::string, std::string>> headers = {},
                               std::string body = {})
      : invalid_handshake("server rejected WebSocket connection: HTTP " +
                          std::to_string(status_code)),
        status_code_(status_code),
        headers_(std::move(headers)),
        body_(std::move(body)) {}

  int status_code() const noexcept { return status_code_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }
  const std::string& body() const noexcept { return body_; }

 private:
  int status_code_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
};

// Negotiating an extension failed.
class negotiation_error : public invalid_handshake {
 public:
  using invalid_handshake::invalid_handshake;
};

// A parameter appears twice in one extension offer or answer.
class duplicate_parameter : public negotiation_error {
 public:
  explicit duplicate_parameter(std::string name)
      : negotiation_error("duplicate parameter: " + detail::printable(name)),
        name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

// An extension parameter this side doesn't know.
class invalid_parameter_name : public negotiation_error {
 public:
  explicit invalid_parameter_name(std::string name)
      : negotiation_error("invalid parameter name: " + detail::printable(name)),
        name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

// An extension parameter with a value this side can't accept.
class invalid_parameter_value : public negotiation_error {
 public:
  invalid_parameter_value(std::string name, std::optional<std::string> value)
      : negotiation_error("invalid value for parameter " + detail::printable(name) + ": " +
                          (value ? detail::printable(*value) : std::string("(none)"))),
        name_(std::move(name)),
        value_(std::move(value)) {}
  const std::string& name() const noexcept { return name_; }
  const std::optional<std::string>& value() const noexcept { return value_; }

 private:
  std::string name_;
  std::optional<std::string> value_;
};

// Raised (by a server's process_request, say) to abort the opening handshake
// and answer with this HTTP response instead.
class abort_handshake : public invalid_handshake {
 public:
  abort_handshake(int status, std::vector<std::pair<std::string, std::string>> headers,
                  std::string body = {})
      : invalid_handshake("HTTP " + std::to_string(status) + ", " + std::to_string(headers.size()) +
                          " headers, " + std::to_string(body.size()) + " bytes"),
        status_(status),
        headers_(std::move(headers)),
        body_(std::move(body)) {}

  int status() const noexcept { return status_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }
  const std::string& body() const noexcept { return body_; }

 private:
  int status_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
};

// The connection closed during the opening handshake.
class cancel_handshake : public websocket_exception {
 public:
  cancel_handshake() : websocket_exception("connection closed during opening handshake") {}
  using websocket_exception::websocket_exception;
};

// An operation isn't allowed in the connection's current state.
class invalid_state : public websocket_exception {
 public:
  using websocket_exception::websocket_exception;
};

// A URI isn't a valid WebSocket URI.
class invalid_uri : public websocket_exception {
 public:
  invalid_uri(std::string_view uri, std::string_view why)
      : websocket_exception(detail::printable(uri) + " isn't a valid URI: " + std::string(why)),
        uri_(uri) {}
  const std::string& uri() const noexcept { return uri_; }

 private:
  std::string uri_;
};

// A received message is larger than max_size.
class payload_too_big : public websocket_exception {
 public:
  using websocket_exception::websocket_exception;
};

// The peer broke the protocol (the reference's WebSocketProtocolError).
// close_code() is the code to fail the connection with: 1002 for framing
// errors, 1007 for invalid UTF-8 or data that doesn't decode.
class protocol_error : public websocket_exception {
 public:
  explicit protocol_error(const std::string& what, std::uint16_t close_code = code_of(
                                                       websockets::close_code::protocol_error))
      : websocket_exception(what), close_code_(close_code) {}
  std::uint16_t close_code() const noexcept { return close_code_; }

 private:
  std::uint16_t close_code_;
};

// headers[name] found several values where one was expected.
class multiple_values_error : public websocket_exception {
 public:
  explicit multiple_values_error(std::string name)
      : websocket_exception("multiple values for header " + detail::printable(name)),
        name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

}  // namespace websockets
