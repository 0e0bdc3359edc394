// HTTP/1.1 messages for the opening handshake: the request and response
// types, incremental parsers for their heads (built on llhttp, with limits
// that a server exposed to anyone needs), and serialization.
//
// Nothing here does I/O: a parser takes bytes as they arrive, in pieces of
// any size, and says where the head ended; what follows it is WebSocket
// data that the caller keeps. http_io.hpp reads from Asio streams with it.
#pragma once

#include <llhttp.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "websockets/exceptions.hpp"
#include "websockets/headers.hpp"

namespace websockets {

// Every member of these structs has a default member initializer, so that
// designated initializers that leave some out, like
// `http_response{.status_code = 403}`, compile cleanly under g++'s
// -Wmissing-field-initializers.

// Bounds on what a parser accepts, so that no peer can make it use
// unbounded memory. Lengths exclude the line's CRLF.
struct http_limits {
  std::size_t max_start_line = 8192;   // request line or status line
  std::size_t max_header_line = 8192;  // one "Name: value" line
  std::size_t max_headers = 256;       // header fields
  std::size_t max_head = 64 * 1024;    // the whole head, CRLFs and the empty line included
  std::size_t max_body = 1 << 20;      // a response body, when one is read
};

// An HTTP request: for the handshake, a GET of the resource name.
struct http_request {
  std::string method = "GET";
  std::string path = "/";  // the request target as sent: not decoded or checked
  websockets::headers headers{};
  int http_major = 1;  // HTTP/1.1 by default
  int http_minor = 1;

  friend bool operator==(const http_request&, const http_request&) = default;
};

// An HTTP response: a 101 that completes the handshake, or anything a
// server answers instead.
struct http_response {
  int status_code = 101;
  std::string reason{};  // empty: serialize() sends the standard phrase
  websockets::headers headers{};
  std::string body{};  // sent as it is; set Content-Length in headers yourself
  int http_major = 1;
  int http_minor = 1;

  friend bool operator==(const http_response&, const http_response&) = default;
};

// The standard reason phrase of a status code ("Switching Protocols"), or ""
// for a code without one.
constexpr std::string_view reason_phrase(int status_code) noexcept {
  switch (status_code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

namespace detail {

inline void append_version(std::string& out, int major, int minor) {
  if (major < 0 || major > 9 || minor < 0 || minor > 9)
    throw std::invalid_argument("invalid HTTP version " + std::to_string(major) + "." +
                                std::to_string(minor));
  out += "HTTP/";
  out += static_cast<char>('0' + major);
  out += '.';
  out += static_cast<char>('0' + minor);
}

inline void append_headers(std::string& out, const headers& hs) {
  for (auto& [name, value] : hs) {
    check_header_name(name);
    check_header_value(name, value);
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
}

inline std::size_t headers_size(const headers& hs) noexcept {
  std::size_t n = 2;
  for (auto& [name, value] : hs) n += name.size() + value.size() + 4;
  return n;
}

}  // namespace detail

// The bytes of a request head. Throws std::invalid_argument, writing
// nothing, when the method isn't a token, the path is empty or holds a
// space or control character, or a header would break the message (see
// check_header_name and check_header_value): no header injection.
inline std::string serialize(const http_request& request) {
  if (!detail::is_token(request.method))
    throw std::invalid_argument("invalid HTTP method " + detail::printable(request.method));
  if (request.path.empty() || std::any_of(request.path.begin(), request.path.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    throw std::invalid_argument("invalid HTTP request target " + detail::printable(request.path));
  std::string out;
  out.reserve(request.method.size() + request.path.size() + 12 +
              detail::headers_size(request.headers));
  out += request.method;
  out += ' ';
  out += request.path;
  out += ' ';
  detail::append_version(out, request.http_major, request.http_minor);
  out += "\r\n";
  detail::append_headers(out, request.headers);
  return out;
}

// The bytes of a response: head, then body. An empty reason is sent as the
// standard phrase. Throws std::invalid_argument for a status code outside
// 100-599, a reason with a control character or a header that would break
// the message.
inline std::string serialize(const http_response& response) {
  if (response.status_code < 100 || response.status_code > 599)
    throw std::invalid_argument("invalid HTTP status code " + std::to_string(response.status_code));
  std::string_view reason = response.reason;
  if (reason.empty()) reason = reason_phrase(response.status_code);
  if (!std::all_of(reason.begin(), reason.end(), detail::is_field_char))
    throw std::invalid_argument("invalid HTTP reason phrase " + detail::printable(reason));
  std::string out;
  out.reserve(reason.size() + 15 + detail::headers_size(response.headers) + response.body.size());
  detail::append_version(out, response.http_major, response.http_minor);
  out += ' ';
  out += std::to_string(response.status_code);
  out += ' ';
  out += reason;
  out += "\r\n";
  detail::append_headers(out, response.headers);
  out += response.body;
  return out;
}

namespace detail {

// The parser behind http_request_parser and http_response_parser.
//
// llhttp does the HTTP grammar; this class adds the limits, keeps what the
// callbacks hand over, and stops llhttp at the end of the head so that the
// bytes after it are left to the caller. Exceptions never cross llhttp's C
// frames: a callback stores its exception and returns HPE_USER, and
// feed() rethrows it.
template <class Message>
class http_parser {
  static constexpr bool is_request = std::is_same_v<Message, http_request>;

 public:
  explicit http_parser(const http_limits& limits = {}) : limits_(limits) {
    llhttp_init(&parser_, is_request ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
    // Start from nothing, not from the defaults for building a message.
    if constexpr (is_request) {
      message_.method.clear();
      message_.path.clear();
    } else {
      message_.status_code = 0;
    }
  }

  // llhttp keeps no pointer into this object between calls but `data`,
  // which feed() sets each time: moving is safe, copying makes no sense.
  http_parser(http_parser&&) noexcept = default;
  http_parser& operator=(http_parser&&) noexcept = default;

  // Parses the next bytes of the head and returns how many belong to it:
  // all of `data` while the head goes on, fewer once it's complete. The rest
  // belongs to what follows (WebSocket frames, a body) and isn't looked at.
  // Throws invalid_message when the head is malformed or over a limit; the
  // parser then stays failed. Returns 0 once the head is complete.
  std::size_t feed(std::string_view data) {
    check_not_failed();
    if (phase_ != phase::head || data.empty()) return 0;
    const std::size_t budget = limits_.max_head - head_size_;
    if (budget == 0) fail_too_long();
    std::string_view slice = data.substr(0, budget);
    std::size_t n = execute(slice);
    scan_lines(slice.substr(0, n));
    head_size_ += n;
    if (phase_ == phase::head && slice.size() < data.size()) fail_too_long();
    return n;
  }

  // The head has been parsed: message() has the method, path or status,
  // and headers.
  bool head_complete() const noexcept { return phase_ != phase::head; }

  // How many bytes the head took so far, all of it once complete.
  std::size_t head_size() const noexcept { return head_size_; }

  // Whether the response has a body after its head: not for 1xx, 204 and
  // 304, nor with "Content-Length: 0". A body without Content-Length or
  // chunked coding lasts until the connection closes. Valid once the head
  // is complete.
  bool body_expected() const noexcept requires(!is_request) { return body_expected_; }

  // Parses the next bytes of the body into message().body and returns how
  // many belong to it; call it after the head is complete, with the bytes
  // after the head. Throws invalid_message for a malformed body or one
  // longer than max_body.
  std::size_t feed_body(std::string_view data) requires(!is_request) {
    check_not_failed();
    if (phase_ == phase::head) throw std::logic_error("the HTTP response head isn't complete");
    if (phase_ == phase::head_done) start_body();
    if (phase_ != phase::body || data.empty()) return 0;
    return execute(data);
  }

  // The message is complete: its head and, for a response whose body was
  // read, its body.
  bool complete() const noexcept { return phase_ == phase::done; }

  // Tells the parser that the input ended. A response body that lasts until
  // the connection closes is then complete. Throws invalid_message if the
  // head or a body with a known length is incomplete.
  void finish() {
    check_not_failed();
    if (phase_ == phase::head) {
      fail(std::string("connection closed during the HTTP head, after ") +
           std::to_string(head_size_) + " bytes");
    }
    if constexpr (!is_request) {
      if (phase_ == phase::head_done) start_body();
      if (phase_ == phase::body) {
        if (!llhttp_message_needs_eof(&parser_))
          fail("connection closed during the HTTP response body");
        phase_ = phase::done;
      }
    }
  }

  // What has been parsed so far.
  Message& message() noexcept { return message_; }
  const Message& message() const noexcept { return message_; }

 private:
  enum class phase { head, head_done, body, done };

  // Runs llhttp over `data`; returns how many bytes it used before pausing.
  std::size_t execute(std::string_view data) {
    parser_.data = this;
    auto err = llhttp_execute(&parser_, data.data(), data.size());
    if (err == HPE_OK) return data.size();
    std::size_t used = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data());
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      llhttp_resume(&parser_);
      return used;
    }
    // A callback's exception, whatever code llhttp turned its return into.
    if (error_) std::rethrow_exception(error_);
    const char* what = phase_ == phase::head
                           ? (is_request ? "invalid HTTP request: " : "invalid HTTP response: ")
                           : "invalid HTTP response body: ";
    fail_llhttp(err, what, head_size_ + used);
  }

  void start_body() {
    if (!body_expected_) {
      phase_ = phase::done;
      return;
    }
    if ((parser_.flags & F_CONTENT_LENGTH) && parser_.content_length > limits_.max_body) {
      fail("HTTP response body of " + std::to_string(parser_.content_length) +
           " bytes is longer than " + std::to_string(limits_.max_body) + " bytes");
    }
    phase_ = phase::body;
  }

  // Checks the length of each line of the head, `data` being the next bytes
  // of it.
  void scan_lines(std::string_view data) {
    while (!data.empty()) {
      std::size_t lf = std::min(data.find('\n'), data.size());
      if (lf > 0) {
        line_size_ += lf;
        line_ends_with_cr_ = data[lf - 1] == '\r';
      }
      // A CR at the end is the line's terminator, or will be rejected by llhttp.
      std::size_t size = line_size_ - (line_ends_with_cr_ ? 1 : 0);
      if (size > (start_line_ ? limits_.max_start_line : limits_.max_header_line)) fail_line();
      if (lf == data.size()) return;
      if (size > 0) start_line_ = false;  // llhttp skips empty lines before a request
      line_size_ = 0;
      line_ends_with_cr_ = false;
      data.remove_prefix(lf + 1);
    }
  }

  [[noreturn]] void fail_line() {
    if (start_line_) fail_start_line();
    fail_header_line();
  }

  [[noreturn]] void fail_start_line() {
    fail(std::string(is_request ? "HTTP request line" : "HTTP status line") + " longer than " +
         std::to_string(limits_.max_start_line) + " bytes");
  }

  [[noreturn]] void fail_header_line() {
    fail("HTTP header line longer than " + std::to_string(limits_.max_header_line) + " bytes");
  }

  [[noreturn]] void fail_too_long() {
    fail("HTTP head longer than " + std::to_string(limits_.max_head) + " bytes");
  }

  [[noreturn]] void fail_llhttp(llhttp_errno_t err, const char* what, std::size_t offset) {
    const char* reason = llhttp_get_error_reason(&parser_);
    fail(std::string(what) + (reason ? reason : llhttp_errno_name(err)) + " at byte " +
         std::to_string(offset));
  }

  [[noreturn]] void fail(std::string what) {
    error_ = std::make_exception_ptr(invalid_message(std::move(what)));
    std::rethrow_exception(error_);
  }

  void check_not_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

  // Callbacks, each a member function that may throw.

  void on_url(std::string_view s) {
    if constexpr (is_request) {
      if (message_.path.size() + s.size() > limits_.max_start_line) fail_start_line();
      // llhttp, outside its strict mode, lets HTAB and FF through; RFC 9112
      // section 3.2 allows no whitespace or control character there, and
      // serialize() refuses them.
      if (std::any_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
        fail("invalid character in the HTTP request target");
      message_.path += s;
    }
  }

  void on_status(std::string_view s) {
    if constexpr (!is_request) {
      if (message_.reason.size() + s.size() > limits_.max_start_line) fail_start_line();
      if (!std::all_of(s.begin(), s.end(), is_field_char))
        fail("invalid character in the HTTP reason phrase");
      message_.reason += s;
    }
  }

  void on_header_field(std::string_view s) {
    if (field_.size() + s.size() > limits_.max_header_line) fail_header_line();
    field_ += s;
  }

  void on_header_field_complete() {
    // llhttp tolerates "Name :" which RFC 7230 section 3.2.4 forbids: a
    // proxy might read the field differently (request smuggling).
    if (!is_token(field_)) fail("invalid HTTP header name " + printable(field_));
    if (message_.headers.size() == limits_.max_headers)
      fail("more than " + std::to_string(limits_.max_headers) + " HTTP headers");
  }

  void on_header_value(std::string_view s) {
    if (field_.size() + 1 + value_.size() + s.size() > limits_.max_header_line) fail_header_line();
    value_ += s;
  }

  void on_header_value_complete() {
    message_.headers.add(std::move(field_), trim_ows(value_));
    field_.clear();
    value_.clear();
  }

  int on_headers_complete() {
    if (parser_.http_major != 1) {
      fail("unsupported HTTP version " + std::to_string(parser_.http_major) + "." +
           std::to_string(parser_.http_minor));
    }
    message_.http_major = parser_.http_major;
    message_.http_minor = parser_.http_minor;
    if constexpr (is_request) {
      message_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
      phase_ = phase::done;  // a request's body, if any, is the caller's business
      return HPE_PAUSED;
    } else {
      int status = parser_.status_code;
      if (status < 100 || status > 599) fail("invalid HTTP status code " + std::to_string(status));
      message_.status_code = status;
      bool no_body = status < 200 || status == 204 || status == 304;
      bool empty = (parser_.flags & F_CONTENT_LENGTH) && !(parser_.flags & F_CHUNKED) &&
                   parser_.content_length == 0;
      body_expected_ = !no_body && !empty;
    }
    phase_ = phase::head_done;
    return HPE_PAUSED;
  }

  void on_body(std::string_view s) {
    if constexpr (!is_request) {
      if (message_.body.size() + s.size() > limits_.max_body)
        fail("HTTP response body longer than " + std::to_string(limits_.max_body) + " bytes");
      message_.body += s;
    }
  }

  int on_message_complete() {
    if (phase_ == phase::body) phase_ = phase::done;
    return HPE_PAUSED;
  }

  // Adapters from llhttp's C callbacks to the member functions above.
  template <auto F>
  static int data_cb(llhttp_t* p, const char* at, std::size_t n) noexcept {
    auto* self = static_cast<http_parser*>(p->data);
    try {
      (self->*F)(std::string_view(at, n));
      return HPE_OK;
    } catch (...) {
      self->error_ = std::current_exception();
      return HPE_USER;
    }
  }

  template <auto F>
  static int event_cb(llhttp_t* p) noexcept {
    auto* self = static_cast<http_parser*>(p->data);
    try {
      if constexpr (std::is_same_v<decltype((self->*F)()), int>) {
        return (self->*F)();
      } else {
        (self->*F)();
        return HPE_OK;
      }
    } catch (...) {
      self->error_ = std::current_exception();
      return HPE_USER;
    }
  }

  static const llhttp_settings_t& settings() noexcept {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_url = &data_cb<&http_parser::on_url>;
      s.on_status = &data_cb<&http_parser::on_status>;
      s.on_header_field = &data_cb<&http_parser::on_header_field>;
      s.on_header_field_complete = &event_cb<&http_parser::on_header_field_complete>;
      s.on_header_value = &data_cb<&http_parser::on_header_value>;
      s.on_header_value_complete = &event_cb<&http_parser::on_header_value_complete>;
      s.on_headers_complete = &event_cb<&http_parser::on_headers_complete>;
      s.on_body = &data_cb<&http_parser::on_body>;
      s.on_message_complete = &event_cb<&http_parser::on_message_complete>;
      return s;
    }();
    return s;
  }

  llhttp_t parser_;
  http_limits limits_;
  Message message_;
  std::string field_;
  std::string value_;
  std::exception_ptr error_;
  phase phase_ = phase::head;
  std::size_t head_size_ = 0;
  std::size_t line_size_ = 0;  // bytes of the current line so far, CR included
  bool line_ends_with_cr_ = false;
  bool start_line_ = true;  // still in the request or status line
  bool body_expected_ = false;
};

}  // namespace detail

// Parses a request head incrementally; see detail::http_parser for feed(),
// head_complete(), finish() and message().
using http_request_parser = detail::http_parser<http_request>;

// Parses a response head, then optionally its body, incrementally; see
// detail::http_parser for feed(), feed_body(), finish() and message().
using http_response_parser = detail::http_parser<http_response>;

}  // namespace websockets
