// The case catalogue of sections 1 to 10, after the Autobahn|Testsuite's
// published case list (same ids, same frames, same expectations), plus a
// few cases of our own, marked "(ours)". Each case is written once and runs
// against both ends: the driver plays the client against echo_server and
// the server against connect(); only the masking and who closes TCP differ,
// and case_context handles both.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "conformance/case_context.hpp"
#include "conformance/utf8_sequences.hpp"

namespace websockets::conformance {

// A group of cases: "5" and "Fragmentation".
struct section {
  std::string number;
  std::string title;
  std::vector<case_def> cases;
};

// The frames `f`, cut into the pieces a case sends separately.
enum class chops { none, per_frame, per_octet };

inline bool send_with(case_context& c, std::initializer_list<frame_spec> frames, chops how) {
  return c.send(frames, how == chops::per_frame, how == chops::per_octet ? 1 : 0);
}

inline const char* chops_text(chops how) {
  switch (how) {
    case chops::none:
      return "";
    case chops::per_frame:
      return " Frames sent in separate writes.";
    case chops::per_octet:
      return " Sent one octet per write.";
  }
  return "";
}

// Sends `frames` and expects `echo` back, then a normal close.
inline void echo_case(case_context& c, std::initializer_list<frame_spec> frames,
                      std::initializer_list<expected> echo, chops how = chops::none) {
  if (!send_with(c, frames, how)) {
    c.result().fail("the peer broke the connection while the frames were sent");
    return;
  }
  if (c.expect(echo)) c.close_normally();
}

// ---- 1 Framing ---------------------------------------------------------------

inline section framing_cases() {
  section s{"1", "Framing", {}};
  const std::size_t sizes[] = {0, 125, 126, 127, 128, 65535, 65536};
  for (int kind = 1; kind <= 2; ++kind) {
    const bool text_kind = kind == 1;
    const std::string name = text_kind ? "text" : "binary";
    int i = 1;
    for (std::size_t n : sizes) {
      std::string payload(n, text_kind ? '*' : '\xfe');
      s.cases.push_back(
          {"1." + std::to_string(kind) + "." + std::to_string(i++),
           "Send a " + name + " message with a payload of " + std::to_string(n) + " bytes.",
           "The message echoed, then a clean close.", [payload, text_kind](case_context& c) {
             c.send_message(text_kind ? op::text : op::binary, payload);
             if (c.expect({text_kind ? text(payload) : binary(payload)})) c.close_normally();
           }});
    }
    std::string payload(65536, text_kind ? '*' : '\xfe');
    s.cases.push_back({"1." + std::to_string(kind) + ".8",
                       "Send a " + name + " message of 65536 bytes, written in chops of 997 bytes.",
                       "The message echoed, then a clean close.",
                       [payload, text_kind](case_context& c) {
                         c.send_message(text_kind ? op::text : op::binary, payload, 0, 997);
                         if (c.expect({text_kind ? text(payload) : binary(payload)}))
                           c.close_normally();
                       }});
  }
  // Ours: every length encoding, one octet per write.
  int i = 1;
  for (auto [n, text_kind] :
       {std::pair{std::size_t{125}, true}, {std::size_t{126}, true}, {std::size_t{65536}, false}}) {
    std::string payload(n, text_kind ? 'x' : '\x81');
    s.cases.push_back({"1.3." + std::to_string(i++),
                       "(ours) Send a " + std::string(text_kind ? "text" : "binary") +
                           " message of " + std::to_string(n) + " bytes, one octet per write.",
                       "The message echoed, then a clean close.",
                       [payload, text_kind](case_context& c) {
                         c.send_message(text_kind ? op::text : op::binary, payload, 0, 1);
                         if (c.expect({text_kind ? text(payload) : binary(payload)}))
                           c.close_normally();
                       }});
  }
  s.cases.push_back(
      {"1.4.1",
       "(ours) Send a text frame masked the wrong way for the sender: unmasked from a "
       "client, masked from a server.",
       "Failed with 1002 (RFC 6455 5.1).", [](case_context& c) {
         const role other = c.self() == role::client ? role::server : role::client;
         c.send_raw(make_frame({op::text, "Hello, world!"}, other));
         c.expect_failure({1002});
       }});
  return s;
}

// ---- 2 Pings/Pongs -----------------------------------------------------------

// Sends ten pings and expects ten pongs in order. The RFC lets an endpoint
// answer only the latest of several pings: that gets NON-STRICT.
inline void ten_pings(case_context& c, std::size_t chop) {
  std::string all;
  for (int i = 0; i < 10; ++i) {
    const std::string p = "payload-" + std::to_string(i);
    append_frame(all, {op::ping, p}, c.self());
  }
  c.send_raw(all, chop);
  std::vector<std::string> got;
  while (got.empty() || got.back() != "payload-9") {
    const event e = c.next();
    if (e.type != event::kind::pong) {
      c.result().fail("after " + std::to_string(got.size()) + " pongs, got " + describe(e));
      return;
    }
    got.push_back(e.data);
  }
  int next = 0;
  bool in_order = true;
  for (const auto& p : got) {
    const int k = p.size() == 9 && p.rfind("payload-", 0) == 0 ? p[8] - '0' : -1;
    in_order = in_order && k >= next;
    next = k + 1;
  }
  if (!in_order) {
    c.result().fail("pongs out of order");
    return;
  }
  if (got.size() != 10)
    c.result().note(outcome::non_strict, "answered " + std::to_string(got.size()) +
                                             " of 10 pings (the latest among them)");
  c.close_normally();
}

inline section ping_cases() {
  section s{"2", "Pings/Pongs", {}};
  auto ping_pong = [&](std::string id, std::string what, std::string payload,
                       std::size_t chop = 0) {
    s.cases.push_back({std::move(id), "Send a ping with " + what + ".",
                       "A pong with the same payload, then a clean close.",
                       [payload, chop](case_context& c) {
                         c.send({op::ping, payload}, chop);
                         if (c.expect({pong(payload)})) c.close_normally();
                       }});
  };
  ping_pong("2.1", "no payload", "");
  ping_pong("2.2", "a small text payload", "Hello, world!");
  ping_pong("2.3", "a small binary payload (not UTF-8)", from_hex("00 ff fe fd fc fb 00 ff"));
  ping_pong("2.4", "a binary payload of 125 bytes", std::string(125, '\xfe'));
  s.cases.push_back({"2.5", "Send a ping with a binary payload of 126 bytes.",
                     "Failed at once with 1002: control frames carry at most 125 bytes.",
                     [](case_context& c) {
                       c.send({op::ping, std::string(126, '\xfe')});
                       c.expect_failure({1002});
                     }});
  ping_pong("2.6", "a binary payload of 125 bytes, one octet per write", std::string(125, '\xfe'),
            1);
  auto unsolicited = [&](std::string id, std::string payload) {
    s.cases.push_back({std::move(id),
                       "Send an unsolicited pong " +
                           (payload.empty() ? std::string("without payload") : "with payload") +
                           ".",
                       "Nothing in reply; a clean close.", [payload](case_context& c) {
                         c.send({op::pong, payload});
                         c.close_normally();
                       }});
  };
  unsolicited("2.7", "");
  unsolicited("2.8", "unsolicited pong payload");
  s.cases.push_back({"2.9", "Send an unsolicited pong, then a ping with a payload.",
                     "Only the pong answering the ping; a clean close.", [](case_context& c) {
                       c.send({{op::pong, "unsolicited pong payload"}, {op::ping, "ping payload"}});
                       if (c.expect({pong("ping payload")})) c.close_normally();
                     }});
  s.cases.push_back({"2.10", "Send 10 pings with payloads.",
                     "10 pongs with the same payloads in order (answering only the latest is "
                     "allowed: NON-STRICT).",
                     [](case_context& c) { ten_pings(c, 0); }});
  s.cases.push_back({"2.11", "Send 10 pings with payloads, one octet per write.",
                     "10 pongs with the same payloads in order (answering only the latest is "
                     "allowed: NON-STRICT).",
                     [](case_context& c) { ten_pings(c, 1); }});
  return s;
}

// ---- 3 Reserved bits ---------------------------------------------------------

inline section reserved_bit_cases() {
  section s{"3", "Reserved Bits", {}};
  s.cases.push_back({"3.1", "Send a small text message with RSV = 1.", "Failed at once with 1002.",
                     [](case_context& c) {
                       c.send({op::text, "Hello, world!", true, 1});
                       c.expect_failure({1002});
                     }});
  const std::pair<std::uint8_t, chops> echo_first[] = {
      {2, chops::none}, {3, chops::per_frame}, {4, chops::per_octet}};
  int i = 2;
  for (auto [rsv, how] : echo_first) {
    s.cases.push_back({"3." + std::to_string(i++),
                       "Send a small text message, then again with RSV = " + std::to_string(rsv) +
                           ", then a ping." + chops_text(how),
                       "The first message echoed, then failed with 1002; no pong.",
                       [rsv, how](case_context& c) {
                         send_with(c,
                                   {{op::text, "Hello, world!"},
                                    {op::text, "Hello, world!", true, rsv},
                                    {op::ping, ""}},
                                   how);
                         const expected echo[] = {text("Hello, world!")};
                         c.expect_failure({1002}, echo);
                       }});
  }
  s.cases.push_back({"3.5", "Send a small binary message with RSV = 5.",
                     "Failed at once with 1002.", [](case_context& c) {
                       c.send({op::binary, from_hex("00 ff fe fd fc fb 00 ff"), true, 5});
                       c.expect_failure({1002});
                     }});
  s.cases.push_back(
      {"3.6", "Send a ping with RSV = 6.", "Failed at once with 1002.", [](case_context& c) {
         c.send({op::ping, "Hello, world!", true, 6});
         c.expect_failure({1002});
       }});
  s.cases.push_back(
      {"3.7", "Send a close frame with RSV = 7.", "Failed at once with 1002.", [](case_context& c) {
         c.send({op::close, close_payload(1000), true, 7});
         c.expect_failure({1002});
       }});
  return s;
}

// ---- 4 Opcodes ---------------------------------------------------------------

inline section opcode_cases() {
  section s{"4", "Opcodes", {}};
  for (int group = 1; group <= 2; ++group) {
    const int base = group == 1 ? 3 : 11;
    const std::string kind = group == 1 ? "non-control" : "control";
    for (int k = 0; k < 5; ++k) {
      const auto code = static_cast<std::uint8_t>(base + k);
      const bool with_payload = k % 2 == 1 || k == 4;
      const std::string payload = with_payload ? "reserved opcode payload" : "";
      const std::string id = "4." + std::to_string(group) + "." + std::to_string(k + 1);
      if (k < 2) {
        s.cases.push_back({id,
                           "Send a frame with reserved " + kind + " opcode " +
                               std::to_string(code) + (with_payload ? " and a payload." : "."),
                           "Failed at once with 1002.", [code, payload](case_context& c) {
                             c.send({code, payload});
                             c.expect_failure({1002});
                           }});
      } else {
        s.cases.push_back({id,
                           "Send a small text message, then a frame with reserved " + kind +
                               " opcode " + std::to_string(code) +
                               (with_payload ? " and a payload" : "") + ", then a ping.",
                           "The message echoed, then failed with 1002; no pong.",
                           [code, payload](case_context& c) {
                             c.send({{op::text, "Hello, world!"}, {code, payload}, {op::ping, ""}});
                             const expected echo[] = {text("Hello, world!")};
                             c.expect_failure({1002}, echo);
                           }});
      }
    }
  }
  return s;
}

// ---- 5 Fragmentation ---------------------------------------------------------

inline section fragmentation_cases() {
  section s{"5", "Fragmentation", {}};
  s.cases.push_back({"5.1", "Send a ping fragmented into 2 frames.",
                     "Failed at once with 1002: control frames can't be fragmented.",
                     [](case_context& c) {
                       c.send({{op::ping, "fragment1", false}, {op::cont, "fragment2"}});
                       c.expect_failure({1002});
                     }});
  s.cases.push_back({"5.2", "Send a pong fragmented into 2 frames.",
                     "Failed at once with 1002: control frames can't be fragmented.",
                     [](case_context& c) {
                       c.send({{op::pong, "fragment1", false}, {op::cont, "fragment2"}});
                       c.expect_failure({1002});
                     }});
  int i = 3;
  for (auto how : {chops::none, chops::per_frame, chops::per_octet}) {
    s.cases.push_back({"5." + std::to_string(i++),
                       std::string("Send a text message in 2 fragments.") + chops_text(how),
                       "The message echoed whole.", [how](case_context& c) {
                         echo_case(c, {{op::text, "fragment1", false}, {op::cont, "fragment2"}},
                                   {text("fragment1fragment2")}, how);
                       }});
  }
  for (auto how : {chops::none, chops::per_frame, chops::per_octet}) {
    s.cases.push_back({"5." + std::to_string(i++),
                       std::string("Send a text message in 2 fragments with a ping between them.") +
                           chops_text(how),
                       "The pong first, then the message echoed.", [how](case_context& c) {
                         echo_case(c,
                                   {{op::text, "fragment1", false},
                                    {op::ping, "ping payload"},
                                    {op::cont, "fragment2"}},
                                   {pong("ping payload"), text("fragment1fragment2")}, how);
                       }});
  }
  for (bool fin : {true, false}) {
    for (auto how : {chops::none, chops::per_frame, chops::per_octet}) {
      s.cases.push_back(
          {"5." + std::to_string(i++),
           std::string("Send a continuation frame with FIN = ") + (fin ? "1" : "0") +
               " with nothing to continue, then a text message." + chops_text(how),
           "Failed at once with 1002; no echo.", [fin, how](case_context& c) {
             send_with(c,
                       {{op::cont, "non-continuation payload", fin}, {op::text, "Hello, world!"}},
                       how);
             c.expect_failure({1002});
           }});
    }
  }
  s.cases.push_back(
      {"5.15",
       "Send a text message in 2 fragments, then a continuation frame with FIN = 0 with nothing "
       "to continue, then a text message.",
       "The first message echoed, then failed with 1002.", [](case_context& c) {
         c.send({{op::text, "fragment1", false},
                 {op::cont, "fragment2"},
                 {op::cont, "fragment3", false},
                 {op::text, "fragment4"}});
         const expected echo[] = {text("fragment1fragment2")};
         c.expect_failure({1002}, echo);
       }});
  i = 16;
  for (bool fin : {false, true}) {
    s.cases.push_back({"5." + std::to_string(i),
                       std::string("Twice: a continuation frame with FIN = ") + (fin ? "1" : "0") +
                           " with nothing to continue, then a text message in 2 fragments.",
                       "Failed at once with 1002; no echo.", [fin](case_context& c) {
                         c.send({{op::cont, "fragment1", fin},
                                 {op::text, "fragment2", false},
                                 {op::cont, "fragment3"},
                                 {op::cont, "fragment1", fin},
                                 {op::text, "fragment2", false},
                                 {op::cont, "fragment3"}});
                         c.expect_failure({1002});
                       }});
    ++i;
  }
  s.cases.push_back({"5.18", "Send a text message in 2 fragments, both with the text opcode.",
                     "Failed at once with 1002: a continuation was expected.", [](case_context& c) {
                       c.send({{op::text, "fragment1", false}, {op::text, "fragment2"}});
                       c.expect_failure({1002});
                     }});
  for (bool per_frame : {false, true}) {
    s.cases.push_back(
        {per_frame ? "5.20" : "5.19",
         std::string("Send 2 fragments of a text message and a ping; once its pong is back, 2 "
                     "more fragments, a ping and the last fragment.") +
             (per_frame ? " Frames sent in separate writes." : ""),
         "The first pong before the rest is sent, the second pong, then the message echoed.",
         [per_frame](case_context& c) {
           c.send({{op::text, "fragment1", false},
                   {op::cont, "fragment2", false},
                   {op::ping, "pongme 1!"}},
                  per_frame);
           if (!c.expect({pong("pongme 1!")})) return;
           c.send({{op::cont, "fragment3", false},
                   {op::cont, "fragment4", false},
                   {op::ping, "pongme 2!"},
                   {op::cont, "fragment5"}},
                  per_frame);
           if (c.expect({pong("pongme 2!"), text("fragment1fragment2fragment3fragment4fragment5")}))
             c.close_normally();
         }});
  }
  return s;
}

// ---- 6 UTF-8 Handling --------------------------------------------------------

// The payload of cases 6.3 and 6.4: "κόσμε", then a bad sequence, then
// "edited".
inline const std::string kosme = from_hex("ce ba e1 bd b9 cf 83 ce bc ce b5");

// Sends a text message in the parts `parts`, either as frames (`as_frames`)
// or as chops of one frame, and expects a 1007 close right after the part
// holding the bad byte (`bad_part`), before any later part is sent.
inline void fail_fast_case(case_context& c, std::vector<std::string> parts, std::size_t bad_part,
                           bool as_frames) {
  std::vector<std::string> writes;
  if (as_frames) {
    for (std::size_t k = 0; k < parts.size(); ++k)
      writes.push_back(
          make_frame({k == 0 ? op::text : op::cont, parts[k], k + 1 == parts.size()}, c.self()));
  } else {
    std::string payload;
    for (const auto& p : parts) payload += p;
    const std::string frame = make_frame({op::text, payload}, c.self());
    std::size_t at = frame.size() - payload.size();  // the header goes with the first part
    std::size_t from = 0;
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const std::size_t to = at + parts[k].size();
      writes.push_back(frame.substr(from, to - from));
      from = at = to;
    }
  }
  for (std::size_t k = 0; k <= bad_part; ++k) c.send_raw(writes[k]);
  if (c.expect_failure({1007}, {}, waits::fail_fast, false)) return;
  c.result().note(outcome::non_strict, "no close before the rest of the message was sent");
  for (std::size_t k = bad_part + 1; k < writes.size(); ++k) c.send_raw(writes[k]);
  c.expect_failure({1007});
}

inline section utf8_cases() {
  section s{"6", "UTF-8 Handling", {}};
  s.cases.push_back({"6.1.1", "Send a text message of length 0.", "Echoed, with an empty payload.",
                     [](case_context& c) {
                       echo_case(c, {{op::text, ""}}, {text("")});
                     }});
  s.cases.push_back(
      {"6.1.2", "Send a text message in 3 fragments, each of length 0.",
       "Echoed, with an empty payload.", [](case_context& c) {
         echo_case(c, {{op::text, "", false}, {op::cont, "", false}, {op::cont, ""}}, {text("")});
       }});
  s.cases.push_back(
      {"6.1.3", "Send a text message in 3 fragments, the first and last empty.",
       "Echoed, with the middle fragment's payload.", [](case_context& c) {
         echo_case(
             c, {{op::text, "", false}, {op::cont, "middle frame payload", false}, {op::cont, ""}},
             {text("middle frame payload")});
       }});
  const std::string hello =
      "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";
  s.cases.push_back({"6.2.1", "Send a valid UTF-8 text message in one frame.", "Echoed.",
                     [hello](case_context& c) {
                       echo_case(c, {{op::text, hello}}, {text(hello)});
                     }});
  s.cases.push_back({"6.2.2",
                     "Send a valid UTF-8 text message in 2 fragments, cut between code points.",
                     "Echoed.", [hello](case_context& c) {
                       const std::string a = hello.substr(0, 15), b = hello.substr(15);
                       echo_case(c, {{op::text, a, false}, {op::cont, b}}, {text(hello)});
                     }});
  for (auto [id, payload] : {std::pair{"6.2.3", hello}, {"6.2.4", kosme}}) {
    s.cases.push_back({id,
                       "Send a valid UTF-8 text message in fragments of 1 octet, most cut inside a "
                       "code point.",
                       "Echoed.", [payload](case_context& c) {
                         std::vector<frame_spec> frames;
                         for (std::size_t k = 0; k < payload.size(); ++k)
                           frames.push_back({k == 0 ? op::text : op::cont,
                                             std::string_view(payload).substr(k, 1),
                                             k + 1 == payload.size()});
                         c.send_frames(frames);
                         if (c.expect({text(payload)})) c.close_normally();
                       }});
  }
  const std::string bad = kosme + from_hex("ed a0 80") + "edited";
  s.cases.push_back({"6.3.1", "Send an invalid UTF-8 text message in one frame (a surrogate).",
                     "Failed at once with 1007.", [bad](case_context& c) {
                       c.send({op::text, bad});
                       c.expect_failure({1007});
                     }});
  s.cases.push_back({"6.3.2", "Send an invalid UTF-8 text message in fragments of 1 octet.",
                     "Failed with 1007.", [bad](case_context& c) {
                       std::vector<frame_spec> frames;
                       for (std::size_t k = 0; k < bad.size(); ++k)
                         frames.push_back({k == 0 ? op::text : op::cont,
                                           std::string_view(bad).substr(k, 1),
                                           k + 1 == bad.size()});
                       c.send_frames(frames);
                       c.expect_failure({1007});
                     }});
  const std::string full_bad = from_hex("f4 90 80 80"), cut_bad = from_hex("f4 90");
  s.cases.push_back({"6.4.1",
                     "Send 3 fragments: valid UTF-8, then one with a code point above U+10FFFF, "
                     "then the rest, waiting for the close before the third.",
                     "Failed with 1007 right after the second fragment (fail fast).",
                     [full_bad](case_context& c) {
                       fail_fast_case(c, {kosme, full_bad, "edited"}, 1, true);
                     }});
  s.cases.push_back(
      {"6.4.2", "As 6.4.1, but the second fragment ends with the first invalid octet.",
       "Failed with 1007 right after the second fragment (fail fast).", [cut_bad](case_context& c) {
         fail_fast_case(c, {kosme, cut_bad, from_hex("80 80") + "edited"}, 1, true);
       }});
  s.cases.push_back({"6.4.3", "As 6.4.1, but the 3 parts are chops of a single frame.",
                     "Failed with 1007 right after the second chop, before the frame is whole.",
                     [full_bad](case_context& c) {
                       fail_fast_case(c, {kosme, full_bad, "edited"}, 1, false);
                     }});
  s.cases.push_back({"6.4.4", "As 6.4.2, but the 3 parts are chops of a single frame.",
                     "Failed with 1007 right after the second chop, before the frame is whole.",
                     [cut_bad](case_context& c) {
                       fail_fast_case(c, {kosme, cut_bad, from_hex("80 80") + "edited"}, 1, false);
                     }});
  s.cases.push_back(
      {"6.4.5",
       "(ours) Send the first fragment of a text message with an invalid byte (0xff) "
       "in it, then wait before sending the second.",
       "Failed with 1007 before the second fragment is sent.", [](case_context& c) {
         fail_fast_case(c, {"Hello" + from_hex("ff") + "world", "more text"}, 0, true);
       }});
  s.cases.push_back({"6.4.6",
                     "(ours) Send the first 16 bytes of a 64 KiB text frame, the 10th byte invalid "
                     "(0xc0), and wait before sending the rest.",
                     "Failed with 1007 before the rest of the frame is sent.", [](case_context& c) {
                       std::string head = "123456789" + from_hex("c0") + "abcdef";
                       fail_fast_case(c, {head, std::string(65536 - head.size(), 'x')}, 0, false);
                     }});
  s.cases.push_back(
      {"6.4.7",
       "(ours) Send a text message in 2 fragments, the last one ending inside a "
       "code point (\"κόσμ\" then the first byte of \"ε\").",
       "Failed with 1007: the message ends in the middle of a character.", [](case_context& c) {
         c.send({{op::text, kosme.substr(0, 9), false}, {op::cont, kosme.substr(9, 1)}});
         c.expect_failure({1007});
       }});
  int group_number = 5;
  for (const auto& g : utf8_groups()) {
    int k = 1;
    for (const auto& sample : g.samples) {
      const std::string id = "6." + std::to_string(group_number) + "." + std::to_string(k++);
      const std::string desc =
          g.title + ": send a text message, payload 0x" + hex(sample.bytes, 64) + ".";
      if (sample.valid) {
        s.cases.push_back({id, desc, "Echoed (valid UTF-8).", [b = sample.bytes](case_context& c) {
                             echo_case(c, {{op::text, b}}, {text(b)});
                           }});
      } else {
        s.cases.push_back({id, desc, "Failed at once with 1007 (invalid UTF-8).",
                           [b = sample.bytes](case_context& c) {
                             c.send({op::text, b});
                             c.expect_failure({1007});
                           }});
      }
    }
    ++group_number;
  }
  return s;
}

// ---- 7 Close Handling --------------------------------------------------------

inline section close_cases() {
  section s{"7", "Close Handling", {}};
  s.cases.push_back({"7.1.1", "Send a text message, then a close frame.",
                     "The message echoed, then a clean close with 1000.", [](case_context& c) {
                       c.send({op::text, "Hello World!"});
                       if (c.expect({text("Hello World!")})) c.close_normally();
                     }});
  s.cases.push_back({"7.1.2", "Send two close frames.",
                     "A clean close with 1000; the second close ignored.", [](case_context& c) {
                       c.send_close(close_payload(1000));
                       c.send_close(close_payload(1000));
                       c.expect_close_reply({1000});
                     }});
  s.cases.push_back({"7.1.3", "Send a ping after a close frame.",
                     "A clean close with 1000; no pong.", [](case_context& c) {
                       c.send_close(close_payload(1000));
                       c.send({op::ping, "Hello World!"});
                       c.expect_close_reply({1000});
                     }});
  s.cases.push_back({"7.1.4", "Send a text message after a close frame.",
                     "A clean close with 1000; the message ignored.", [](case_context& c) {
                       c.send_close(close_payload(1000));
                       c.send({op::text, "Hello World!"});
                       c.expect_close_reply({1000});
                     }});
  s.cases.push_back({"7.1.5", "Send a message fragment, a close frame, then the last fragment.",
                     "A clean close with 1000; no echo.", [](case_context& c) {
                       c.send({op::text, "fragment1", false});
                       c.send_close(close_payload(1000));
                       c.send({op::cont, "fragment2"});
                       c.expect_close_reply({1000});
                     }});
  s.cases.push_back(
      {"7.1.6", "Send a 256 KiB text message, a close frame and a ping, back to back.",
       "Left open by the RFC: the echo may come (whole) before the close, or not at all; no pong.",
       [](case_context& c) {
         std::string big;
         while (big.size() < 262144) big += "BAsd7&jh23";
         big.resize(262144);
         c.send_message(op::text, big);
         c.send_close(close_payload(1000));
         c.send({op::ping, "Hello World!"});
         event e = c.next();
         if (e.type == event::kind::message) {
           if (e.data != big) {
             c.result().fail("echo differs: " + difference(e.data, big));
             return;
           }
           c.result().note(outcome::informational, "echoed the message, then closed");
           c.expect_close_reply({1000});
         } else {
           c.result().note(outcome::informational, "closed without echoing the message");
           c.expect_close_reply({1000}, "our close frame", std::move(e));
         }
       },
       outcome::informational});
  s.cases.push_back({"7.3.1", "Send a close frame with an empty payload.",
                     "A clean close (empty close frame, or 1000).", [](case_context& c) {
                       c.send_close({});
                       c.expect_close_reply({std::nullopt, 1000});
                     }});
  s.cases.push_back({"7.3.2", "Send a close frame with a 1-byte payload.", "Failed with 1002.",
                     [](case_context& c) {
                       c.send({op::close, "a"});
                       c.expect_failure({1002});
                     }});
  s.cases.push_back({"7.3.3", "Send a close frame with code 1000 and no reason.",
                     "A clean close with 1000.", [](case_context& c) { c.close_normally(1000); }});
  s.cases.push_back({"7.3.4", "Send a close frame with code 1000 and a reason.",
                     "A clean close with 1000.",
                     [](case_context& c) { c.close_normally(1000, "Hello World!"); }});
  s.cases.push_back({"7.3.5",
                     "Send a close frame with code 1000 and a reason of 123 bytes (the most).",
                     "A clean close with 1000.",
                     [](case_context& c) { c.close_normally(1000, std::string(123, '*')); }});
  s.cases.push_back(
      {"7.3.6", "Send a close frame with code 1000 and a reason of 124 bytes (payload 126).",
       "Failed with 1002: control frames carry at most 125 bytes.", [](case_context& c) {
         c.send({op::close, close_payload(1000, std::string(124, '*'))});
         c.expect_failure({1002});
       }});
  s.cases.push_back(
      {"7.5.1", "Send a close frame whose reason isn't valid UTF-8.",
       "Failed with 1007 (1002 is tolerated: NON-STRICT).", [](case_context& c) {
         c.send({op::close, close_payload(1000, kosme + from_hex("ed a0 80") + "edited")});
         c.expect_failure({1007, 1002});
         if (c.close_code() == 1002)
           c.result().note(outcome::non_strict, "closed with 1002 rather than 1007");
       }});
  const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                 1010, 1011, 3000, 3999, 4000, 4999};
  int i = 1;
  for (auto code : valid) {
    s.cases.push_back({"7.7." + std::to_string(i++),
                       "Send a close frame with the valid code " + std::to_string(code) + ".",
                       "A clean close with the same code (or 1000).", [code](case_context& c) {
                         c.close_normally(code, {}, {code, 1000});
                       }});
  }
  for (std::uint16_t code : {1012, 1013, 1014}) {
    s.cases.push_back({"7.7." + std::to_string(i++),
                       "(ours) Send a close frame with code " + std::to_string(code) +
                           " (registered with IANA after RFC 6455).",
                       "A clean close with the same code (or 1000).", [code](case_context& c) {
                         c.close_normally(code, {}, {code, 1000});
                       }});
  }
  const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 1015};
  i = 1;
  for (auto code : invalid) {
    const bool ours = code == 1015;
    s.cases.push_back({"7.9." + std::to_string(i++),
                       std::string(ours ? "(ours) " : "") +
                           "Send a close frame with the invalid code " + std::to_string(code) + ".",
                       "Failed with 1002.", [code](case_context& c) {
                         c.send({op::close, close_payload(code)});
                         c.expect_failure({1002});
                       }});
  }
  i = 1;
  for (std::uint16_t code : {5000, 65535}) {
    s.cases.push_back({"7.13." + std::to_string(i++),
                       "Send a close frame with code " + std::to_string(code) +
                           " (above the ranges RFC 6455 defines).",
                       "Undefined by the RFC; expected here: failed with 1002 (anything else is "
                       "INFORMATIONAL).",
                       [code](case_context& c) {
                         c.send({op::close, close_payload(code)});
                         c.expect_failure({1002}, {}, waits::answer, true, outcome::informational);
                       }});
  }
  return s;
}

// ---- 9 Limits/Performance ----------------------------------------------------

inline std::string size_name(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " B";
}

inline section limit_cases() {
  section s{"9", "Limits/Performance", {}};
  const std::size_t big[] = {64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20};
  for (int kind = 1; kind <= 2; ++kind) {
    const bool t = kind == 1;
    int i = 1;
    for (std::size_t n : big) {
      s.cases.push_back({"9." + std::to_string(kind) + "." + std::to_string(i++),
                         std::string("Send a ") + (t ? "text" : "binary") + " message of " +
                             size_name(n) + " in one frame.",
                         "Echoed.", [n, t](case_context& c) {
                           const std::string payload(n, t ? '*' : '\xfe');
                           c.send_message(t ? op::text : op::binary, payload);
                           if (c.expect({t ? text(payload) : binary(payload)})) c.close_normally();
                         }});
    }
  }
  const std::size_t fragments[] = {64,       256,       1 << 10, 4 << 10, 16 << 10,
                                   64 << 10, 256 << 10, 1 << 20, 4 << 20};
  for (int kind = 3; kind <= 4; ++kind) {
    const bool t = kind == 3;
    int i = 1;
    for (std::size_t f : fragments) {
      s.cases.push_back({"9." + std::to_string(kind) + "." + std::to_string(i++),
                         std::string("Send a ") + (t ? "text" : "binary") +
                             " message of 4 MiB in fragments of " + size_name(f) + ".",
                         "Echoed.", [f, t](case_context& c) {
                           const std::string payload(4 << 20, t ? '*' : '\xfe');
                           c.send_message(t ? op::text : op::binary, payload, f);
                           if (c.expect({t ? text(payload) : binary(payload)})) c.close_normally();
                         }});
    }
  }
  for (int kind = 5; kind <= 6; ++kind) {
    const bool t = kind == 5;
    int i = 1;
    for (std::size_t chop : {64, 128, 256, 512, 1024, 2048}) {
      s.cases.push_back({"9." + std::to_string(kind) + "." + std::to_string(i++),
                         std::string("Send a ") + (t ? "text" : "binary") +
                             " message of 1 MiB, written in chops of " + std::to_string(chop) +
                             " bytes.",
                         "Echoed.", [chop, t](case_context& c) {
                           const std::string payload(1 << 20, t ? '*' : '\xfe');
                           c.send_message(t ? op::text : op::binary, payload, 0, chop);
                           if (c.expect({t ? text(payload) : binary(payload)})) c.close_normally();
                         }});
    }
  }
  for (int kind = 7; kind <= 8; ++kind) {
    const bool t = kind == 7;
    int i = 1;
    for (std::size_t n : {0, 16, 64, 256, 1024, 4096}) {
      s.cases.push_back(
          {"9." + std::to_string(kind) + "." + std::to_string(i++),
           std::string("Send 1000 ") + (t ? "text" : "binary") + " messages of " +
               std::to_string(n) + " bytes, each after the echo of the one before.",
           "All echoed, in order.", [n, t](case_context& c) {
             const std::string payload(n, t ? '*' : '\xfe');
             const auto start = clock::now();
             for (int k = 0; k < 1000; ++k) {
               c.send_message(t ? op::text : op::binary, payload);
               if (!c.expect({t ? text(payload) : binary(payload)})) return;
             }
             const auto us =
                 std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start)
                     .count();
             c.result().note(outcome::ok, "mean round trip " + std::to_string(us / 1000) + " us");
             c.close_normally();
           }});
    }
  }
  // Ours: the 64 MiB max_size both peers run with, and lengths beyond it.
  // A constant: the lambdas use it without capturing it (clang warns on a capture).
  const std::uint64_t limit = std::uint64_t{64} << 20;
  s.cases.push_back(
      {"9.10.1",
       "(ours) Send the header of a text frame declaring 64 MiB + 1 byte (over max_size) and 1 KiB "
       "of its payload.",
       "Failed with 1009 before the rest of the payload is sent.", [](case_context& c) {
         c.send_raw(make_header(op::text, limit + 1, c.self()) + std::string(1024, 'a'));
         if (c.expect_failure({1009}, {}, waits::fail_fast, false)) return;
         c.result().note(outcome::non_strict, "no close before the rest of the payload was sent");
         c.send_raw(std::string(limit + 1 - 1024, 'a'));
         c.expect_failure({1009});
       }});
  s.cases.push_back(
      {"9.10.2",
       "(ours) Send a binary message in 2 fragments: 48 MiB, then the header of a 16 MiB + 1 byte "
       "fragment (64 MiB + 1 in all).",
       "Failed with 1009 before the second fragment's payload is sent.", [](case_context& c) {
         const std::size_t first = std::size_t{48} << 20;
         std::string wire = make_header(op::binary, first, c.self(), false);
         wire.append(first, '\x5a');
         wire += make_header(op::cont, limit + 1 - first, c.self());
         c.send_raw(wire);
         if (c.expect_failure({1009}, {}, waits::fail_fast, false)) return;
         c.result().note(outcome::non_strict,
                         "no close before the second fragment's payload was sent");
         c.send_raw(std::string(limit + 1 - first, '\x5a'));
         c.expect_failure({1009});
       }});
  s.cases.push_back({"9.10.3", "(ours) Send the header of a binary frame declaring 2^63 - 1 bytes.",
                     "Failed with 1009.", [](case_context& c) {
                       c.send_raw(make_header(op::binary, (std::uint64_t{1} << 63) - 1, c.self()));
                       c.expect_failure({1009});
                     }});
  s.cases.push_back({"9.10.4",
                     "(ours) Send the header of a binary frame whose 64-bit length has its most "
                     "significant bit set.",
                     "Failed with 1002 (RFC 6455 5.2: that bit must be 0); 1009 is tolerated.",
                     [](case_context& c) {
                       c.send_raw(make_header(op::binary, std::uint64_t{1} << 63, c.self()));
                       c.expect_failure({1002, 1009});
                       if (c.close_code() == 1009)
                         c.result().note(outcome::non_strict, "closed with 1009 rather than 1002");
                     }});
  return s;
}

// ---- 10 Misc -----------------------------------------------------------------

inline section misc_cases() {
  section s{"10", "Misc", {}};
  s.cases.push_back({"10.1.1",
                     "Send a text message of 65536 bytes in frames of 1300 bytes (Autobahn checks "
                     "the peer's own auto-fragmentation here, which an echo peer needn't have).",
                     "Echoed whole.", [](case_context& c) {
                       const std::string payload(65536, '*');
                       c.send_message(op::text, payload, 1300);
                       if (c.expect({text(payload)})) c.close_normally();
                     }});
  return s;
}

}  // namespace websockets::conformance
