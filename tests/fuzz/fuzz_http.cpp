// Fuzzing of the HTTP parsers (include/websockets/http.hpp), built twice:
// fuzz_http_request (FUZZ_HTTP_RESPONSE=0) and fuzz_http_response
// (FUZZ_HTTP_RESPONSE=1).
//
// Input: a flags byte (bit 0: tiny limits, read from the next 5 bytes,
// so that every limit is reached), a cutting plan (fuzz::read_pieces), then
// the message, fed to the parser piece by piece; a response's body is read
// too. Checked:
// - the parser refuses only with invalid_message, and stays failed;
// - feed() takes every byte until the head is complete, then stops there;
// - what it accepts respects the limits;
// - cutting doesn't matter: the whole message in one piece gives the same
//   outcome and the same message;
// - round trip: the parsed head serializes, and that parses back equal.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "websockets/http.hpp"

#ifndef FUZZ_HTTP_RESPONSE
#error "define FUZZ_HTTP_RESPONSE to 0 (requests) or 1 (responses)"
#endif

namespace {

namespace ws = websockets;

constexpr bool is_response = FUZZ_HTTP_RESPONSE != 0;
using message_type = std::conditional_t<is_response, ws::http_response, ws::http_request>;
using parser_type =
    std::conditional_t<is_response, ws::http_response_parser, ws::http_request_parser>;

// How a parse ended.
struct outcome {
  bool failed = false;
  bool head_complete = false;
  bool complete = false;
  std::size_t head_size = 0;
  std::optional<message_type> message;
};

std::string describe(const outcome& o) {
  return std::string(o.failed     ? "failed"
                     : o.complete ? "complete"
                                  : "incomplete") +
         (o.head_complete ? ", head of " + std::to_string(o.head_size) + " bytes" : "");
}

// Expects invalid_message from `f`, the only exception the parser throws
// for bad input.
template <class F>
bool refused(F f) {
  try {
    f();
    return false;
  } catch (const ws::invalid_message&) {
    return true;
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
}

// Parses `pieces` in order, checking feed()'s contract on the way, then
// reads a response's body and tells the parser that the input ended; with
// `check_failed`, that a failed parser stays failed (two more exceptions:
// done for one of the two parses of an input).
// (Templates, so that `if constexpr` drops what the other kind lacks.)
template <class Parser>
outcome parse(const std::vector<std::string_view>& pieces, const ws::http_limits& limits,
              bool check_failed) {
  outcome out;
  Parser p(limits);
  std::size_t fed = 0;
  std::size_t i = 0;
  std::string_view leftover;
  for (; i < pieces.size() && !p.head_complete(); ++i) {
    std::size_t n = 0;
    if (refused([&] { n = p.feed(pieces[i]); })) {
      out.failed = true;
      // A failed parser stays failed.
      if (!check_failed) return out;
      FUZZ_CHECK(refused([&] { p.feed("GET / HTTP/1.1\r\n\r\n"); }), "feed() after a failure");
      FUZZ_CHECK(refused([&] { p.finish(); }), "finish() after a failure");
      return out;
    }
    FUZZ_CHECK(n <= pieces[i].size(), "feed() took " + std::to_string(n) + " bytes of " +
                                          std::to_string(pieces[i].size()));
    FUZZ_CHECK(p.head_complete() || n == pieces[i].size(),
               "feed() left bytes before the end of the head: took " + std::to_string(n) + " of " +
                   std::to_string(pieces[i].size()));
    fed += n;
    FUZZ_CHECK(p.head_size() == fed,
               "head_size() " + std::to_string(p.head_size()) + ", fed " + std::to_string(fed));
    if (p.head_complete()) leftover = pieces[i].substr(n);
  }
  out.head_complete = p.head_complete();
  out.head_size = p.head_size();
  if (out.head_complete) {
    // The head is over: feed() takes nothing more.
    FUZZ_CHECK(p.feed("X") == 0, "feed() after the head took bytes");
    FUZZ_CHECK(p.head_size() <= limits.max_head,
               "head of " + std::to_string(p.head_size()) + " bytes");
    if constexpr (is_response) {
      if (refused([&] {
            std::size_t n = p.feed_body(leftover);
            FUZZ_CHECK(n <= leftover.size(), "feed_body() took too much");
            for (; i < pieces.size() && !p.complete(); ++i) {
              n = p.feed_body(pieces[i]);
              FUZZ_CHECK(n <= pieces[i].size(), "feed_body() took too much");
              FUZZ_CHECK(p.complete() || n == pieces[i].size(),
                         "feed_body() left bytes before the end of the body");
            }
          })) {
        out.failed = true;
        return out;
      }
    }
  }
  if (refused([&] { p.finish(); })) {
    out.failed = true;
    FUZZ_CHECK(!out.head_complete || is_response, "finish() refused a complete request head");
    return out;
  }
  FUZZ_CHECK(out.head_complete, "finish() accepted an incomplete head");
  FUZZ_CHECK(p.complete(), "not complete after finish()");
  out.complete = true;
  out.message = p.message();
  return out;
}

// What a parsed message must look like, whatever the input.
template <class Message>
void check_limits(const Message& m, const ws::http_limits& limits) {
  FUZZ_CHECK(m.http_major == 1, "HTTP major version " + std::to_string(m.http_major));
  FUZZ_CHECK(m.headers.size() <= limits.max_headers, std::to_string(m.headers.size()) + " headers");
  for (const auto& [name, value] : m.headers) {
    FUZZ_CHECK(name.size() + 1 + value.size() <= limits.max_header_line,
               "header " + fuzz::quote(name));
    FUZZ_CHECK(!name.empty(), "empty header name");
    FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.back() != ' '),
               "untrimmed value " + fuzz::quote(value));
  }
  if constexpr (is_response) {
    FUZZ_CHECK(m.status_code >= 100 && m.status_code <= 599,
               "status " + std::to_string(m.status_code));
    FUZZ_CHECK(m.reason.size() <= limits.max_start_line, "reason " + fuzz::quote(m.reason));
    FUZZ_CHECK(m.body.size() <= limits.max_body, "body of " + std::to_string(m.body.size()));
  } else {
    FUZZ_CHECK(!m.method.empty(), "empty method");
    FUZZ_CHECK(!m.path.empty() && m.path.size() <= limits.max_start_line,
               "path " + fuzz::quote(m.path));
  }
}

// The parsed head, serialized and parsed again, comes back equal.
template <class Message>
void check_round_trip(const Message& parsed) {
  Message head = parsed;
  if constexpr (is_response) {
    head.body.clear();
    if (head.reason.empty()) head.reason = std::string(ws::reason_phrase(head.status_code));
  }
  std::string bytes;
  try {
    bytes = ws::serialize(head);
  } catch (const std::invalid_argument& e) {
    fuzz::fail(__FILE__, __LINE__, std::string("a parsed message doesn't serialize: ") + e.what());
  }
  parser_type p{ws::http_limits{1 << 20, 1 << 20, 1 << 20, 1 << 22, 0}};
  std::size_t n = 0;
  if (refused([&] { n = p.feed(bytes); }))
    fuzz::fail(__FILE__, __LINE__, "serialized head refused: " + fuzz::quote(bytes));
  FUZZ_CHECK(p.head_complete() && n == bytes.size(),
             "serialized head not complete: " + fuzz::quote(bytes));
  FUZZ_CHECK(p.message() == head, "round trip changed the message: " + fuzz::quote(bytes));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  ws::http_limits limits;
  if (in.byte() & 1) {
    limits.max_start_line = in.byte();
    limits.max_header_line = in.byte();
    limits.max_headers = in.byte() % 16;
    limits.max_head = std::size_t{in.byte()} * 4;
    limits.max_body = in.byte();
  }
  std::string_view whole;
  const auto pieces = fuzz::read_pieces(in, &whole);

  try {
    // Uncut, the input is its own one-piece parse.
    const outcome cut = parse<parser_type>(pieces, limits, true);
    const outcome one = pieces.size() == 1 ? cut : parse<parser_type>({whole}, limits, false);
    FUZZ_CHECK(cut.failed == one.failed && cut.complete == one.complete &&
                   cut.head_complete == one.head_complete && cut.head_size == one.head_size,
               "in pieces: " + describe(cut) + "; in one piece: " + describe(one) + "; input " +
                   fuzz::quote(whole));
    if (!cut.complete) return 0;
    FUZZ_CHECK(cut.message == one.message, "cutting changed the message: " + fuzz::quote(whole));
    check_limits(*cut.message, limits);
    check_round_trip(*cut.message);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  return 0;
}
