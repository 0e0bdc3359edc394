// The server's accept decision, without I/O: from a parsed request and the
// server's handshake settings to the response to send and, when the
// handshake succeeds, what was negotiated. server_handshake() reads the
// request, runs process_request, asks this header, and writes what it says.
//
//   accept_settings settings{.subprotocols = protocols, .server_header = "demo"};
//   accept_result result = accept_request(request, settings, {.now = std::time(nullptr)});
//   send(result.bytes);                    // a 101, or a refusal
//   if (!result.accepted()) std::rethrow_exception(result.failure);
//   open(std::move(result.handshake));
//
// The rules, in order (the refusal and the exception the failure holds):
//   405  a method other than GET                          invalid_message
//   400  an HTTP version before 1.1                       invalid_message
//        (process_request runs here, in server_handshake())
//   400  a missing or repeated Host                       invalid_header
//   400  a body (Transfer-Encoding, Content-Length > 0)   invalid_message
//   426  no "Connection: upgrade" or "Upgrade: websocket" invalid_upgrade
//   400  a missing, repeated or bad Sec-WebSocket-Key     invalid_header(_value)
//   426  a Sec-WebSocket-Version other than 13            invalid_header_value
//   403  an Origin that `origins` doesn't list            invalid_origin
//   500  an exception from a callable of the settings, or headers that
//        can't be serialized                              that exception
// then 101 with Sec-WebSocket-Accept, the extensions and subprotocol
// negotiated, extra_headers, Date and Server. A refusal has a one-line
// reason as its body, Date, Server, Content-Length, Content-Type and
// "Connection: close".
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "websockets/exceptions.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#include "websockets/handshake.hpp"
#include "websockets/headers.hpp"
#include "websockets/http.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/uri.hpp"

namespace websockets {

// Picks the subprotocol from the client's offer and the server's list.
using subprotocol_selector = std::function<std::optional<std::string>(
    std::span<const std::string> client, std::span<const std::string> server)>;

// Appends a 101's extra headers for a request on `path` to `response`.
using header_appender =
    std::function<void(headers& response, std::string_view path, const headers& request)>;

// The handshake part of server_options, as views: what they point to must
// outlive the decision. accept_settings_of(server_options) in
// server_handshake.hpp makes one; the defaults here accept any Origin,
// permessage-deflate, no subprotocol, and send no Server header.
struct accept_settings {
  // Accept permessage-deflate offers with the library's defaults, unless
  // `extensions` holds a permessage-deflate factory.
  bool deflate = true;
  // The accepted Origin values; std::nullopt accepts any request, and a
  // std::nullopt element accepts requests without Origin.
  std::optional<std::span<const std::optional<std::string>>> origins = std::nullopt;
  // Extension factories, by decreasing preference.
  std::span<const std::shared_ptr<server_extension_factory>> extensions = {};
  // Subprotocols, by decreasing preference.
  std::span<const std::string> subprotocols = {};
  // Unset: select_subprotocol_by_rank. It must return one the client offered.
  subprotocol_selector select_subprotocol = {};
  // Unset: no extra headers.
  header_appender extra_headers = {};
  // The Server header of every response; empty: none.
  std::string_view server_header = {};
};

// What the decision knows of the connection and of the moment.
struct accept_context {
  bool secure = false;  // an encrypted connection: the Host header's default port is 443
  std::time_t now = 0;  // the Date header's time
};

// The decision: what to send, and what happens next.
struct accept_result {
  // The response to send: a 101, a refusal, or none when nobody is there to
  // answer (the failure is a cancel_handshake or a std::system_error).
  std::optional<http_response> response;
  // `response`, serialized: the bytes to write.
  std::string bytes;
  // Null when the handshake succeeded; otherwise what to throw once the
  // refusal is sent.
  std::exception_ptr failure;
  // On success: the path, both sides' headers, the subprotocol, the
  // extensions, the Host's host and port, and `secure`. The leftover
  // bytes are the reader's to fill.
  opening_handshake handshake;

  bool accepted() const noexcept { return !failure; }
};

// The whole decision for `request`: every rule in this header's list,
// process_request aside.
inline accept_result accept_request(http_request request, const accept_settings& settings,
                                    const accept_context& context);

// The rules that come before process_request: a refusal for a method other
// than GET or an HTTP version before 1.1; std::nullopt to go on.
inline std::optional<accept_result> screen_request(const http_request& request,
                                                   const accept_settings& settings,
                                                   const accept_context& context);

// Sends process_request's `response` instead of the handshake, completed
// like a refusal; the failure is an abort_handshake with its status,
// headers and body. A 101 can't be sent this way: it becomes a 500.
inline accept_result respond_instead(http_response response, const accept_settings& settings,
                                     const accept_context& context);

// The refusal for a handshake that failed with `failure` (thrown while
// reading the request, or by process_request): abort_handshake's own
// response, 403, 426 or 400 for the handshake's exceptions, 500 for any
// other, and no response for cancel_handshake or std::system_error.
inline accept_result refuse(std::exception_ptr failure, const accept_settings& settings,
                            const accept_context& context);

// The subprotocol the reference picks by default: among those both sides
// list, the one whose positions in the two lists add up to the least; on a
// tie, the client's preference wins. std::nullopt when they share none.
inline std::optional<std::string> select_subprotocol_by_rank(std::span<const std::string> client,
                                                             std::span<const std::string> server);

// ---- Implementation -------------------------------------------------------

inline std::optional<std::string> select_subprotocol_by_rank(std::span<const std::string> client,
                                                             std::span<const std::string> server) {
  std::optional<std::string> best;
  std::size_t best_rank = 0;
  for (std::size_t i = 0; i < client.size(); ++i) {
    auto it = std::find(server.begin(), server.end(), client[i]);
    if (it == server.end()) continue;
    const std::size_t rank = i + static_cast<std::size_t>(it - server.begin());
    if (!best || rank < best_rank) {
      best = client[i];
      best_rank = rank;
    }
  }
  return best;
}

namespace detail {

// An HTTP date (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::string http_date(std::time_t t) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[96];
  const int n = std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                              days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(out, n > 0 ? static_cast<std::size_t>(n) : 0);
}

// Splits a Host header ("example.com:8080", "[::1]") into host and port;
// the port is the scheme's default when the header has none.
inline std::pair<std::string, std::uint16_t> split_host_header(std::string_view value,
                                                               bool secure) {
  std::string_view host = value;
  std::string_view port;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close != std::string_view::npos) {
      host = value.substr(1, close - 1);
      if (value.substr(close + 1).starts_with(':')) port = value.substr(close + 2);
    }
  } else if (const auto colon = value.rfind(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  std::uint32_t number = 0;
  bool valid = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') valid = false;
    number = number * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (!valid || number > 65535) number = default_port(secure);
  return {std::string(host), static_cast<std::uint16_t>(number)};
}

// A plain-text refusal: `status`, and the reason as the body.
inline http_response refusal(int status, std::string_view reason, std::string_view hint = {}) {
  http_response r;
  r.status_code = status;
  r.body = "WebSocket handshake refused: ";
  r.body += reason;
  r.body += '\n';
  r.body += hint;
  return r;
}

inline http_response internal_error() {
  http_response r;
  r.status_code = 500;
  r.body = "Internal server error.\n";
  return r;
}

// The response for a handshake that failed with `failure`, or std::nullopt
// when the peer should get none.
inline std::optional<http_response> refusal_for(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const abort_handshake& e) {
    http_response r;
    r.status_code = e.status();
    r.headers = headers(e.headers());
    r.body = e.body();
    return r;
  } catch (const invalid_origin& e) {
    return refusal(403, e.what());
  } catch (const invalid_upgrade& e) {
    auto r = refusal(426, e.what(),
                     "This address serves WebSocket connections: use a WebSocket client.\n");
    r.headers.add("Upgrade", "websocket");
    return r;
  } catch (const invalid_header_value& e) {
    if (!iequals(e.name(), "Sec-WebSocket-Version")) return refusal(400, e.what());
    auto r = refusal(426, e.what(), "This server speaks WebSocket version 13.\n");
    r.headers.add("Sec-WebSocket-Version", "13");
    return r;
  } catch (const invalid_handshake& e) {
    return refusal(400, e.what());
  } catch (const cancel_handshake&) {
    return std::nullopt;
  } catch (const std::system_error&) {
    return std::nullopt;  // the connection failed: nobody to answer
  } catch (...) {
    return internal_error();
  }
}

// Adds what every refusal carries, unless the response has it already.
inline void complete_refusal(http_response& r, std::string_view server_header, std::time_t now) {
  if (!r.headers.contains("Date")) r.headers.add("Date", http_date(now));
  if (!server_header.empty() && !r.headers.contains("Server"))
    r.headers.add("Server", server_header);
  const bool bodiless = r.status_code < 200 || r.status_code == 204 || r.status_code == 304;
  if (!bodiless && !r.headers.contains("Content-Length"))
    r.headers.add("Content-Length", std::to_string(r.body.size()));
  if (!r.body.empty() && !r.headers.contains("Content-Type"))
    r.headers.add("Content-Type", "text/plain; charset=utf-8");
  if (!r.headers.contains("Connection")) r.headers.add("Connection", "close");
}

// The refusal `answer` for `failure`, completed and serialized; a response
// that can't be serialized (a header with a line break from
// process_request, say) becomes a 500, and the failure says why.
inline accept_result refusal_result(http_response answer, std::exception_ptr failure,
                                    const accept_settings& settings,
                                    const accept_context& context) {
  accept_result result;
  result.failure = std::move(failure);
  complete_refusal(answer, settings.server_header, context.now);
  try {
    result.bytes = serialize(answer);
    result.response = std::move(answer);
    return result;
  } catch (const std::invalid_argument&) {
    result.failure = std::current_exception();
  }
  http_response internal = internal_error();
  complete_refusal(internal, settings.server_header, context.now);
  result.bytes = serialize(internal);
  result.response = std::move(internal);
  return result;
}

// Answers the client's extension offers, in order, with the factories of
// `settings`; the negotiated extensions go to `accepted`. Returns the
// response's Sec-WebSocket-Extensions, if any offer was accepted.
inline std::optional<std::string> negotiate_server_extensions(
    const headers& request, const accept_settings& settings,
    std::vector<std::unique_ptr<extension>>& accepted) {
  auto values = request.get_all("Sec-WebSocket-Extensions");
  if (values.empty()) return std::nullopt;
  const bool add_deflate =
      settings.deflate &&
      std::none_of(settings.extensions.begin(), settings.extensions.end(),
                   [](const auto& f) { return f && f->name() == detail::permessage_deflate_name; });
  std::vector<extension_header> answers;
  auto try_factory = [&](const server_extension_factory& factory, const extension_header& offer) {
    if (factory.name() != offer.name) return false;
    try {
      auto [params, ext] = factory.process_request_params(offer.params, accepted);
      answers.push_back({offer.name, std::move(params)});
      accepted.push_back(std::move(ext));
      return true;
    } catch (const negotiation_error&) {
      return false;  // decline this offer; the next one may do
    }
  };
  for (auto value : values) {
    for (const auto& offer : parse_extension_list(value)) {
      bool done = false;
      for (const auto& factory : settings.extensions) {
        if (factory && try_factory(*factory, offer)) {
          done = true;
          break;
        }
      }
      if (!done && add_deflate) try_factory(*default_server_deflate(), offer);
    }
  }
  if (answers.empty()) return std::nullopt;
  return build_extension_list(answers);
}

// Picks the subprotocol for the request, if both sides have some.
inline std::optional<std::string> negotiate_server_subprotocol(const headers& request,
                                                               const accept_settings& settings) {
  if (settings.subprotocols.empty()) return std::nullopt;
  std::vector<std::string> offered;
  for (auto value : request.get_all("Sec-WebSocket-Protocol")) {
    auto list = parse_subprotocol_list(value);
    offered.insert(offered.end(), std::make_move_iterator(list.begin()),
                   std::make_move_iterator(list.end()));
  }
  if (offered.empty()) return std::nullopt;
  auto chosen = settings.select_subprotocol
                    ? settings.select_subprotocol(offered, settings.subprotocols)
                    : select_subprotocol_by_rank(offered, settings.subprotocols);
  if (chosen && std::find(offered.begin(), offered.end(), *chosen) == offered.end())
    throw std::logic_error("select_subprotocol returned " + detail::printable(*chosen) +
                           ", which the client didn't offer");
  return chosen;
}

// Checks Origin against `settings.origins`.
inline void check_origin(const headers& request, const accept_settings& settings) {
  if (!settings.origins) return;
  auto values = request.get_all("Origin");
  if (values.size() > 1) throw invalid_header("Origin", "more than one Origin header found");
  std::optional<std::string> origin;
  if (!values.empty()) origin = std::string(values.front());
  if (std::find(settings.origins->begin(), settings.origins->end(), origin) ==
      settings.origins->end())
    throw invalid_origin(origin);
}

// The rules after process_request, and the 101; throws what the refusal
// is for.
inline accept_result accept_or_throw(http_request request, const accept_settings& settings,
                                     const accept_context& context) {
  const std::string_view host = single_header(request.headers, "Host");
  if (request.headers.contains("Transfer-Encoding") ||
      request.headers.get("Content-Length").value_or("0") != "0")
    throw invalid_message("a WebSocket handshake request can't have a body");
  const std::string key = check_request(request.headers);
  check_origin(request.headers, settings);

  accept_result result;
  opening_handshake& handshake = result.handshake;
  http_response switching;
  headers& response_headers = switching.headers;
  build_response(response_headers, key);
  if (auto extensions =
          negotiate_server_extensions(request.headers, settings, handshake.extensions))
    response_headers.add("Sec-WebSocket-Extensions", std::move(*extensions));
  handshake.subprotocol = negotiate_server_subprotocol(request.headers, settings);
  if (handshake.subprotocol) response_headers.add("Sec-WebSocket-Protocol", *handshake.subprotocol);
  if (settings.extra_headers)
    settings.extra_headers(response_headers, request.path, request.headers);
  if (!response_headers.contains("Date")) response_headers.add("Date", http_date(context.now));
  if (!settings.server_header.empty() && !response_headers.contains("Server"))
    response_headers.add("Server", settings.server_header);
  result.bytes = serialize(switching);  // throws for a header that can't be sent

  handshake.secure = context.secure;
  auto [host_name, port] = split_host_header(host, context.secure);
  handshake.host = std::move(host_name);
  handshake.port = port;
  handshake.path = std::move(request.path);
  handshake.request_headers = std::move(request.headers);
  handshake.response_headers = switching.headers;
  result.response = std::move(switching);
  return result;
}

}  // namespace detail

inline std::optional<accept_result> screen_request(const http_request& request,
                                                   const accept_settings& settings,
                                                   const accept_context& context) {
  if (request.method != "GET") {
    auto answer = detail::refusal(405, "the method of a WebSocket handshake is GET");
    answer.headers.add("Allow", "GET");
    auto failure = std::make_exception_ptr(invalid_message("unsupported HTTP method " +
                                                           detail::printable(request.method) +
                                                           "; a WebSocket handshake is a GET"));
    return detail::refusal_result(std::move(answer), std::move(failure), settings, context);
  }
  if (request.http_major == 1 && request.http_minor < 1)
    return refuse(
        std::make_exception_ptr(invalid_message("HTTP/1." + std::to_string(request.http_minor) +
                                                " request; a WebSocket handshake needs HTTP/1.1")),
        settings, context);
  return std::nullopt;
}

inline accept_result accept_request(http_request request, const accept_settings& settings,
                                    const accept_context& context) {
  if (auto refused = screen_request(request, settings, context)) return std::move(*refused);
  try {
    return detail::accept_or_throw(std::move(request), settings, context);
  } catch (...) {
    return refuse(std::current_exception(), settings, context);
  }
}

inline accept_result respond_instead(http_response response, const accept_settings& settings,
                                     const accept_context& context) {
  if (response.status_code == 101)
    return refuse(
        std::make_exception_ptr(std::invalid_argument("process_request returned a 101 response")),
        settings, context);
  std::vector<headers::value_type> fields(response.headers.begin(), response.headers.end());
  auto failure = std::make_exception_ptr(
      abort_handshake(response.status_code, std::move(fields), response.body));
  return detail::refusal_result(std::move(response), std::move(failure), settings, context);
}

inline accept_result refuse(std::exception_ptr failure, const accept_settings& settings,
                            const accept_context& context) {
  auto answer = detail::refusal_for(failure);
  if (!answer) {
    accept_result result;
    result.failure = std::move(failure);
    return result;
  }
  return detail::refusal_result(std::move(*answer), std::move(failure), settings, context);
}

}  // namespace websockets
