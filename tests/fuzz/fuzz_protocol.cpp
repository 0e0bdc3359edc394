// Fuzzing of the connection state machine (include/websockets/protocol.hpp),
// built four times: as a server or a client (FUZZ_SERVER 1 or 0), without
// or with permessage-deflate negotiated (FUZZ_DEFLATE 0 or 1).
//
// Input:
//   byte 0       bits 0-1 pick max_size: 64 KiB, 4 KiB, 256 or 16 bytes
//   (deflate)    3 bytes of client options, 3 of server options
//                (deflate_config.hpp), negotiated through the factories
//   2 bytes      S, little-endian
//   S bytes      a script of operations, below
//   the rest     the bytes the peer sends
//
// The script interleaves deliveries of the peer's bytes (in pieces of the
// sizes it says, by receive_data() or prepare()/commit()) with every other
// call the I/O layer makes: next_event(), send_data(), send_ping(),
// send_pong(), send_close(), take_output(), receive_eof(), fail(),
// transport_closed(), and the receive buffer's release and return. Each
// operation is one byte, its low 3 bits the operation and the high 5 its
// flags, followed by argument bytes.
//
// Checked all along:
// - events: exactly those of fuzz::reference_receiver, in order; none
//   after a failure, a close frame or the end of the connection; messages
//   within max_size; text messages valid UTF-8; when the connection fails,
//   the reference fails at the same point with the same close code;
// - the output, parsed independently: frames masked as the role wants,
//   lengths in their shortest form, RSV1 only on the first frame of a
//   compressed message, control frames whole and short, data frames in
//   sequence, nothing after a close frame; and frame by frame exactly what
//   was asked for: the data sent (decompressed by the peer's end of the
//   negotiation), a pong for each ping while open, the close frame echoed
//   or sent on failure;
// - every call throws what its contract says and nothing else: invalid_state
//   once a close frame was sent or the connection is closed, protocol_error
//   for frames out of sequence or a close code that can't be sent,
//   std::invalid_argument for payloads that can't be sent;
// - state(), close_rcvd(), close_sent(), close_rcvd_then_sent(), failure(),
//   should_close_transport(), bytes_queued() and closed_exception() agree
//   with what happened.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/protocol.hpp"
#include "wire.hpp"

#if FUZZ_DEFLATE
#include "deflate_config.hpp"
#include "websockets/extensions/permessage_deflate.hpp"
#endif

#if !defined(FUZZ_SERVER) || !defined(FUZZ_DEFLATE)
#error "define FUZZ_SERVER and FUZZ_DEFLATE to 0 or 1"
#endif

namespace {

namespace ws = websockets;
using kind = ws::event::kind;

constexpr ws::role our_role = FUZZ_SERVER ? ws::role::server : ws::role::client;
constexpr bool is_server = FUZZ_SERVER != 0;

constexpr std::size_t max_sizes[4] = {64 * 1024, 4096, 256, 16};

// Bytes of data messages one run may send: enough for every length
// encoding (one message of 64-bit length, up to 70000 bytes, and more),
// small enough to keep runs fast: sending costs some 20 ns a byte here,
// and 128 KiB made a run of a few bytes of input take 2.5 ms.
constexpr std::size_t send_budget = 72 * 1024;

// A frame the output must hold next.
struct expected_frame {
  ws::opcode op;
  bool fin;
  std::string payload;  // for data frames, before compression
};

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p += reason;
  return p;
}

const char* kind_name(kind k) {
  switch (k) {
    case kind::message:
      return "message";
    case kind::ping:
      return "ping";
    case kind::pong:
      return "pong";
    case kind::close:
      return "close";
  }
  return "?";
}

// One connection: the protocol under test, the reference it is compared
// with, the peer's decoder for what it sends, and the model of what the
// output must hold next.
class harness {
 public:
  harness(std::size_t max_size, std::vector<std::unique_ptr<ws::extension>> ours,
          std::unique_ptr<ws::extension> reference_decoder,
          std::unique_ptr<ws::extension> peer_decoder, std::string_view wire)
      : max_size_(max_size),
        with_extension_(!ours.empty()),
        proto_(our_role, max_size, std::move(ours)),
        ref_(is_server, max_size, std::move(reference_decoder)),
        peer_decoder_(std::move(peer_decoder)),
        wire_(wire) {
    // The model expects a pong for every ping while open; the protocol
    // holds pongs back past its auto-reply limit (a peer that pings and
    // doesn't read), which test_protocol covers. Out of reach here.
    proto_.limit_auto_replies(std::numeric_limits<std::size_t>::max());
  }

  // Once the connection is closed every call does the same thing: a few
  // are checked, not the thousands a long script has left.
  void run(fuzz::reader& script) {
    std::size_t steps_closed = 0;
    while (!script.empty() && steps_closed < 16) {
      step(script);
      if (proto_.state() == ws::connection_state::closed) ++steps_closed;
    }
    finish();
  }

 private:
  // ---- The script ------------------------------------------------------

  void step(fuzz::reader& s) {
    const std::uint8_t op = s.byte();
    const unsigned flags = op >> 3;
    FUZZ_TRACE("op %u flags %u, state %d, %zu buffered", op & 7u, flags,
               static_cast<int>(proto_.state()), proto_.buffered());
    switch (op & 7) {
      case 0:
        deliver(s.byte(), flags & 1);
        break;
      case 1:
        if (flags & 1) {
          while (next()) {
          }
        } else {
          next();
        }
        break;
      case 2:
        send_data(flags, s.byte(), s.byte());
        break;
      case 3:
        send_control(flags & 1 ? ws::opcode::pong : ws::opcode::ping, s.byte(), s.byte());
        break;
      case 4:
        send_close(s.byte(), s.byte());
        break;
      case 5:
        take(flags & 1);
        break;
      case 6:
        if (!eof_) {
          eof_ = true;
          proto_.receive_eof();
        }
        break;
      case 7:
        misc(flags, s.byte());
        break;
    }
    check_state();
  }

  // Hands the next bytes of the wire to the protocol, and to the reference
  // while the two are compared.
  void deliver(std::uint8_t size_code, bool use_prepare) {
    if (eof_ || closed_by_us_) return;  // the I/O layer reads nothing after the end
    std::size_t n = size_code == 255  ? wire_.size() - wire_pos_
                    : size_code < 128 ? size_code
                                      : std::size_t{size_code - 127u} * 64;
    n = std::min(n, wire_.size() - wire_pos_);
    const std::string_view bytes = wire_.substr(wire_pos_, n);
    wire_pos_ += n;
    if (use_prepare) {
      const std::size_t want = n + size_code % 7;
      auto area = proto_.prepare(want);
      FUZZ_CHECK(area.size() >= want, "prepare(" + std::to_string(want) + ") gave " +
                                          std::to_string(area.size()) + " bytes");
      if (n) std::memcpy(area.data(), bytes.data(), n);
      proto_.commit(n);
    } else {
      proto_.receive_data(bytes);
    }
    if (!aborted_) ref_.receive(bytes);
    FUZZ_TRACE("  delivered %zu bytes%s", n, use_prepare ? " with prepare()" : "");
  }

  // One next_event() call, checked; returns whether it gave an event.
  bool next() {
    // Once it has called transport_closed(), the I/O layer asks for no more
    // events (the protocol would parse what is left in its buffer: see
    // tests/test_fuzz_regressions.cpp).
    if (closed_by_us_) return false;
    const bool was_open = proto_.state() == ws::connection_state::open;
    const bool was_closed = proto_.state() == ws::connection_state::closed;
    const bool had_sent_close = proto_.close_sent().has_value();
    const bool had_failed = !proto_.failure().empty();
    ws::event ev;
    bool got = false;
    try {
      got = proto_.next_event(ev);
    } catch (const std::exception& e) {
      fuzz::unexpected(__FILE__, __LINE__, e);
    }
    FUZZ_TRACE("  next_event: %s%s %zu bytes%s", got ? "" : "none", got ? kind_name(ev.type) : "",
               got ? ev.data.size() : 0, proto_.failure().empty() ? "" : ", failed");
    if (got) {
      const auto what = [&] {
        return std::string("a ") + kind_name(ev.type) + " event of " +
               std::to_string(ev.data.size()) + " bytes";
      };
      FUZZ_CHECK(!had_failed, what() + " after the connection failed");
      FUZZ_CHECK(!close_event_, what() + " after a close frame");
      FUZZ_CHECK(!was_closed, what() + " once the connection is closed");
      FUZZ_CHECK(proto_.failure().empty(), what() + " from a call that failed the connection");
      on_event(ev, was_open, had_sent_close);
    }
    if (!had_failed && !proto_.failure().empty()) on_failure(was_open, had_sent_close);
    return got;
  }

  void on_event(const ws::event& ev, bool was_open, bool had_sent_close) {
    if (ev.type == kind::message) {
      FUZZ_CHECK(ev.op == ws::opcode::text || ev.op == ws::opcode::binary,
                 "message opcode " + std::to_string(static_cast<int>(ev.op)));
      FUZZ_CHECK(ev.data.size() <= max_size_, "a message of " + std::to_string(ev.data.size()) +
                                                  " bytes, max_size " + std::to_string(max_size_));
      if (ev.op == ws::opcode::text)
        FUZZ_CHECK(fuzz::reference_utf8(ev.data).valid(), "text message " + fuzz::quote(ev.data));
    } else {
      FUZZ_CHECK(ev.data.size() <= 125, "control payload of " + std::to_string(ev.data.size()));
    }
    if (!aborted_) {
      const auto& expected = ref_.events();
      FUZZ_CHECK(events_ < expected.size(),
                 std::string("a ") + kind_name(ev.type) + " event (" + fuzz::quote(ev.data) +
                     ") the reference doesn't see; it has " + std::to_string(expected.size()) +
                     " events" +
                     (ref_.failure() ? ", and failed with " + std::to_string(*ref_.failure())
                                     : std::string()));
      const auto& r = expected[events_];
      FUZZ_CHECK(
          ev.type == r.type && ev.data == r.data && (ev.type != kind::message || ev.op == r.op),
          "event " + std::to_string(events_) + ": got a " + kind_name(ev.type) + " " +
              fuzz::quote(ev.data) + ", the reference a " + kind_name(r.type) + " " +
              fuzz::quote(r.data));
      if (ev.type == kind::close)
        FUZZ_CHECK(proto_.close_rcvd() && proto_.close_rcvd()->code == r.code,
                   "close code " + std::to_string(proto_.close_code()) + ", the reference " +
                       std::to_string(r.code));
    }
    ++events_;
    switch (ev.type) {
      case kind::ping:
        // The pong is queued by the protocol itself while the connection is open.
        if (was_open && !had_sent_close) expect(ws::opcode::pong, true, ev.data);
        break;
      case kind::close: {
        close_event_ = true;
        FUZZ_CHECK(proto_.close_rcvd() && proto_.close_rcvd()->reason == ev.data,
                   "close_rcvd() disagrees with the close event");
        FUZZ_CHECK(proto_.state() != ws::connection_state::open, "open after a close frame");
        const auto code = proto_.close_rcvd()->code;
        if (!had_sent_close) {
          // Echoed, code and reason alike (no payload for 1005).
          expect(ws::opcode::close, true,
                 code == 1005 ? std::string() : close_payload(code, ev.data));
          rcvd_then_sent_ = true;
        }
        break;
      }
      default:
        break;
    }
  }

  // The call that just returned failed the connection.
  void on_failure(bool was_open, bool had_sent_close) {
    lib_failed_ = true;
    if (!closed_by_us_)
      FUZZ_CHECK(proto_.close_sent().has_value(),
                 "failed without a close frame: " + proto_.failure());
    if (was_open && !had_sent_close) {
      const auto& sent = *proto_.close_sent();
      FUZZ_CHECK(sent.code == 1002 || sent.code == 1007 || sent.code == 1009,
                 "failed with close code " + std::to_string(sent.code) + ": " + proto_.failure());
      lib_code_ = sent.code;
      expect(ws::opcode::close, true, close_payload(sent.code, sent.reason));
    }
    if (aborted_) return;
    const auto ref_code = ref_.failure();
    FUZZ_CHECK(ref_code.has_value(), "failed (" + proto_.failure() +
                                         ") where the reference doesn't, after " +
                                         std::to_string(events_) + " events");
    FUZZ_CHECK(ref_.events().size() == events_,
               "failed (" + proto_.failure() + ") after " + std::to_string(events_) +
                   " events; the reference fails after " + std::to_string(ref_.events().size()));
    if (lib_code_)
      FUZZ_CHECK(*lib_code_ == *ref_code, "failed with " + std::to_string(*lib_code_) + " (" +
                                              proto_.failure() + "), the reference with " +
                                              std::to_string(*ref_code));
  }

  // Whether sending is refused at this point: invalid_state is due.
  bool send_refused() const {
    return proto_.state() == ws::connection_state::closed || proto_.close_sent().has_value();
  }

  // Why a call is due to throw: refused in this state, out of sequence, or
  // an argument that can't be sent.
  enum refusal { refused_state, refused_sequence, refused_argument, refusal_kinds };

  // Whether to skip a call that is due to throw for `why`: the first 8 of
  // each kind in a run are made and checked; more would each cost an
  // exception (microseconds under ASan) to check the same thing again.
  bool skip_refused(bool due, refusal why) { return due && ++refusals_[why] > 8; }

  // The payload of a message to send: pattern, size and content from the
  // script, some of it the wire's bytes, some text, some random.
  FUZZ_NO_COVERAGE std::string make_payload(std::size_t size, std::uint8_t seed) const {
    std::string p(size, '\0');
    switch (seed >> 6) {
      case 0:
        std::fill(p.begin(), p.end(), static_cast<char>('a' + seed % 26));
        break;
      case 1: {
        std::uint32_t x = seed * 2654435761u + 1;
        for (char& c : p) {
          x = x * 1103515245u + 12345u;
          c = static_cast<char>(x >> 23);
        }
        break;
      }
      case 2: {
        static constexpr std::string_view text = "h\xc3\xa9llo w\xe2\x82\xacrld \xf0\x9f\x98\x80 ";
        cycle(p, text, seed);
        break;
      }
      case 3:
        if (!wire_.empty()) cycle(p, wire_, seed);
        break;
    }
    return p;
  }

  // Fills `p` with `from` repeated, starting at from[seed % size], by
  // whole copies: a division per byte cost more than the rest of a big send.
  static void cycle(std::string& p, std::string_view from, std::size_t seed) {
    const std::size_t size = p.size();
    p.clear();
    std::string_view next = from.substr(seed % from.size());
    while (p.size() < size) {
      p.append(next.substr(0, size - p.size()));
      next = from;
    }
  }

  static std::size_t send_size(std::uint8_t code) {
    static constexpr std::size_t sizes[16] = {125,   126,   127,   1000,  1023,  1024,  4095,  4096,
                                              16383, 16384, 20000, 65535, 65536, 65537, 70000, 200};
    return code < 192 ? code : sizes[code % 16];
  }

  void send_data(unsigned flags, std::uint8_t size_code, std::uint8_t seed) {
    static constexpr ws::opcode ops[4] = {ws::opcode::cont, ws::opcode::text, ws::opcode::binary,
                                          ws::opcode::text};
    const ws::opcode op = ops[flags & 3];
    const bool fin = flags & 4, compress = flags & 8, borrow = flags & 16;
    const std::size_t size = send_size(size_code);
    const bool refused = send_refused();
    const bool out_of_sequence = (op == ws::opcode::cont) != sending_fragmented_;
    if (sent_ + size > send_budget || skip_refused(refused, refused_state) ||
        skip_refused(!refused && out_of_sequence, refused_sequence))
      return;
    sent_ += size;
    alive_.push_back(make_payload(size, seed));
    const std::string& payload = alive_.back();

    const auto where = [&] {
      return "send_data(" + std::to_string(static_cast<int>(op)) + ", " + std::to_string(size) +
             " bytes, fin " + std::to_string(fin) + ")";
    };
    bool borrowed = false;
    try {
      borrowed = proto_.send_data(op, payload, fin, compress, borrow);
    } catch (const ws::invalid_state&) {
      FUZZ_CHECK(refused, where() + " threw invalid_state");
      return;
    } catch (const ws::protocol_error&) {
      FUZZ_CHECK(!refused && out_of_sequence, where() + " threw protocol_error");
      return;
    } catch (const std::exception& e) {
      fuzz::unexpected(__FILE__, __LINE__, e);
    }
    FUZZ_CHECK(!refused && !out_of_sequence, where() + " succeeded");
    FUZZ_CHECK(!borrowed || (borrow && is_server), where() + " borrowed");
    sending_fragmented_ = !fin;
    expect(op, fin, payload);
  }

  void send_control(ws::opcode op, std::uint8_t size_code, std::uint8_t seed) {
    const std::size_t size = size_code % 131;
    const bool refused = send_refused();
    if (skip_refused(refused, refused_state) ||
        skip_refused(!refused && size > 125, refused_argument))
      return;
    const std::string payload = make_payload(size, seed);
    const auto where = [&] {
      return std::string(op == ws::opcode::ping ? "send_ping" : "send_pong") + " of " +
             std::to_string(size) + " bytes";
    };
    try {
      if (op == ws::opcode::ping) {
        proto_.send_ping(payload);
      } else {
        proto_.send_pong(payload);
      }
    } catch (const ws::invalid_state&) {
      FUZZ_CHECK(refused, where() + " threw invalid_state");
      return;
    } catch (const std::invalid_argument&) {
      FUZZ_CHECK(!refused && size > 125, where() + " threw invalid_argument");
      return;
    } catch (const std::exception& e) {
      fuzz::unexpected(__FILE__, __LINE__, e);
    }
    FUZZ_CHECK(!refused && size <= 125, where() + " succeeded");
    expect(op, true, payload);
  }

  static constexpr std::uint16_t close_codes[20] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                                    1010, 1011, 1014, 3000, 4999, 1005, 999,
                                                    1004, 1006, 1015, 5000, 0,    2999};

  // A close reason of `arg % 128` bytes, with a byte that isn't UTF-8 when
  // the high bit is set.
  FUZZ_NO_COVERAGE static std::string make_reason(std::uint8_t arg) {
    std::string r;
    const std::size_t size = arg % 128;
    r.reserve(size);
    static constexpr std::string_view text = "bye \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ";
    for (std::size_t i = 0; i < size; ++i) r += text[i % text.size()];
    if ((arg & 0x80) && size) r[size / 2] = '\xff';
    return r;
  }

  void send_close(std::uint8_t code_choice, std::uint8_t reason_arg) {
    const std::uint16_t code = close_codes[code_choice % 20];
    const bool refused = send_refused();
    if (skip_refused(refused, refused_state)) return;
    const std::string reason = make_reason(reason_arg);
    const bool had_rcvd = proto_.close_rcvd().has_value();
    const auto where = [&] {
      return "send_close(" + std::to_string(code) + ", " + fuzz::quote(reason) + ")";
    };
    const bool code_ok = fuzz::is_valid_close_code(code);
    const bool reason_ok = reason.size() <= 123 && fuzz::reference_utf8(reason).valid();
    if (skip_refused(!refused && code != 1005 && !(code_ok && reason_ok), refused_argument)) return;
    try {
      proto_.send_close(code, reason);
    } catch (const ws::invalid_state&) {
      FUZZ_CHECK(refused, where() + " threw invalid_state");
      return;
    } catch (const ws::protocol_error&) {
      FUZZ_CHECK(!refused && code != 1005 && !code_ok, where() + " threw protocol_error");
      return;
    } catch (const std::invalid_argument&) {
      FUZZ_CHECK(!refused && code != 1005 && code_ok && !reason_ok,
                 where() + " threw invalid_argument");
      return;
    } catch (const std::exception& e) {
      fuzz::unexpected(__FILE__, __LINE__, e);
    }
    FUZZ_CHECK(!refused && (code == 1005 || (code_ok && reason_ok)), where() + " succeeded");
    FUZZ_CHECK(proto_.close_sent() && proto_.close_sent()->code == code, where());
    if (had_rcvd) rcvd_then_sent_ = true;
    expect(ws::opcode::close, true, code == 1005 ? std::string() : close_payload(code, reason));
  }

  void misc(unsigned flags, std::uint8_t arg) {
    switch (flags & 3) {
      case 0: {
        // What the I/O layer does on a timeout or a handler's error.
        static constexpr std::uint16_t codes[5] = {1006, 1011, 1001, 1000, 1008};
        const std::uint16_t code = codes[arg % 5];
        // Up to 200 bytes, cut short by the protocol without splitting a
        // code point.
        std::string reason;
        for (std::size_t i = 0; i < std::size_t{arg} * 200 / 255; ++i)
          reason += (i + arg) % 3 ? "\xc3\xa9" : "x";
        const bool was_open = proto_.state() == ws::connection_state::open;
        const bool had_sent_close = proto_.close_sent().has_value();
        try {
          proto_.fail(code, reason);
        } catch (const std::exception& e) {
          fuzz::unexpected(__FILE__, __LINE__, e);
        }
        FUZZ_CHECK(!proto_.failure().empty(), "failure() empty after fail()");
        if (was_open && !had_sent_close && code != 1006) {
          FUZZ_CHECK(proto_.close_sent() && proto_.close_sent()->code == code,
                     "fail(" + std::to_string(code) + ") sent no such close frame");
          expect(ws::opcode::close, true, close_payload(code, proto_.close_sent()->reason));
        }
        lib_failed_ = true;
        aborted_ = true;
        break;
      }
      case 1:
        proto_.transport_closed();
        closed_by_us_ = true;
        aborted_ = true;
        break;
      case 2: {
        const bool had_bytes = proto_.buffered() != 0;
        const bool released = proto_.release_receive_buffer(spare_);
        FUZZ_CHECK(!(released && had_bytes), "released a buffer that holds bytes");
        break;
      }
      case 3:
        proto_.provide_receive_buffer(std::move(spare_));
        spare_.clear();
        break;
    }
  }

  // ---- Output ----------------------------------------------------------

  void expect(ws::opcode op, bool fin, std::string payload) {
    expected_.push_back({op, fin, std::move(payload)});
  }

  void take(bool record) {
    batch_.clear();
    proto_.take_output(batch_);
    FUZZ_CHECK(!proto_.has_output(), "output left after take_output()");
    std::string bytes;
    for (const auto& piece : batch_.pieces())
      bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    FUZZ_CHECK(bytes.size() == batch_.size(), "output_batch::size() is off");
    taken_ += bytes.size();
    FUZZ_CHECK(proto_.bytes_queued() == taken_, "bytes_queued() " +
                                                    std::to_string(proto_.bytes_queued()) +
                                                    ", bytes taken " + std::to_string(taken_));
    if (record) {
      proto_.record_sent(bytes.size());
      recorded_ += bytes.size();
    }
    FUZZ_CHECK(proto_.bytes_sent() == recorded_, "bytes_sent() is off");
    check_output(bytes);
    batch_.clear();
    alive_.clear();  // borrowed payloads are written: they may go
  }

  // Parses the output and matches each frame with the next one expected.
  void check_output(std::string_view bytes) {
    out_.append(bytes);
    for (;;) {
      const std::string_view avail = std::string_view(out_).substr(out_pos_);
      fuzz::wire_header h;
      if (!fuzz::read_header(avail, h) || h.length > avail.size() - h.size) break;
      const std::size_t n = static_cast<std::size_t>(h.length);
      std::string payload = fuzz::unmask(h, avail.substr(h.size, n));
      out_pos_ += h.size + n;
      check_frame(h, std::move(payload));
    }
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
    }
  }

  void check_frame(const fuzz::wire_header& h, std::string payload) {
    const auto where = [&] {
      return "output frame " + std::to_string(frames_out_) + " (opcode " +
             std::to_string(h.opcode) + ", fin " + std::to_string(h.fin) + ", " +
             std::to_string(h.length) + " bytes)";
    };
    ++frames_out_;
    FUZZ_CHECK(!out_closed_, where() + " after a close frame");
    FUZZ_CHECK(h.masked == !is_server, where() + ": wrong masking");
    FUZZ_CHECK(h.minimal, where() + ": length not in its shortest form");
    FUZZ_CHECK(!h.rsv2 && !h.rsv3, where() + ": RSV2 or RSV3");
    if (h.opcode >= 8) {
      FUZZ_CHECK(h.opcode <= 10 && h.fin && h.length <= 125 && !h.rsv1, where());
      if (h.opcode == 8) {
        out_closed_ = true;
        FUZZ_CHECK(payload.size() != 1, where());
        if (payload.size() >= 2) {
          const unsigned code =
              static_cast<unsigned char>(payload[0]) << 8 | static_cast<unsigned char>(payload[1]);
          FUZZ_CHECK(fuzz::is_valid_close_code(code), where() + ": code " + std::to_string(code));
          FUZZ_CHECK(fuzz::reference_utf8(std::string_view(payload).substr(2)).valid(),
                     where() + ": reason " + fuzz::quote(payload));
        }
      }
    } else {
      FUZZ_CHECK(h.opcode <= 2, where() + ": reserved opcode");
      FUZZ_CHECK((h.opcode == 0) == out_in_message_, where() + ": out of sequence");
      FUZZ_CHECK(!h.rsv1 || (with_extension_ && h.opcode != 0), where() + ": RSV1");
      out_in_message_ = !h.fin;
      if (peer_decoder_) {
        ws::frame f;
        f.fin = h.fin;
        f.rsv1 = h.rsv1;
        f.op = static_cast<ws::opcode>(h.opcode);
        f.data = std::move(payload);
        try {
          peer_decoder_->decode(f, std::nullopt);
        } catch (const ws::websocket_exception& e) {
          fuzz::fail(__FILE__, __LINE__,
                     where() + ": the peer's end can't decompress it: " + e.what());
        }
        payload = std::move(f.data);
      }
    }
    FUZZ_CHECK(!expected_.empty(), where() + ": not asked for");
    const auto& e = expected_.front();
    FUZZ_CHECK(static_cast<unsigned>(e.op) == h.opcode && e.fin == h.fin && e.payload == payload,
               where() + " " + fuzz::quote(payload) + ": expected opcode " +
                   std::to_string(static_cast<int>(e.op)) + ", fin " + std::to_string(e.fin) +
                   ", " + fuzz::quote(e.payload));
    expected_.pop_front();
  }

  // ---- State -----------------------------------------------------------

  void check_state() {
    const bool open = !proto_.close_sent() && !proto_.close_rcvd() && proto_.failure().empty() &&
                      proto_.state() != ws::connection_state::closed;
    FUZZ_CHECK((proto_.state() == ws::connection_state::open) == open,
               "state() is " + std::to_string(static_cast<int>(proto_.state())));
    if (closed_by_us_)
      FUZZ_CHECK(proto_.state() == ws::connection_state::closed, "open after transport_closed()");
    FUZZ_CHECK(proto_.close_rcvd().has_value() == close_event_,
               "close_rcvd() without a close event, or the reverse");
    FUZZ_CHECK(proto_.close_rcvd_then_sent() == rcvd_then_sent_, "close_rcvd_then_sent() is off");
    FUZZ_CHECK(proto_.failure().empty() == !lib_failed_, "failure() is off");
    const bool due = is_server && (lib_failed_ || close_event_) && !proto_.has_output();
    FUZZ_CHECK(proto_.should_close_transport() == due, "should_close_transport() is off");
  }

  // The end of the input: the peer closes TCP, every event is read, every
  // byte written; then the run must match the reference all through.
  void finish() {
    FUZZ_TRACE("finish");
    if (!eof_) {
      eof_ = true;
      proto_.receive_eof();
    }
    while (next()) {
    }
    check_state();
    FUZZ_CHECK(proto_.state() == ws::connection_state::closed, "not closed after the end");
    take(true);
    FUZZ_CHECK(out_.empty(), "the output ends inside a frame");
    FUZZ_CHECK(expected_.empty(), std::to_string(expected_.size()) +
                                      " frames never sent, the first with opcode " +
                                      std::to_string(static_cast<int>(expected_.front().op)));
    if (!aborted_) {
      const auto ref_code = ref_.failure();
      FUZZ_CHECK(events_ == ref_.events().size(), std::to_string(events_) +
                                                      " events, the reference has " +
                                                      std::to_string(ref_.events().size()));
      FUZZ_CHECK(lib_failed_ == ref_code.has_value(),
                 std::string(lib_failed_ ? "failed (" + proto_.failure() + ")" : "didn't fail") +
                     ", the reference " +
                     (ref_code ? "failed with " + std::to_string(*ref_code) : "didn't"));
    }
    // The exception operations get from now on.
    const bool ok = proto_.close_rcvd() && proto_.close_sent() && proto_.failure().empty() &&
                    (proto_.close_rcvd()->code == 1000 || proto_.close_rcvd()->code == 1001);
    try {
      std::rethrow_exception(proto_.closed_exception());
    } catch (const ws::connection_closed_ok& e) {
      FUZZ_CHECK(ok, std::string("connection_closed_ok: ") + e.what());
    } catch (const ws::connection_closed_error& e) {
      FUZZ_CHECK(!ok, std::string("connection_closed_error: ") + e.what());
      FUZZ_CHECK(e.code() == proto_.close_code(), e.what());
    }
  }

  const std::size_t max_size_;
  const bool with_extension_;
  ws::protocol proto_;
  fuzz::reference_receiver ref_;
  std::unique_ptr<ws::extension> peer_decoder_;
  std::string_view wire_;
  std::size_t wire_pos_ = 0;

  // Receiving.
  std::size_t events_ = 0;
  bool close_event_ = false;
  bool lib_failed_ = false;
  std::optional<std::uint16_t> lib_code_;  // the code it failed with, when it sent it
  bool eof_ = false;
  bool closed_by_us_ = false;
  // After fail() or transport_closed() the protocol stops where it is,
  // ahead of or behind the reference: comparisons stop.
  bool aborted_ = false;
  bool rcvd_then_sent_ = false;
  std::vector<std::byte> spare_;

  // Sending.
  bool sending_fragmented_ = false;
  std::size_t refusals_[refusal_kinds] = {};  // calls made that were due to throw
  std::size_t sent_ = 0;
  std::deque<std::string> alive_;  // payloads until written
  std::deque<expected_frame> expected_;
  ws::output_batch batch_;
  std::uint64_t taken_ = 0, recorded_ = 0;
  std::string out_;
  std::size_t out_pos_ = 0;
  std::size_t frames_out_ = 0;
  bool out_closed_ = false;
  bool out_in_message_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  const std::size_t max_size = max_sizes[in.byte() & 3];
  std::vector<std::unique_ptr<ws::extension>> ours;
  std::unique_ptr<ws::extension> reference_decoder, peer_decoder;
#if FUZZ_DEFLATE
  const auto client_options = fuzz::read_client_deflate_options(in);
  const auto server_options = fuzz::read_server_deflate_options(in);
  auto pair = fuzz::negotiate(client_options, server_options);
  if (!pair) return 0;
  auto& mine = is_server ? pair->server : pair->client;
  auto& theirs = is_server ? pair->client : pair->server;
  reference_decoder = std::make_unique<ws::permessage_deflate>(
      dynamic_cast<const ws::permessage_deflate&>(*mine).settings());
  ours.push_back(std::move(mine));
  peer_decoder = std::move(theirs);
#endif
  const std::size_t script_size = in.u16();
  fuzz::reader script(in.bytes(script_size));
  try {
    harness h(max_size, std::move(ours), std::move(reference_decoder), std::move(peer_decoder),
              in.rest());
    h.run(script);
  } catch (const std::exception& e) {
    fuzz::unexpected(__FILE__, __LINE__, e);
  }
  return 0;
}
