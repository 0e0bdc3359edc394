// Fuzzing of parse_uri (include/websockets/uri.hpp).
//
// Input: the URI itself. Anything may be refused, with invalid_uri naming
// the URI; what is accepted must be in normal form (lower-case ASCII host,
// a resource name that a request line can carry as it is) and must come
// back the same from to_string() and parse_uri() again. The resource name
// and Host header then go through the HTTP request serializer and parser,
// and the user info through Basic authentication, and must come out equal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/uri.hpp"

namespace {

namespace ws = websockets;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 pchar, '/' and '?', and nothing else but whole escapes.
bool is_normal_resource(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  static constexpr std::string_view allowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (allowed.find(s[i]) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// An IPv6 zone ("%eth0") keeps its case: interface names are case-sensitive.
bool is_normal_host(std::string_view h) {
  if (h.empty()) return false;
  h = h.substr(0, h.find('%'));
  for (char c : h) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || (c >= 'A' && c <= 'Z')) return false;
    if (c == '/' || c == '?' || c == '#' || c == '@' || c == '[' || c == ']') return false;
  }
  return true;
}

void check_accepted(std::string_view input, const ws::websocket_uri& u) {
  const auto where = [&] {
    return "parse_uri(" + fuzz::quote(input) + ") gave host " + fuzz::quote(u.host) + ", port " +
           std::to_string(u.port) + ", resource " + fuzz::quote(u.resource_name);
  };
  FUZZ_CHECK(is_normal_host(u.host), where());
  FUZZ_CHECK(is_normal_resource(u.resource_name), where());
  FUZZ_CHECK(u.port != 0, where());
  const bool wss = input.size() > 2 && (input[2] == 's' || input[2] == 'S');
  FUZZ_CHECK(u.secure == wss, where());
  if (u.user_info) {
    FUZZ_CHECK(u.user_info->first.find(':') == std::string::npos, where());
    // Basic authentication carries it and gives it back.
    const auto header = ws::build_authorization_basic(u.user_info->first, u.user_info->second);
    FUZZ_CHECK(ws::parse_authorization_basic(header) == *u.user_info, where() + "; " + header);
  }

  // to_string() leaves the user info out; the rest survives a round trip.
  const std::string text = ws::to_string(u);
  ws::websocket_uri expected = u;
  expected.user_info.reset();
  ws::websocket_uri again;
  try {
    again = ws::parse_uri(text);
  } catch (const ws::invalid_uri& e) {
    fuzz::fail(__FILE__, __LINE__,
               where() + "; to_string() gave " + fuzz::quote(text) +
                   ", which parse_uri() refuses: " + e.what());
  }
  FUZZ_CHECK(again == expected, where() + "; to_string() gave " + fuzz::quote(text) +
                                    ", which parses as host " + fuzz::quote(again.host) +
                                    ", port " + std::to_string(again.port) + ", resource " +
                                    fuzz::quote(again.resource_name));
  FUZZ_CHECK(ws::to_string(again) == text, where());

  // The request a client sends for it: a server's parser reads the same
  // resource name and Host back.
  ws::http_request request;
  request.path = u.resource_name;
  request.headers.add("Host", ws::host_header(u));
  const std::string head = ws::serialize(request);
  ws::http_request_parser parser;
  const std::size_t used = parser.feed(head);
  FUZZ_CHECK(parser.head_complete() && used == head.size(), where() + "; " + fuzz::quote(head));
  FUZZ_CHECK(parser.message() == request, where() + "; " + fuzz::quote(head) + " parses as path " +
                                              fuzz::quote(parser.message().path));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ws::websocket_uri u;
  try {
    u = ws::parse_uri(input);
  } catch (const ws::invalid_uri& e) {
    FUZZ_CHECK(e.uri() == input, "invalid_uri::uri() is " + fuzz::quote(e.uri()));
    return 0;
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  try {
    check_accepted(input, u);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  return 0;
}
