// One WebSocket connection as the driver holds it after the opening
// handshake: raw frames out (masked or not by the role it plays, chopped as
// a case asks, compressed with its own zlib when permessage-deflate was
// agreed), and events in, parsed and checked against every rule of RFC
// 6455 and RFC 7692 the peer must follow, whatever the case is about.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conformance/deflate_codec.hpp"
#include "conformance/tcp.hpp"
#include "conformance/utf8_sequences.hpp"
#include "conformance/wire.hpp"

namespace websockets::conformance {

// What the peer did next.
struct event {
  enum class kind {
    message,    // a whole data message
    ping,       // a ping frame
    pong,       // a pong frame
    close,      // a close frame
    eof,        // the peer closed TCP in order
    reset,      // the connection broke (RST)
    timeout,    // nothing within the deadline
    violation,  // the peer broke a rule; `detail` says which
  };
  kind type = kind::timeout;
  bool binary = false;                // message: binary rather than text
  bool compressed = false;            // message: its first frame had RSV1
  std::size_t frames = 0;             // message: how many frames it came in
  std::string data;                   // message, ping and pong payload; close frame payload
  std::optional<std::uint16_t> code;  // close: the status code, if any
  std::string reason;                 // close: the reason
  std::string detail;                 // violation: what was wrong

  static event of(kind k, std::string payload = {}) {
    event e;
    e.type = k;
    e.data = std::move(payload);
    return e;
  }
};

// "text message of 13 bytes", "close 1002", "pong 'abc'"...
inline std::string describe(const event& e) {
  auto quoted = [](const std::string& s) {
    bool printable = s.size() <= 40;
    for (char c : s) printable = printable && c >= 0x20 && c < 0x7F;
    return printable ? "'" + s + "'" : "0x" + hex(s, 16);
  };
  switch (e.type) {
    case event::kind::message:
      return std::string(e.binary ? "binary" : "text") + " message of " +
             std::to_string(e.data.size()) + " bytes" + (e.compressed ? " (compressed)" : "") +
             (e.data.size() <= 40 ? " " + quoted(e.data) : "");
    case event::kind::ping:
      return "ping " + quoted(e.data);
    case event::kind::pong:
      return "pong " + quoted(e.data);
    case event::kind::close:
      return e.code ? "close " + std::to_string(*e.code) +
                          (e.reason.empty() ? "" : " " + quoted(e.reason))
                    : "close without a code";
    case event::kind::eof:
      return "TCP closed by the peer";
    case event::kind::reset:
      return "TCP reset";
    case event::kind::timeout:
      return "nothing (timeout)";
    case event::kind::violation:
      return "protocol violation: " + e.detail;
  }
  return "?";
}

// Close codes an endpoint may put in a close frame (RFC 6455 7.4, and the
// IANA registry's 1012 to 1014).
inline bool sendable_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

class endpoint {
 public:
  // Takes over `c` after the handshake; `received` holds bytes read past
  // the handshake. With `deflate`, permessage-deflate is on as agreed.
  endpoint(tcp_connection c, role self, std::string received,
           std::optional<deflate_agreement> deflate = std::nullopt)
      : conn_(std::move(c)), self_(self), rx_(std::move(received)) {
    if (deflate) deflate_ = std::make_unique<deflate_session>(*deflate, self);
  }

  role self() const noexcept { return self_; }
  bool deflate_on() const noexcept { return deflate_ != nullptr; }

  // ---- Sending ----------------------------------------------------------

  // Writes `bytes` as they are, in pieces of `chop` bytes (0: whole).
  // Returns false once the connection broke or the write timed out; the
  // case then goes on reading what the peer sent before.
  bool send_raw(std::string_view bytes, clock::time_point deadline, std::size_t chop = 0) {
    if (write_status_ != io_status::ok) return false;
    write_status_ = conn_.write(bytes, rx_, deadline, chop);
    return write_status_ == io_status::ok;
  }

  // One frame.
  bool send(const frame_spec& f, clock::time_point deadline, std::size_t chop = 0) {
    return send_raw(make_frame(f, self_), deadline, chop);
  }

  // Frames in one write (`per_frame` false) or one write each.
  bool send(std::span<const frame_spec> frames, clock::time_point deadline, bool per_frame = false,
            std::size_t chop = 0) {
    if (per_frame) {
      for (const auto& f : frames)
        if (!send(f, deadline, chop)) return false;
      return true;
    }
    std::string all;
    for (const auto& f : frames) append_frame(all, f, self_);
    return send_raw(all, deadline, chop);
  }

  // A data message, uncompressed, in frames of `fragment` bytes (0: one).
  bool send_message(std::uint8_t opcode, std::string_view payload, clock::time_point deadline,
                    std::size_t fragment = 0, std::size_t chop = 0) {
    if (fragment == 0 || payload.size() <= fragment)
      return send_raw(make_bulk_frame({opcode, payload}, self_), deadline, chop);
    std::string all;
    all.reserve(payload.size() + (payload.size() / fragment + 1) * 14);
    for (std::size_t at = 0; at < payload.size(); at += fragment) {
      const std::string_view part = payload.substr(at, fragment);
      append_frame(all, {at == 0 ? opcode : op::cont, part, at + fragment >= payload.size()}, self_,
                   {0, 0, 0, 0});
    }
    return send_raw(all, deadline, chop);
  }

  // A data message compressed with the agreed parameters. With `fragment`,
  // it goes in several frames: the compressed bytes cut every `fragment`
  // bytes, or, with `flush_each`, each `fragment` bytes of the message
  // compressed and flushed into a frame of its own. RSV1 marks the first
  // frame only (RFC 7692 6).
  bool send_compressed(std::uint8_t opcode, std::string_view payload, clock::time_point deadline,
                       std::size_t fragment = 0, bool flush_each = false) {
    std::vector<std::string> parts;
    if (fragment == 0 || !flush_each) {
      std::string all = deflate_->out.compress(payload, true);
      if (fragment == 0 || all.size() <= fragment) {
        parts.push_back(std::move(all));
      } else {
        for (std::size_t at = 0; at < all.size(); at += fragment)
          parts.push_back(all.substr(at, fragment));
      }
    } else {
      for (std::size_t at = 0; at < payload.size() || at == 0; at += fragment) {
        const bool last = at + fragment >= payload.size();
        parts.push_back(deflate_->out.compress(payload.substr(at, fragment), last));
        if (last) break;
      }
    }
    std::string wire;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      append_frame(wire,
                   {i == 0 ? opcode : op::cont, parts[i], i + 1 == parts.size(),
                    static_cast<std::uint8_t>(i == 0 ? rsv1 : 0)},
                   self_, {0, 0, 0, 0});
    }
    return send_raw(wire, deadline);
  }

  // How the last write ended (ok while every write went through).
  io_status write_status() const noexcept { return write_status_; }

  // ---- Receiving --------------------------------------------------------

  // The peer's next event. Control frames come as they arrive, also in the
  // middle of a fragmented message; data frames are gathered into whole
  // messages, decompressed when RSV1 marks them.
  event next_event(clock::time_point deadline) {
    if (broken_) return violation(broken_detail_);
    for (;;) {
      wire_frame f;
      const std::size_t used = parse_frame(rx_, f, max_frame);
      if (used == 0) {
        if (stream_end_) return stream_end_event();
        const io_status s = conn_.read(rx_, deadline);
        if (s == io_status::timeout) return event::of(event::kind::timeout);
        if (s == io_status::eof || s == io_status::reset) {
          stream_end_ = s;
          // Bytes that came before the end are still parsed first.
          continue;
        }
        continue;
      }
      rx_.erase(0, used);
      if (!f.header_fault.empty()) return violation(f.header_fault);
      if (auto e = take(f)) return std::move(*e);
    }
  }

  // Whether the peer has closed its side (seen by next_event()).
  bool peer_closed() const noexcept { return stream_end_.has_value(); }

  // Waits until the peer closes TCP, counting and dropping anything it still
  // sends (see discarded()); returns eof, reset or timeout.
  io_status wait_for_close(clock::time_point deadline) {
    for (;;) {
      discarded_ += rx_.size();
      rx_.clear();
      if (stream_end_) return *stream_end_;
      const io_status s = conn_.read(rx_, deadline);
      if (s == io_status::timeout) return s;
      if (s != io_status::ok) stream_end_ = s;
    }
  }

  // Bytes the peer sent after the frame where the case stopped reading:
  // after its close frame, there must be none.
  std::size_t discarded() const noexcept { return discarded_; }

  // Bytes received and not parsed yet.
  std::size_t unparsed() const noexcept { return rx_.size(); }

  void shutdown_write() noexcept { conn_.shutdown_write(); }
  void close() noexcept { conn_.close(); }

  // The largest frame payload the driver buffers.
  static constexpr std::uint64_t max_frame = std::uint64_t{80} << 20;

 private:
  event violation(std::string detail) {
    broken_ = true;
    broken_detail_ = detail;
    event e = event::of(event::kind::violation);
    e.detail = std::move(detail);
    return e;
  }

  event stream_end_event() const {
    return event::of(*stream_end_ == io_status::eof ? event::kind::eof : event::kind::reset);
  }

  // Checks one frame and turns it into an event, or into nothing while a
  // message isn't complete.
  std::optional<event> take(wire_frame& f) {
    const bool peer_is_client = self_ == role::server;
    if (f.masked != peer_is_client)
      return violation(std::string(peer_is_client ? "unmasked frame from a client"
                                                  : "masked frame from a server") +
                       " (" + opcode_name(f.opcode) + ")");
    const bool known = f.opcode <= op::binary || (f.opcode >= op::close && f.opcode <= op::pong);
    if (!known) return violation("reserved " + opcode_name(f.opcode));
    const bool rsv1_allowed = deflate_ && (f.opcode == op::text || f.opcode == op::binary);
    if ((f.rsv & 3) != 0 || ((f.rsv & rsv1) && !rsv1_allowed))
      return violation("RSV bits " + std::to_string(f.rsv) + " on a " + opcode_name(f.opcode) +
                       " frame");
    if (f.is_control()) {
      if (!f.fin) return violation("fragmented " + opcode_name(f.opcode) + " frame");
      if (f.payload.size() > 125)
        return violation(opcode_name(f.opcode) + " frame of " + std::to_string(f.payload.size()) +
                         " bytes");
      if (f.opcode == op::ping) return event::of(event::kind::ping, std::move(f.payload));
      if (f.opcode == op::pong) return event::of(event::kind::pong, std::move(f.payload));
      return close_event(f.payload);
    }
    if (f.opcode == op::cont) {
      if (!in_message_) return violation("continuation frame without a message to continue");
    } else {
      if (in_message_) return violation("new data frame while a fragmented message is open");
      in_message_ = true;
      message_ = event::of(event::kind::message);
      message_.binary = f.opcode == op::binary;
      message_.compressed = (f.rsv & rsv1) != 0;
    }
    ++message_.frames;
    if (message_.compressed) {
      std::string error;
      auto plain = deflate_->in.decompress(f.payload, f.fin, error, max_frame);
      if (!plain) return violation("compressed message: " + error);
      message_.data += *plain;
    } else {
      message_.data += f.payload;
    }
    if (message_.data.size() > max_frame) return violation("message beyond the driver's limit");
    if (!f.fin) return std::nullopt;
    in_message_ = false;
    if (!message_.binary && !valid_utf8(message_.data))
      return violation("text message of " + std::to_string(message_.data.size()) +
                       " bytes isn't valid UTF-8");
    return std::move(message_);
  }

  event close_event(const std::string& payload) {
    event e = event::of(event::kind::close, payload);
    if (payload.size() == 1) return violation("close frame with a 1-byte payload");
    if (payload.size() >= 2) {
      e.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                          static_cast<std::uint8_t>(payload[1]));
      e.reason = payload.substr(2);
      if (!sendable_close_code(*e.code))
        return violation("close frame with code " + std::to_string(*e.code) +
                         ", which may not be sent");
      if (!valid_utf8(e.reason)) return violation("close reason isn't valid UTF-8");
    }
    return e;
  }

  tcp_connection conn_;
  role self_;
  std::string rx_;
  std::unique_ptr<deflate_session> deflate_;
  io_status write_status_ = io_status::ok;
  std::size_t discarded_ = 0;
  std::optional<io_status> stream_end_;
  bool in_message_ = false;
  event message_;
  bool broken_ = false;
  std::string broken_detail_;
};

}  // namespace websockets::conformance
