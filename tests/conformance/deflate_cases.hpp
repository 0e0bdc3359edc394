// The permessage-deflate cases (RFC 7692): Autobahn's 12.x (five kinds of
// data, default parameters) and 13.x (parameter combinations), each a run
// of messages compressed by the driver's zlib and checked on their way
// back, plus cases of our own: more parameter combinations (13.8 on), and
// frames RFC 7692 forbids, limits and broken compressed data (13.0).
//
// Autobahn sends 1000 messages per case, 16 B to 128 KiB each: 200 cases of
// up to 128 MB would take an hour here. The driver sends 1000 messages per
// case up to 2 KiB, then as many as fit in 2 MiB (16 of 128 KiB): every
// case still sends its messages back to back on one compression context,
// and from 8 KiB on they outgrow the window. Sanitizer builds send a tenth.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "conformance/cases.hpp"
#include "conformance/corpus.hpp"

namespace websockets::conformance {

// Messages per compression case, and the most data a case sends.
inline constexpr int deflate_messages = sanitized_build ? 100 : 1000;
inline constexpr std::size_t deflate_case_bytes =
    sanitized_build ? std::size_t{256} << 10 : std::size_t{2} << 20;

// A message size and the fragment size it goes out in (0: one frame).
struct message_shape {
  std::size_t size;
  std::size_t fragment;
};

// Autobahn's sizes for 12.x and 13.x, in its order.
inline constexpr message_shape autobahn_shapes[] = {
    {16, 0},      {64, 0},      {256, 0},      {1024, 0},      {4096, 0},      {8192, 0},
    {16384, 0},   {32768, 0},   {65536, 0},    {131072, 0},    {8192, 256},    {16384, 256},
    {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768}};

inline int message_count(const message_shape& s) {
  return static_cast<int>(std::min<std::size_t>(deflate_messages, deflate_case_bytes / s.size));
}

// How many messages may wait for their echo at once: enough to keep both
// ends busy, as a real peer streaming messages would.
inline constexpr std::size_t deflate_pipeline = 8;

// Sends `count` messages of `shape` taken from `kind` data, compressed, at
// most deflate_pipeline of them ahead of their echoes, and checks every
// echo in order: same type, same bytes once decompressed, RSV1 on its first
// frame only. A peer that sends no compressed echo at all for data that
// compresses fails: the extension wouldn't be in use.
inline void deflate_traffic(case_context& c, corpus::kind kind, message_shape shape, int count,
                            bool flush_each) {
  corpus data(kind);
  const std::uint8_t opcode = data.is_text() ? op::text : op::binary;
  std::deque<std::string_view> waiting;  // slices of `data`, which stays put
  int sent = 0, compressed = 0;
  for (int received = 0; received < count; ++received) {
    while (sent < count && waiting.size() < deflate_pipeline) {
      waiting.push_back(data.next(shape.size));
      if (!c.peer().send_compressed(opcode, waiting.back(), c.within(waits::answer), shape.fragment,
                                    flush_each)) {
        c.result().fail("the connection broke while message " + std::to_string(sent + 1) +
                        " was sent: " + describe(c.next()));
        return;
      }
      ++sent;
    }
    const event e = c.next();
    if (e.type != event::kind::message || e.binary != !data.is_text()) {
      c.result().fail("message " + std::to_string(received + 1) + " of " + std::to_string(count) +
                      ": expected its echo, got " + describe(e));
      return;
    }
    if (e.data != waiting.front()) {
      c.result().fail("message " + std::to_string(received + 1) + ": echo has " +
                      difference(e.data, waiting.front()));
      return;
    }
    waiting.pop_front();
    compressed += e.compressed;
  }
  const bool compressible = kind != corpus::kind::mixed_binary && shape.size >= 64;
  if (compressible && compressed == 0) {
    c.result().fail("none of the " + std::to_string(count) + " echoes was compressed");
    return;
  }
  c.result().note(outcome::ok, std::to_string(count) + " messages, " + std::to_string(compressed) +
                                   " echoes compressed");
  c.close_normally();
}

inline std::string shape_text(const message_shape& s, int count, bool flush_each) {
  std::string out =
      "Send " + std::to_string(count) + " compressed messages of " + size_name(s.size);
  if (s.fragment)
    out += flush_each ? ", each in frames of " + size_name(s.fragment) + " flushed separately"
                      : ", the compressed data cut in frames of " + size_name(s.fragment);
  return out;
}

// What both sides agree on in one 13.x case: the driver's offer as a
// client and echo_server's answer, and the driver's answer as a server to
// the client's default offer (permessage-deflate; client_max_window_bits).
struct deflate_params {
  std::string summary;
  deflate_setup setup;
};

// The parameter sets of Autobahn's 13.1 to 13.7.
inline std::vector<deflate_params> autobahn_parameter_sets() {
  const std::string pmd = "permessage-deflate";
  const std::string cmwb = pmd + "; client_max_window_bits";
  return {
      {"default offer / plain acceptance",
       {cmwb, pmd + "; server_max_window_bits=12; client_max_window_bits=12", pmd}},
      {"server_no_context_takeover / client_no_context_takeover",
       {cmwb + "; server_no_context_takeover",
        pmd + "; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        pmd + "; client_no_context_takeover"}},
      {"server_max_window_bits=9 / client_max_window_bits=9",
       {cmwb + "; server_max_window_bits=9",
        pmd + "; server_max_window_bits=9; client_max_window_bits=12",
        pmd + "; client_max_window_bits=9"}},
      {"server_max_window_bits=15 / client_max_window_bits=15",
       {cmwb + "; server_max_window_bits=15",
        pmd + "; server_max_window_bits=12; client_max_window_bits=12",
        pmd + "; client_max_window_bits=15"}},
      {"no context takeover and 9-bit windows",
       {cmwb + "; server_no_context_takeover; server_max_window_bits=9",
        pmd + "; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12",
        pmd + "; client_no_context_takeover; client_max_window_bits=9"}},
      {"no context takeover and 15-bit windows",
       {cmwb + "; server_no_context_takeover; server_max_window_bits=15",
        pmd + "; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        pmd + "; client_no_context_takeover; client_max_window_bits=15"}},
      {"three offers, the first acceptable one taken",
       {cmwb + "; server_no_context_takeover; server_max_window_bits=9, " + cmwb +
            "; server_no_context_takeover, " + cmwb,
        pmd + "; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12",
        pmd + "; client_no_context_takeover; client_max_window_bits=9"}},
  };
}

// Parameter sets of our own, beyond Autobahn's: every window size of RFC
// 7692 (8 to 15) in each direction, and the no_context_takeover flags.
inline std::vector<deflate_params> more_parameter_sets() {
  const std::string pmd = "permessage-deflate";
  std::vector<deflate_params> out;
  for (int bits = 8; bits <= 15; ++bits) {
    const std::string b = std::to_string(bits), capped = std::to_string(std::min(bits, 12));
    out.push_back({"client_max_window_bits=" + b + " / server_max_window_bits=" + b,
                   {pmd + "; client_max_window_bits=" + b,
                    pmd + "; server_max_window_bits=12; client_max_window_bits=" + capped,
                    pmd + "; server_max_window_bits=" + b}});
  }
  for (int bits = 8; bits <= 15; ++bits) {
    const std::string b = std::to_string(bits), capped = std::to_string(std::min(bits, 12));
    out.push_back(
        {"server_max_window_bits=" + b + " offered / both windows " + b,
         {pmd + "; server_max_window_bits=" + b, pmd + "; server_max_window_bits=" + capped,
          pmd + "; server_max_window_bits=" + b + "; client_max_window_bits=" + b}});
  }
  out.push_back({"client_no_context_takeover / server_no_context_takeover",
                 {pmd + "; client_no_context_takeover",
                  pmd + "; client_no_context_takeover; server_max_window_bits=12",
                  pmd + "; server_no_context_takeover"}});
  out.push_back({"everything: both flags, 10-bit windows",
                 {pmd + "; server_no_context_takeover; client_no_context_takeover; "
                        "server_max_window_bits=10; client_max_window_bits=10",
                  pmd + "; server_no_context_takeover; client_no_context_takeover; "
                        "server_max_window_bits=10; client_max_window_bits=10",
                  pmd + "; server_no_context_takeover; client_no_context_takeover; "
                        "server_max_window_bits=10; client_max_window_bits=10"}});
  out.push_back({"plain offer / plain answer (no parameters at all)",
                 {pmd, pmd + "; server_max_window_bits=12", pmd}});
  return out;
}

inline section compression_payload_cases() {
  section s{"12", "WebSocket Compression (different payloads)", {}};
  const auto defaults = autobahn_parameter_sets().front().setup;
  const corpus::kind kinds[] = {corpus::kind::json, corpus::kind::bitmap, corpus::kind::prose,
                                corpus::kind::html, corpus::kind::mixed_binary};
  int j = 1;
  for (auto kind : kinds) {
    const std::string title(corpus(kind, 16).title());
    int i = 1;
    for (const auto& shape : autobahn_shapes) {
      const int count = message_count(shape);
      s.cases.push_back(
          {"12." + std::to_string(j) + "." + std::to_string(i++),
           shape_text(shape, count, false) + " of " + title + ", default parameters.",
           "Every message echoed, decompressing to what was sent.",
           [kind, shape, count](case_context& c) { deflate_traffic(c, kind, shape, count, false); },
           outcome::ok, defaults});
    }
    ++j;
  }
  return s;
}

inline section compression_parameter_cases() {
  section s{"13", "WebSocket Compression (different parameters)", {}};
  int j = 1;
  for (const auto& params : autobahn_parameter_sets()) {
    int i = 1;
    for (const auto& shape : autobahn_shapes) {
      const int count = message_count(shape);
      s.cases.push_back({"13." + std::to_string(j) + "." + std::to_string(i++),
                         shape_text(shape, count, true) + " of JSON; " + params.summary + ".",
                         "Every message echoed, decompressing to what was sent.",
                         [shape, count](case_context& c) {
                           deflate_traffic(c, corpus::kind::json, shape, count, true);
                         },
                         outcome::ok, params.setup});
    }
    ++j;
  }
  // Ours: each further parameter set with a run of mixed sizes.
  const message_shape ours[] = {{16, 0}, {1024, 0}, {16384, 0}, {131072, 0}, {131072, 4096}};
  for (const auto& params : more_parameter_sets()) {
    int i = 1;
    for (const auto& shape : ours) {
      const int count = message_count(shape);
      s.cases.push_back(
          {"13." + std::to_string(j) + "." + std::to_string(i++),
           "(ours) " + shape_text(shape, count, true) + " of prose; " + params.summary + ".",
           "Every message echoed, decompressing to what was sent.",
           [shape, count](case_context& c) {
             deflate_traffic(c, corpus::kind::prose, shape, count, true);
           },
           outcome::ok, params.setup});
    }
    ++j;
  }
  return s;
}

// ---- 13.0 (ours): what permessage-deflate forbids, and its limits ------------

inline section compression_error_cases() {
  section s{"13.0", "permessage-deflate: forbidden frames and limits (ours)", {}};
  const auto defaults = autobahn_parameter_sets().front().setup;
  auto add = [&](std::string description, std::string expectation,
                 std::function<void(case_context&)> run) {
    s.cases.push_back({"13.0." + std::to_string(s.cases.size() + 1), std::move(description),
                       std::move(expectation), std::move(run), outcome::ok, defaults});
  };
  add("(ours) Send an uncompressed text message (RSV1 clear) on a connection that agreed on "
      "permessage-deflate.",
      "Echoed: compression is per message.", [](case_context& c) {
        c.send({op::text, "not compressed"});
        if (c.expect({text("not compressed")})) c.close_normally();
      });
  add("(ours) Send a compressed message in 2 frames, RSV1 set on the continuation frame too.",
      "Failed with 1002: only the first frame carries RSV1.", [](case_context& c) {
        deflater d(15, false);
        const std::string data = d.compress(std::string(2000, 'a') + "end", true);
        const std::string_view all(data);
        c.send({{op::text, all.substr(0, data.size() / 2), false, rsv1},
                {op::cont, all.substr(data.size() / 2), true, rsv1}});
        c.expect_failure({1002});
      });
  add("(ours) Send a ping with RSV1 set.", "Failed with 1002: control frames are never compressed.",
      [](case_context& c) {
        c.send({op::ping, "ping", true, rsv1});
        c.expect_failure({1002});
      });
  add("(ours) Send a text message with RSV1 set whose payload isn't DEFLATE data.",
      "Failed with 1007 (invalid data); 1002 is tolerated.", [](case_context& c) {
        c.send({op::text, from_hex("ff ff ff ff 00 01 02 03"), true, rsv1});
        c.expect_failure({1007, 1002});
      });
  add("(ours) Send a compressed text message that decompresses to invalid UTF-8.",
      "Failed with 1007.", [](case_context& c) {
        deflater d(15, false);
        c.send({op::text, d.compress("valid, then " + from_hex("ed a0 80"), true), true, rsv1});
        c.expect_failure({1007});
      });
  add("(ours) Send a 70 KiB compressed message that inflates to 64 MiB + 1 byte (the peer's "
      "max_size is 64 MiB).",
      "Failed with 1009, without inflating it all.", [](case_context& c) {
        deflater d(15, false, 9);
        const std::string zeros(std::size_t{1} << 20, '\0');
        std::string bomb;
        for (int k = 0; k < 64; ++k) bomb += d.compress(zeros, false);
        bomb += d.compress(std::string_view("x", 1), true);
        c.send({op::binary, bomb, true, rsv1});
        c.expect_failure({1009});
      });
  add("(ours) Send a compressed text message in 2 frames (each flushed) with a ping between them.",
      "The pong, then the message echoed.", [](case_context& c) {
        deflater d(9, false);
        const std::string a = d.compress("first half, ", false),
                          b = d.compress("second half", true);
        c.send({{op::text, a, false, rsv1}, {op::ping, "between"}, {op::cont, b}});
        if (c.expect({pong("between"), text("first half, second half")})) c.close_normally();
      });
  add("(ours) Send a compressed text message in 3 frames: an empty first frame with RSV1, the "
      "compressed data, an empty last frame.",
      "Echoed.", [](case_context& c) {
        deflater d(9, false);
        const std::string z = d.compress("empty frames around me", true);
        c.send({{op::text, "", false, rsv1}, {op::cont, z, false}, {op::cont, ""}});
        if (c.expect({text("empty frames around me")})) c.close_normally();
      });
  add("(ours) Send an empty text message compressed as the single byte 0x00 (RFC 7692 7.2.3.6).",
      "Echoed, empty.", [](case_context& c) {
        c.send({op::text, std::string(1, '\0'), true, rsv1});
        if (c.expect({text("")})) c.close_normally();
      });
  return s;
}

}  // namespace websockets::conformance
