// permessage-deflate (RFC 7692): compresses each data message with DEFLATE
// from the system zlib. On by default on both sides, as in the reference.
//
// Negotiation: a client offers the extension with client_permessage_deflate,
// a server answers offers with server_permessage_deflate; both take an
// options struct (designated initializers work) and check it when built
// (std::invalid_argument for a value out of range). What they agree on
// becomes a permessage_deflate object, the codec of one connection.
//
// Window sizes: every size of RFC 7692, 8 to 15 bits, is accepted in both
// directions. zlib won't compress raw DEFLATE with a 256-byte window (8
// bits), so a compressor limited to 8 bits runs with 9; that is still safe,
// since zlib's matches reach back at most the window less 262 bytes, 250
// bytes here, which a peer's 256-byte window holds. Decompressing with 8 bits
// works as is.
//
// Memory: zlib streams are made on first use. A stream whose context is reset
// after each message (no_context_takeover) goes back to a small per-thread
// pool between messages, so such a connection holds none while idle. With the
// server defaults (12-bit windows both ways, memLevel 4) a connection that
// keeps both contexts holds 41 KiB of zlib state; a client offering no
// client_max_window_bits (so 15 bits to decompress) costs the server 69 KiB;
// 15-bit windows both ways, 237 KiB (memLevel 7) to 301 KiB (memLevel 8).
// bench/deflate_memory.cpp measures these.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "websockets/exceptions.hpp"
#include "websockets/extension_header.hpp"
#include "websockets/extensions/detail/deflate_parameters.hpp"
#include "websockets/extensions/detail/incompressible.hpp"
#include "websockets/extensions/detail/zlib_stream.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/frame.hpp"

namespace websockets {

// What both ends agreed on, seen from this end ("local" compresses what this
// end sends, "remote" what it receives), plus this end's own zlib settings.
struct deflate_settings {
  // Reset the compressor after each message sent.
  bool local_no_context_takeover = false;
  // The peer resets its compressor after each message, so the decompressor
  // can be reset (and its memory released) too.
  bool remote_no_context_takeover = false;
  // The compressor's window: 2^n bytes, 8 to 15.
  int local_max_window_bits = 15;
  // The peer's window, hence the decompressor's: 2^n bytes, 8 to 15.
  int remote_max_window_bits = 15;
  // zlib's level: 1 (fastest) to 9 (smallest), 0 stores without compressing.
  int compression_level = 6;
  // zlib's memLevel, 1 to 9: memory for the match finder and block buffer
  // against speed. 0 picks it from the window: max(4, local_max_window_bits
  // - 8), i.e. 4 up to 12 bits and 7 for 15 bits, where a smaller one makes
  // zlib several times slower.
  int mem_level = 0;
  // Messages sent in one frame and smaller than this many bytes go out
  // uncompressed: the DEFLATE overhead would outweigh the gain.
  std::size_t min_size = 32;
  // Messages whose first frame looks random (1 KiB or more, byte entropy
  // of 7.9 bits or more: compressed media, ciphertext) go out uncompressed:
  // DEFLATE can't shrink them, and zlib is at its slowest on them.
  bool skip_incompressible = true;
};

// The options of a client, for its offer and for the answer it accepts.
struct client_deflate_options {
  // Ask the server to reset its compressor after each message.
  bool server_no_context_takeover = false;
  // Reset this client's compressor after each message, and say so.
  bool client_no_context_takeover = false;
  // Ask the server to compress with at most 2^n bytes of window (8 to 15);
  // std::nullopt: let it use what it likes, up to 15.
  std::optional<int> server_max_window_bits = std::nullopt;
  // Compress with at most 2^n bytes of window (8 to 15), and say so;
  // std::nullopt: up to what the server allows.
  std::optional<int> client_max_window_bits = std::nullopt;
  // Without client_max_window_bits, still offer it without a value, so that
  // the server may ask for a smaller window (most servers want to).
  bool offer_client_max_window_bits = true;
  // zlib's level and memLevel for what this client sends (0 to 9; 1 to 9,
  // or 0 to pick it from the window as deflate_settings says).
  int compression_level = 6;
  int mem_level = 0;
  // Single-frame messages smaller than this are sent uncompressed.
  std::size_t min_size = 32;
  // Messages that look random are sent uncompressed (see deflate_settings).
  bool skip_incompressible = true;
};

// The options of a server, for the answers it gives to offers.
//
// The two no_context_takeover flags choose between accepting and requiring:
// false accepts what the client offers (reset only when it asks); true
// requires a reset after every message whatever the offer says, at some cost
// in ratio, for a server with many idle connections.
struct server_deflate_options {
  // Reset this server's compressor after each message.
  bool server_no_context_takeover = false;
  // Make clients reset their compressors after each message.
  bool client_no_context_takeover = false;
  // Compress with at most 2^n bytes of window (8 to 15); a client asking
  // for less gets less. std::nullopt: what the client asks, else 15.
  std::optional<int> server_max_window_bits = 12;
  // Make clients that offer client_max_window_bits compress with at most
  // 2^n bytes of window (8 to 15), so that this server decompresses with as
  // little. std::nullopt: what the client offers, else 15.
  std::optional<int> client_max_window_bits = 12;
  // Decline offers without client_max_window_bits instead of accepting them
  // with a 15-bit window to decompress. Needs client_max_window_bits.
  bool require_client_max_window_bits = false;
  // zlib's level and memLevel for what this server sends (0 to 9; 1 to 9,
  // or 0 to pick it from the window as deflate_settings says).
  int compression_level = 6;
  int mem_level = 0;
  // Single-frame messages smaller than this are sent uncompressed.
  std::size_t min_size = 32;
  // Messages that look random are sent uncompressed (see deflate_settings).
  bool skip_incompressible = true;
};

namespace detail {

inline void check_window_bits(std::optional<int> bits, const char* what) {
  if (bits && (*bits < 8 || *bits > 15))
    throw std::invalid_argument(std::string(what) + " must be between 8 and 15, not " +
                                std::to_string(*bits));
}

inline void check_zlib_settings(int level, int mem_level) {
  if (level < 0 || level > 9)
    throw std::invalid_argument("compression_level must be between 0 and 9, not " +
                                std::to_string(level));
  if (mem_level < 0 || mem_level > 9)
    throw std::invalid_argument("mem_level must be between 1 and 9 (or 0: automatic), not " +
                                std::to_string(mem_level));
}

// permessage-deflate uses RSV1; so may no other extension on the connection.
inline void check_no_rsv1_conflict(std::span<const std::unique_ptr<extension>> accepted) {
  for (const auto& e : accepted) {
    if (e && e->rsv_bits().rsv1) {
      throw negotiation_error("permessage-deflate can't be combined with " +
                              std::string(e->name()) + ": both use the RSV1 bit");
    }
  }
}

}  // namespace detail

// The codec of one connection: compresses the data messages it sends and
// decompresses those it receives, frame by frame, as the connection hands
// them over (see extension). It keeps per-message state between the frames
// of a fragmented message; a message the connection sends without calling
// encode() leaves it untouched, and the peer's decoder stays in step.
class permessage_deflate final : public extension {
 public:
  // Throws std::invalid_argument for a setting out of range.
  explicit permessage_deflate(const deflate_settings& s = {}) : settings_(s) {
    detail::check_window_bits(s.local_max_window_bits, "local_max_window_bits");
    detail::check_window_bits(s.remote_max_window_bits, "remote_max_window_bits");
    detail::check_zlib_settings(s.compression_level, s.mem_level);
  }

  ~permessage_deflate() override = default;
  permessage_deflate(const permessage_deflate&) = delete;
  permessage_deflate& operator=(const permessage_deflate&) = delete;

  std::string_view name() const noexcept override { return detail::permessage_deflate_name; }

  // RSV1 marks the first frame of a compressed message (RFC 7692 6).
  reserved_bits rsv_bits() const noexcept override {
    return {.rsv1 = true, .rsv2 = false, .rsv3 = false};
  }

  // What was negotiated, from this end's point of view.
  const deflate_settings& settings() const noexcept { return settings_; }

  // Decompresses a received data frame in place and clears its RSV1 bit. A
  // message whose first frame has RSV1 clear passes through untouched.
  // Throws payload_too_big as soon as the frame's output passes `max_size`
  // (having inflated at most one byte more), protocol_error with 1007 for
  // data that isn't DEFLATE or a message that ends inside a block, and
  // protocol_error with 1002 for RSV1 on a continuation frame.
  void decode(frame& f, std::optional<std::size_t> max_size) override {
    if (is_control(f.op)) return;
    if (f.op != opcode::cont) {
      decoding_ = f.rsv1;
      if (!decoding_) return;
      f.rsv1 = false;
      if (!inflater_) {
        const detail::inflater_config c{settings_.remote_max_window_bits};
        inflater_ = settings_.remote_no_context_takeover
                        ? detail::stream_pool<detail::inflater>::local().take(c)
                        : std::make_unique<detail::inflater>(c);
      }
    } else {
      if (f.rsv1) throw protocol_error("RSV1 set on a continuation frame");
      if (!decoding_) return;
    }

    const std::size_t limit = max_size ? *max_size : SIZE_MAX;
    std::string& out = detail::scratch_buffer::local();
    std::size_t n = inflater_->decompress(f.data.data(), f.data.size(), out, 0, limit);
    if (f.fin) {
      // RFC 7692 7.2.2: the sender stripped the tail of its last flush.
      static constexpr char tail[4] = {0x00, 0x00, char(0xff), char(0xff)};
      if (!inflater_->ended()) n = inflater_->decompress(tail, sizeof tail, out, n, limit);
      if (!inflater_->at_block_boundary())
        throw protocol_error("invalid compressed data: the message ends inside a DEFLATE block",
                             code_of(close_code::invalid_payload));
    }
    f.data.assign(out.data(), n);
    detail::scratch_buffer::trim();
    if (f.fin) {
      decoding_ = false;
      if (settings_.remote_no_context_takeover)
        detail::stream_pool<detail::inflater>::local().give(std::move(inflater_));
    }
  }

  // Compresses a data frame about to be sent, in place, and sets RSV1 on
  // the first frame of the message. Each frame is flushed whole, so the peer
  // can decompress it on arrival; the last one loses the 00 00 ff ff tail
  // (RFC 7692 7.2.1). A single-frame message under min_size, or one that
  // looks incompressible, is left alone.
  void encode(frame& f) override {
    if (is_control(f.op)) return;
    if (f.op != opcode::cont) {
      // Skipping a message leaves the compressor as it was, which is what
      // the peer's decompressor expects of a message without RSV1.
      encoding_ = !(f.fin && f.data.size() < settings_.min_size) &&
                  !(settings_.skip_incompressible && detail::looks_incompressible(f.data));
      if (!encoding_) return;
      f.rsv1 = true;
      if (!deflater_) {
        const int bits = settings_.local_max_window_bits;
        const detail::deflater_config c{
            settings_.compression_level, bits,
            settings_.mem_level ? settings_.mem_level : std::max(4, bits - 8)};
        deflater_ = settings_.local_no_context_takeover
                        ? detail::stream_pool<detail::deflater>::local().take(c)
                        : std::make_unique<detail::deflater>(c);
      }
    } else if (!encoding_) {
      return;
    }

    std::string& out = detail::scratch_buffer::local();
    std::size_t n = deflater_->compress(f.data.data(), f.data.size(), out);
    if (f.fin) {
      if (n >= 4 && out.compare(n - 4, 4, std::string_view("\0\0\xff\xff", 4)) == 0) n -= 4;
      // An empty flush: one empty stored block, whose LEN and NLEN the
      // receiver adds back (RFC 7692 7.2.3.6).
      if (n == 0) out[n++] = '\0';
    }
    f.data.assign(out.data(), n);
    detail::scratch_buffer::trim();
    if (f.fin) {
      encoding_ = false;
      if (settings_.local_no_context_takeover)
        detail::stream_pool<detail::deflater>::local().give(std::move(deflater_));
    }
  }

 private:
  static bool is_control(opcode op) noexcept { return static_cast<std::uint8_t>(op) >= 8; }

  deflate_settings settings_;
  std::unique_ptr<detail::deflater> deflater_;  // made on first use
  std::unique_ptr<detail::inflater> inflater_;  // made on first use
  bool encoding_ = false;                       // inside a message sent compressed
  bool decoding_ = false;                       // inside a message received compressed
};

// The client side of the negotiation: what to offer, and whether the
// server's answer is acceptable (RFC 7692 5 and 7.1).
class client_permessage_deflate final : public client_extension_factory {
 public:
  // Throws std::invalid_argument for an option out of range.
  explicit client_permessage_deflate(const client_deflate_options& o = {})
      : level_(o.compression_level),
        mem_level_(o.mem_level),
        min_size_(o.min_size),
        skip_incompressible_(o.skip_incompressible) {
    detail::check_window_bits(o.server_max_window_bits, "server_max_window_bits");
    detail::check_window_bits(o.client_max_window_bits, "client_max_window_bits");
    detail::check_zlib_settings(o.compression_level, o.mem_level);
    offer_.server_no_context_takeover = o.server_no_context_takeover;
    offer_.client_no_context_takeover = o.client_no_context_takeover;
    offer_.server_max_window_bits = o.server_max_window_bits.value_or(0);
    offer_.client_max_window_bits = o.client_max_window_bits.value_or(0);
    offer_.client_max_window_bits_bare = o.offer_client_max_window_bits;
  }

  std::string_view name() const noexcept override { return detail::permessage_deflate_name; }

  // The offer, e.g. {client_max_window_bits} with the defaults.
  extension_parameters get_request_params() const override {
    return detail::build_deflate_parameters(offer_);
  }

  // Checks the server's answer against the offer. Throws
  // duplicate_parameter, invalid_parameter_name or invalid_parameter_value
  // for a malformed answer, and negotiation_error for one that doesn't
  // match the offer or when another extension already uses RSV1; the
  // handshake then fails, as RFC 7692 section 5 requires.
  std::unique_ptr<extension> process_response_params(
      const extension_parameters& params,
      std::span<const std::unique_ptr<extension>> accepted) const override {
    detail::check_no_rsv1_conflict(accepted);
    const auto r = detail::parse_deflate_parameters(params, false);
    const auto& o = offer_;
    if (o.server_no_context_takeover && !r.server_no_context_takeover)
      throw negotiation_error(
          "permessage-deflate: server_no_context_takeover was asked for, "
          "the server's answer lacks it");
    if (o.server_max_window_bits) {
      if (!r.server_max_window_bits)
        throw negotiation_error("permessage-deflate: server_max_window_bits=" +
                                std::to_string(o.server_max_window_bits) +
                                " was asked for, the server's answer lacks it");
      if (r.server_max_window_bits > o.server_max_window_bits)
        throw negotiation_error("permessage-deflate: server_max_window_bits=" +
                                std::to_string(r.server_max_window_bits) +
                                " in the answer is over the " +
                                std::to_string(o.server_max_window_bits) + " asked for");
    }
    if (r.client_max_window_bits) {
      if (!o.client_max_window_bits && !o.client_max_window_bits_bare)
        throw negotiation_error(
            "permessage-deflate: the answer has client_max_window_bits, "
            "which wasn't offered");
      if (o.client_max_window_bits && r.client_max_window_bits > o.client_max_window_bits)
        throw negotiation_error("permessage-deflate: client_max_window_bits=" +
                                std::to_string(r.client_max_window_bits) +
                                " in the answer is over the " +
                                std::to_string(o.client_max_window_bits) + " offered");
    }
    deflate_settings s;
    s.local_no_context_takeover = o.client_no_context_takeover || r.client_no_context_takeover;
    s.remote_no_context_takeover = r.server_no_context_takeover;
    s.local_max_window_bits = r.client_max_window_bits   ? r.client_max_window_bits
                              : o.client_max_window_bits ? o.client_max_window_bits
                                                         : 15;
    s.remote_max_window_bits = r.server_max_window_bits ? r.server_max_window_bits : 15;
    s.compression_level = level_;
    s.mem_level = mem_level_;
    s.min_size = min_size_;
    s.skip_incompressible = skip_incompressible_;
    return std::make_unique<permessage_deflate>(s);
  }

 private:
  detail::deflate_parameters offer_;
  int level_;
  int mem_level_;
  std::size_t min_size_;
  bool skip_incompressible_;
};

// The server side of the negotiation: answers one offer at a time (RFC 7692
// 5 and 7.1).
class server_permessage_deflate final : public server_extension_factory {
 public:
  // Throws std::invalid_argument for an option out of range, or for
  // require_client_max_window_bits without client_max_window_bits.
  explicit server_permessage_deflate(const server_deflate_options& o = {})
      : server_no_context_takeover_(o.server_no_context_takeover),
        client_no_context_takeover_(o.client_no_context_takeover),
        server_max_window_bits_(o.server_max_window_bits.value_or(0)),
        client_max_window_bits_(o.client_max_window_bits.value_or(0)),
        require_client_max_window_bits_(o.require_client_max_window_bits),
        level_(o.compression_level),
        mem_level_(o.mem_level),
        min_size_(o.min_size),
        skip_incompressible_(o.skip_incompressible) {
    detail::check_window_bits(o.server_max_window_bits, "server_max_window_bits");
    detail::check_window_bits(o.client_max_window_bits, "client_max_window_bits");
    detail::check_zlib_settings(o.compression_level, o.mem_level);
    if (o.require_client_max_window_bits && !o.client_max_window_bits)
      throw std::invalid_argument(
          "require_client_max_window_bits needs client_max_window_bits to be set");
  }

  std::string_view name() const noexcept override { return detail::permessage_deflate_name; }

  // Answers one offer. Throws duplicate_parameter, invalid_parameter_name or
  // invalid_parameter_value for a malformed offer, and negotiation_error
  // for one this server declines (client_max_window_bits required but
  // missing, another extension already using RSV1); the server then tries
  // the client's next offer, as RFC 7692 section 5 requires.
  std::pair<extension_parameters, std::unique_ptr<extension>> process_request_params(
      const extension_parameters& params,
      std::span<const std::unique_ptr<extension>> accepted) const override {
    detail::check_no_rsv1_conflict(accepted);
    const auto offer = detail::parse_deflate_parameters(params, true);
    detail::deflate_parameters r;
    r.server_no_context_takeover = offer.server_no_context_takeover || server_no_context_takeover_;
    // Accepting the client's own reset lets this server release its
    // decompressor between messages.
    r.client_no_context_takeover = offer.client_no_context_takeover || client_no_context_takeover_;
    r.server_max_window_bits = offer.server_max_window_bits;
    if (server_max_window_bits_ &&
        (!r.server_max_window_bits || r.server_max_window_bits > server_max_window_bits_))
      r.server_max_window_bits = server_max_window_bits_;
    if (offer.client_max_window_bits || offer.client_max_window_bits_bare) {
      r.client_max_window_bits = offer.client_max_window_bits;
      if (client_max_window_bits_ &&
          (!r.client_max_window_bits || r.client_max_window_bits > client_max_window_bits_))
        r.client_max_window_bits = client_max_window_bits_;
    } else if (require_client_max_window_bits_) {
      throw negotiation_error(
          "permessage-deflate: the offer lacks client_max_window_bits, "
          "which this server requires");
    }
    deflate_settings s;
    s.local_no_context_takeover = r.server_no_context_takeover;
    s.remote_no_context_takeover = r.client_no_context_takeover;
    s.local_max_window_bits = r.server_max_window_bits ? r.server_max_window_bits : 15;
    s.remote_max_window_bits = r.client_max_window_bits ? r.client_max_window_bits : 15;
    s.compression_level = level_;
    s.mem_level = mem_level_;
    s.min_size = min_size_;
    s.skip_incompressible = skip_incompressible_;
    return {detail::build_deflate_parameters(r), std::make_unique<permessage_deflate>(s)};
  }

 private:
  bool server_no_context_takeover_;
  bool client_no_context_takeover_;
  int server_max_window_bits_;  // 0: no limit
  int client_max_window_bits_;  // 0: no limit
  bool require_client_max_window_bits_;
  int level_;
  int mem_level_;
  std::size_t min_size_;
  bool skip_incompressible_;
};

// The factory a client uses for `compression = deflate`: the defaults of
// client_deflate_options, shared by every connection.
inline std::shared_ptr<client_extension_factory> default_client_deflate() {
  static const auto factory = std::make_shared<client_permessage_deflate>();
  return factory;
}

// The factory a server uses for `compression = deflate`: the defaults of
// server_deflate_options (12-bit windows both ways), shared by every
// connection.
inline std::shared_ptr<server_extension_factory> default_server_deflate() {
  static const auto factory = std::make_shared<server_permessage_deflate>();
  return factory;
}

}  // namespace websockets
