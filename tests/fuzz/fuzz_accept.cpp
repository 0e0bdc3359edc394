// Fuzzing of the server's whole accept decision (server_accept.hpp) on
// requests parsed by the library's own parser.
//
// Input: a byte of settings (bit 0 permessage-deflate, 1 a TLS connection,
// 2 an Origin list, 3 that list accepts no Origin, 4 subprotocols "chat"
// and "superchat", 5 a select_subprotocol that picks the client's last
// offer, 6 one that picks a subprotocol nobody offered, 7 no Server
// header), a byte of extra headers (bits 0-1: none, a fixed valid one, one
// with a line break, one computed from the path; bits 2-7 the status of a
// process_request response built from the request, through
// respond_instead()), four bytes of time, then the HTTP request.
//
// A head the parser refuses goes through refuse(), which must answer 400.
// A parsed request goes through accept_request(), whose bytes must parse
// back to the response it returns, with the headers every refusal carries.
// The outcome must match a model of the rules written from the list at the
// top of server_accept.hpp: the first rule the request breaks gives the
// status and the exception's type; a request that breaks none gets a 101
// (or 400 for a malformed extension or subprotocol header, 500 for the
// settings' own failures). A 101 carries the Sec-WebSocket-Accept for a key
// that check_request() accepts, which check_response() and the client's
// check_handshake_response() accept in turn, and only subprotocols and
// extensions the client offered.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "websockets/client_check.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/server_accept.hpp"

namespace {

namespace ws = websockets;

const std::vector<std::string> server_subprotocols{"chat", "superchat"};
const std::vector<std::optional<std::string>> origins_with_none{"https://example.com",
                                                                std::nullopt};
const std::vector<std::optional<std::string>> origins_only{"https://example.com"};

// The outcome the rules give, as far as the model goes.
struct expectation {
  int status = 101;
  bool (*failure_is)(const std::exception_ptr&) = nullptr;
  const char* rule = "none";
};

template <class E>
bool is(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_version_error(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const ws::invalid_header_value& e) {
    return ws::detail::iequals(e.name(), "Sec-WebSocket-Version");
  } catch (...) {
    return false;
  }
}

std::string what(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const std::exception& e) {
    return fuzz::type_name(e) + ": " + e.what();
  } catch (...) {
    return "not a std::exception";
  }
}

// The rules in order, each written again here from the list.
expectation model(const ws::http_request& request, const ws::accept_settings& settings) {
  if (request.method != "GET") return {405, is<ws::invalid_message>, "method"};
  if (request.http_major == 1 && request.http_minor < 1)
    return {400, is<ws::invalid_message>, "HTTP version"};
  const auto& h = request.headers;
  if (h.get_all("Host").size() != 1) return {400, is<ws::invalid_header>, "Host"};
  if (h.contains("Transfer-Encoding") || h.get("Content-Length").value_or("0") != "0")
    return {400, is<ws::invalid_message>, "body"};
  try {
    ws::check_request(h);
  } catch (const ws::invalid_upgrade&) {
    return {426, is<ws::invalid_upgrade>, "upgrade"};
  } catch (const ws::invalid_header_value& e) {
    if (ws::detail::iequals(e.name(), "Sec-WebSocket-Version"))
      return {426, is_version_error, "version"};
    return {400, is<ws::invalid_header_value>, "key"};
  } catch (const ws::invalid_handshake&) {
    return {400, is<ws::invalid_handshake>, "key or version"};
  }
  if (settings.origins) {
    const auto values = h.get_all("Origin");
    if (values.size() > 1) return {400, is<ws::invalid_header>, "two Origins"};
    std::optional<std::string> origin;
    if (!values.empty()) origin = std::string(values.front());
    bool listed = false;
    for (const auto& o : *settings.origins) listed = listed || o == origin;
    if (!listed) return {403, is<ws::invalid_origin>, "Origin"};
  }
  return {};
}

// Parses the bytes sent back and checks them against the response, and
// what every refusal carries.
ws::http_response check_sent(const ws::accept_result& result, std::string_view server_header) {
  FUZZ_CHECK(result.response.has_value(), "no response");
  const ws::http_response& response = *result.response;
  ws::http_response_parser parser;
  std::size_t head = 0;
  try {
    head = parser.feed(result.bytes);
    FUZZ_CHECK(parser.head_complete(), "the response's head is incomplete");
    if (parser.body_expected()) {
      const std::size_t body = parser.feed_body(std::string_view(result.bytes).substr(head));
      FUZZ_CHECK(head + body == result.bytes.size(), "bytes after the response's body");
      FUZZ_CHECK(parser.complete(), "the response's body is incomplete");
    } else {
      FUZZ_CHECK(head == result.bytes.size(), "bytes after the response's head");
    }
  } catch (const ws::invalid_message& e) {
    fuzz::fail(__FILE__, __LINE__,
               std::string("the response doesn't parse: ") + e.what() + " in " +
                   fuzz::quote(result.bytes));
  }
  const ws::http_response& back = parser.message();
  FUZZ_CHECK(back.status_code == response.status_code, fuzz::quote(result.bytes));
  FUZZ_CHECK(back.headers == response.headers, fuzz::quote(result.bytes));
  FUZZ_CHECK(back.body == response.body, fuzz::quote(result.bytes));
  FUZZ_CHECK(response.headers.contains("Date"), fuzz::quote(result.bytes));
  if (!server_header.empty())
    FUZZ_CHECK(response.headers.contains("Server"), fuzz::quote(result.bytes));
  if (response.status_code == 101) return back;

  FUZZ_CHECK(!result.accepted(), "a refusal without a failure");
  FUZZ_CHECK(response.headers.get("Connection").has_value(), fuzz::quote(result.bytes));
  const bool bodiless =
      response.status_code < 200 || response.status_code == 204 || response.status_code == 304;
  if (!bodiless)
    FUZZ_CHECK(response.headers.get_all("Content-Length").size() == 1, fuzz::quote(result.bytes));
  FUZZ_CHECK(!response.headers.contains("Sec-WebSocket-Accept"), fuzz::quote(result.bytes));
  return back;
}

void check_accepted(const ws::http_request& request, const ws::accept_result& result,
                    const ws::http_response& sent, const ws::accept_settings& settings,
                    bool secure) {
  const auto& h = result.handshake;
  FUZZ_CHECK(result.accepted(), "a 101 with a failure: " + what(result.failure));
  std::string key;
  try {
    key = ws::check_request(request.headers);
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__,
               std::string("a 101 for a request check_request refuses: ") + e.what());
  }
  FUZZ_CHECK(sent.headers.get_all("Sec-WebSocket-Accept").size() == 1, fuzz::quote(result.bytes));
  FUZZ_CHECK(sent.headers["Sec-WebSocket-Accept"] == ws::accept_key(key), key);
  FUZZ_CHECK(sent.body.empty(), "a 101 with a body");
  try {
    ws::check_response(sent.headers, key);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }

  FUZZ_CHECK(h.path == request.path, h.path);
  FUZZ_CHECK(h.request_headers == request.headers, "request headers changed");
  FUZZ_CHECK(h.response_headers == sent.headers, "response headers differ from the bytes");
  FUZZ_CHECK(h.secure == secure, "secure");
  FUZZ_CHECK(h.port != 0, "port 0");

  // The subprotocol: one the client offered, and the one the response names.
  // A server without subprotocols doesn't read the offer, malformed or not.
  std::vector<std::string> offered;
  try {
    for (auto v : request.headers.get_all("Sec-WebSocket-Protocol"))
      for (auto& p : ws::parse_subprotocol_list(v)) offered.push_back(p);
  } catch (const ws::invalid_header_format&) {
    FUZZ_CHECK(settings.subprotocols.empty(), "a 101 for a malformed subprotocol offer");
    offered.clear();
  }
  if (h.subprotocol) {
    FUZZ_CHECK(std::find(offered.begin(), offered.end(), *h.subprotocol) != offered.end(),
               *h.subprotocol);
    // select_subprotocol may pick any offer; the default, one both list.
    if (!settings.select_subprotocol)
      FUZZ_CHECK(std::find(settings.subprotocols.begin(), settings.subprotocols.end(),
                           *h.subprotocol) != settings.subprotocols.end(),
                 *h.subprotocol);
    FUZZ_CHECK(sent.headers.get("Sec-WebSocket-Protocol") == *h.subprotocol, *h.subprotocol);
  } else {
    FUZZ_CHECK(!sent.headers.contains("Sec-WebSocket-Protocol"), "a subprotocol header for none");
    if (!settings.select_subprotocol) {
      for (const auto& p : offered)
        FUZZ_CHECK(std::find(settings.subprotocols.begin(), settings.subprotocols.end(), p) ==
                       settings.subprotocols.end(),
                   "a shared subprotocol wasn't chosen: " + p);
    }
  }

  // Extensions: only what was offered, one object per answer.
  std::size_t answers = 0;
  for (auto v : sent.headers.get_all("Sec-WebSocket-Extensions")) {
    for (const auto& answer : ws::parse_extension_list(v)) {
      ++answers;
      FUZZ_CHECK(answer.name == "permessage-deflate", answer.name);
      FUZZ_CHECK(settings.deflate, "permessage-deflate without deflate");
    }
  }
  FUZZ_CHECK(answers == h.extensions.size(), std::to_string(answers));
  FUZZ_CHECK(answers <= 1, "two extensions on RSV1");
  if (answers == 1) {
    bool offered_deflate = false;
    for (auto v : request.headers.get_all("Sec-WebSocket-Extensions"))
      for (const auto& offer : ws::parse_extension_list(v))
        offered_deflate = offered_deflate || offer.name == "permessage-deflate";
    FUZZ_CHECK(offered_deflate, "permessage-deflate accepted but not offered");
  }

  // The client that sent this request, offering no extension, accepts the
  // 101 when it has none.
  if (answers == 0) {
    const ws::client_offer offer{.key = key, .subprotocols = offered};
    try {
      auto client = ws::check_handshake_response(sent, offer);
      FUZZ_CHECK(client.subprotocol == h.subprotocol, "the client sees another subprotocol");
    } catch (const std::exception& e) {
      fuzz::fail(
          __FILE__, __LINE__,
          std::string("the client refuses the 101: ") + e.what() + " " + fuzz::quote(result.bytes));
    }
  }
}

void check_process_request_response(const ws::http_request& request, int status,
                                    const ws::accept_settings& settings,
                                    const ws::accept_context& context) {
  ws::http_response early;
  early.status_code = status;
  // The request's headers, without those that frame a body: the body
  // here is the path, for the statuses that have one.
  early.headers = request.headers;
  early.headers.erase("Content-Length");
  early.headers.erase("Transfer-Encoding");
  const bool bodiless = status < 200 || status == 204 || status == 304;
  if (!bodiless) early.body = request.path;
  const auto result = ws::respond_instead(early, settings, context);
  const auto sent = check_sent(result, settings.server_header);
  if (sent.status_code == 500 && status != 500) {
    FUZZ_CHECK(is<std::invalid_argument>(result.failure), what(result.failure));
    return;
  }
  FUZZ_CHECK(sent.status_code == status, std::to_string(sent.status_code));
  try {
    std::rethrow_exception(result.failure);
  } catch (const ws::abort_handshake& e) {
    FUZZ_CHECK(e.status() == status, std::to_string(e.status()));
    FUZZ_CHECK(e.body() == early.body, e.body());
  } catch (const std::exception& e) {
    FUZZ_CHECK(status == 500, "");
    FUZZ_CHECK(is<std::invalid_argument>(result.failure), what(result.failure));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  const unsigned flags = in.byte();
  const unsigned extra = in.byte();
  const std::uint32_t seconds = in.u16() | (std::uint32_t{in.u16()} << 16);

  ws::accept_settings settings;
  settings.deflate = flags & 1;
  const ws::accept_context context{.secure = (flags & 2) != 0,
                                   .now = static_cast<std::time_t>(seconds)};
  if (flags & 4)
    settings.origins = (flags & 8) ? std::span(origins_with_none) : std::span(origins_only);
  if (flags & 16) settings.subprotocols = server_subprotocols;
  if (flags & 32)
    settings.select_subprotocol = [](std::span<const std::string> client,
                                     std::span<const std::string>) {
      return std::optional<std::string>(client.back());
    };
  if (flags & 64)
    settings.select_subprotocol = [](std::span<const std::string>, std::span<const std::string>) {
      return std::optional<std::string>("nobody-offered-this");
    };
  if (!(flags & 128)) settings.server_header = "fuzz/1";
  bool unsendable = false;
  switch (extra & 3) {
    case 1:
      settings.extra_headers = [](ws::headers& out, std::string_view, const ws::headers&) {
        out.add("X-Served-By", "fuzz");
      };
      break;
    case 2:
      unsendable = true;
      settings.extra_headers = [](ws::headers& out, std::string_view, const ws::headers&) {
        out.add("X-Bad", "a\r\nb");
      };
      break;
    case 3:
      settings.extra_headers = [](ws::headers& out, std::string_view path, const ws::headers&) {
        out.add("X-Path", std::string(path));
      };
      break;
  }

  const std::string_view bytes = in.rest();
  ws::http_request_parser parser;
  try {
    parser.feed(bytes);
  } catch (const ws::invalid_message&) {
    const auto result = ws::refuse(std::current_exception(), settings, context);
    const auto sent = check_sent(result, settings.server_header);
    FUZZ_CHECK(sent.status_code == 400, std::to_string(sent.status_code));
    FUZZ_CHECK(is<ws::invalid_message>(result.failure), what(result.failure));
    return 0;
  }
  if (!parser.head_complete()) return 0;
  const ws::http_request request = parser.message();

  ws::accept_result result;
  try {
    result = ws::accept_request(request, settings, context);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);  // the decision answers, never throws
  }
  const auto sent = check_sent(result, settings.server_header);
  FUZZ_CHECK(result.response->headers.get_all("Date").size() == 1, "Date");
  if (result.response->headers["Date"] != ws::detail::http_date(context.now))
    fuzz::fail(__FILE__, __LINE__, "another Date than the context's");

  const expectation expected = model(request, settings);
  if (expected.failure_is) {
    FUZZ_CHECK(sent.status_code == expected.status,
               std::string("rule ") + expected.rule + ": status " +
                   std::to_string(sent.status_code) + ", " + what(result.failure));
    FUZZ_CHECK(expected.failure_is(result.failure),
               std::string("rule ") + expected.rule + ": " + what(result.failure));
  } else if (sent.status_code == 101) {
    FUZZ_CHECK(!unsendable, "a 101 with a header that can't be sent");
    check_accepted(request, result, sent, settings, context.secure);
  } else if (sent.status_code == 500) {
    // Only the settings' own failures: the unsendable header, or a
    // subprotocol nobody offered.
    FUZZ_CHECK(unsendable || (flags & 64), what(result.failure));
    FUZZ_CHECK(is<std::invalid_argument>(result.failure) || is<std::logic_error>(result.failure),
               what(result.failure));
  } else {
    // A malformed Sec-WebSocket-Extensions or Sec-WebSocket-Protocol.
    FUZZ_CHECK(sent.status_code == 400, std::to_string(sent.status_code));
    FUZZ_CHECK(is<ws::invalid_header_format>(result.failure), what(result.failure));
  }

  // Statuses from 101 to 605, the invalid ones past 599 included.
  if (const unsigned choice = extra >> 2; choice != 0)
    check_process_request_response(request, choice == 1 ? 101 : 97 + static_cast<int>(choice) * 8,
                                   settings, context);
  return 0;
}
