// WebSocket frames as the fuzz targets read them, written from RFC 6455
// section 5.2 independently of the library's codec, and a reference
// receiver: what an endpoint must report for a stream of bytes from its
// peer (events, and the close code it fails with), checked frame by frame
// with the simplest code that follows the RFC.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/frame.hpp"

namespace fuzz {

// A frame header as it is on the wire.
struct wire_header {
  bool fin = false, rsv1 = false, rsv2 = false, rsv3 = false;
  unsigned opcode = 0;
  bool masked = false;
  std::uint64_t length = 0;
  unsigned char mask[4] = {};
  std::size_t size = 0;  // of the header
  bool minimal = true;   // the length takes the fewest bytes that hold it
};

// Reads the header at the start of `s`; false when it isn't all there.
inline bool read_header(std::string_view s, wire_header& h) {
  if (s.size() < 2) return false;
  const auto b0 = static_cast<unsigned char>(s[0]);
  const auto b1 = static_cast<unsigned char>(s[1]);
  const unsigned len7 = b1 & 0x7F;
  const std::size_t extra = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  h.masked = b1 & 0x80;
  h.size = 2 + extra + (h.masked ? 4 : 0);
  if (s.size() < h.size) return false;
  h.fin = b0 & 0x80;
  h.rsv1 = b0 & 0x40;
  h.rsv2 = b0 & 0x20;
  h.rsv3 = b0 & 0x10;
  h.opcode = b0 & 0x0F;
  h.length = len7;
  if (extra) {
    h.length = 0;
    for (std::size_t i = 0; i < extra; ++i)
      h.length = h.length << 8 | static_cast<unsigned char>(s[2 + i]);
  }
  h.minimal = extra == 0 || (extra == 2 && h.length > 125) || (extra == 8 && h.length > 0xFFFF);
  if (h.masked)
    for (std::size_t i = 0; i < 4; ++i) h.mask[i] = static_cast<unsigned char>(s[2 + extra + i]);
  return true;
}

// The payload of `h`, unmasked, from the bytes that follow the header;
// `at` is the offset of the first of them in the payload.
FUZZ_NO_COVERAGE inline std::string unmask(const wire_header& h, std::string_view bytes,
                                           std::size_t at = 0) {
  std::string out(bytes);
  if (h.masked)
    for (std::size_t i = 0; i < out.size(); ++i) out[i] ^= static_cast<char>(h.mask[(at + i) % 4]);
  return out;
}

inline bool is_valid_close_code(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// What an endpoint reports for what its peer sent.
struct reference_event {
  websockets::event::kind type = websockets::event::kind::message;
  websockets::opcode op = websockets::opcode::text;
  std::string data;        // a message's payload, a ping's, a pong's, a close reason
  std::uint16_t code = 0;  // of a close frame
};

// Parses the bytes a peer sends, whole frames at a time, into the events an
// endpoint reports, until the first thing that fails the connection (the
// close code is then in failure()) or a close frame. `decoder` is the
// permessage-deflate of this end, when one was negotiated: every data frame
// then goes through it whole, as RFC 7692 needs.
class reference_receiver {
 public:
  reference_receiver(bool masked, std::size_t max_size,
                     std::unique_ptr<websockets::extension> decoder)
      : masked_(masked), max_size_(max_size), decoder_(std::move(decoder)) {}

  // Appends bytes from the peer and parses every frame they complete.
  void receive(std::string_view bytes) {
    if (stopped()) return;
    buf_.append(bytes);
    run();
    if (pos_ > (1u << 16)) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  const std::vector<reference_event>& events() const noexcept { return events_; }

  // The close code the connection fails with, counting a text message
  // whose bytes so far, in the last and incomplete frame, can't be UTF-8:
  // an endpoint that validates as bytes arrive fails on them already.
  std::optional<std::uint16_t> failure() {
    if (!failure_ && !close_) check_partial();
    return failure_;
  }

 private:
  bool stopped() const noexcept { return failure_ || close_; }
  void fail(std::uint16_t code) { failure_ = code; }

  void run() {
    while (!stopped()) {
      const std::string_view avail = std::string_view(buf_).substr(pos_);
      wire_header h;
      if (!read_header(avail, h)) return;
      if (!check_header(h)) return;
      if (h.length > avail.size() - h.size) return;  // the payload isn't all here
      std::string payload = unmask(h, avail.substr(h.size, static_cast<std::size_t>(h.length)));
      pos_ += h.size + static_cast<std::size_t>(h.length);
      if (h.opcode >= 8) {
        control(h, std::move(payload));
      } else {
        data(h, std::move(payload));
      }
    }
  }

  // The rules that hold as soon as the header is here; false after failing.
  bool check_header(const wire_header& h) {
    if (h.length >> 63) return fail(1002), false;
    if (h.masked != masked_) return fail(1002), false;
    if (h.rsv2 || h.rsv3 || (h.rsv1 && !decoder_)) return fail(1002), false;
    switch (h.opcode) {
      case 0:
        if (!in_message_) return fail(1002), false;
        break;
      case 1:
      case 2:
        if (in_message_) return fail(1002), false;
        break;
      case 8:
      case 9:
      case 10:
        if (!h.fin || h.length > 125 || h.rsv1) return fail(1002), false;
        return true;
      default:
        return fail(1002), false;
    }
    // A data frame: its declared length already counts against max_size
    // (compressed, when it is).
    const std::size_t so_far = h.opcode == 0 ? msg_.size() : 0;
    if (h.length > max_size_ - std::min(max_size_, so_far)) return fail(1009), false;
    return true;
  }

  void control(const wire_header& h, std::string payload) {
    reference_event ev;
    ev.op = static_cast<websockets::opcode>(h.opcode);
    if (h.opcode == 9) {
      ev.type = websockets::event::kind::ping;
    } else if (h.opcode == 10) {
      ev.type = websockets::event::kind::pong;
    } else {
      ev.type = websockets::event::kind::close;
      ev.code = 1005;
      if (payload.size() == 1) return fail(1002);
      if (payload.size() >= 2) {
        ev.code = static_cast<std::uint16_t>(static_cast<unsigned char>(payload[0]) << 8 |
                                             static_cast<unsigned char>(payload[1]));
        if (!is_valid_close_code(ev.code)) return fail(1002);
        payload.erase(0, 2);
        if (!reference_utf8(payload).valid()) return fail(1007);
      }
      close_ = true;
    }
    ev.data = std::move(payload);
    events_.push_back(std::move(ev));
  }

  void data(const wire_header& h, std::string payload) {
    if (h.opcode != 0) {
      text_ = h.opcode == 1;
      op_ = static_cast<websockets::opcode>(h.opcode);
      msg_.clear();
      boundary_ = 0;
    }
    in_message_ = !h.fin;
    if (decoder_) {
      websockets::frame f;
      f.fin = h.fin;
      f.rsv1 = h.rsv1;
      f.op = static_cast<websockets::opcode>(h.opcode);
      f.data = std::move(payload);
      const std::size_t room = max_size_ - std::min(max_size_, msg_.size());
      try {
        decoder_->decode(f, room);
      } catch (const websockets::payload_too_big&) {
        return fail(1009);
      } catch (const websockets::protocol_error& e) {
        return fail(e.close_code());
      }
      if (f.data.size() > room) return fail(1009);
      payload = std::move(f.data);
    }
    msg_ += payload;
    if (text_) {
      const auto scan = reference_utf8(std::string_view(msg_).substr(boundary_));
      if (!scan.valid_prefix()) return fail(1007);
      boundary_ += scan.boundary;
    }
    if (!h.fin) return;
    if (text_ && boundary_ != msg_.size()) return fail(1007);
    reference_event ev;
    ev.op = op_;
    ev.data = std::move(msg_);
    msg_.clear();
    events_.push_back(std::move(ev));
  }

  // A text frame whose payload is partly here, without permessage-deflate.
  void check_partial() {
    if (decoder_) return;
    const std::string_view avail = std::string_view(buf_).substr(pos_);
    wire_header h;
    if (!read_header(avail, h) || (h.opcode != 0 && h.opcode != 1)) return;
    if (h.opcode == 0 && !text_) return;
    std::string bytes = h.opcode == 0 ? msg_.substr(boundary_) : std::string();
    bytes += unmask(h, avail.substr(h.size));
    if (!reference_utf8(bytes).valid_prefix()) fail(1007);
  }

  const bool masked_;
  const std::size_t max_size_;
  std::unique_ptr<websockets::extension> decoder_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool in_message_ = false;
  bool text_ = false;
  websockets::opcode op_ = websockets::opcode::text;
  std::string msg_;
  std::size_t boundary_ = 0;  // msg_ is valid UTF-8 up to here
  std::vector<reference_event> events_;
  std::optional<std::uint16_t> failure_;
  bool close_ = false;
};

}  // namespace fuzz
