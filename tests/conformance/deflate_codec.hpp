// The driver's side of permessage-deflate (RFC 7692), on zlib directly:
// what was agreed in the handshake, and a compressor and a decompressor
// that keep to it exactly, so that a peer that breaks the agreement shows:
// the decompressor runs with the negotiated window of the peer and is reset
// after each message when the peer promised to reset, so a peer that
// reaches back further than it may makes inflate() fail.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "conformance/wire.hpp"

namespace websockets::conformance {

// The parameters of an accepted permessage-deflate (RFC 7692 7.1), as the
// response states them; window sizes are 8 to 15 bits.
struct deflate_agreement {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;
  int client_max_window_bits = 15;
};

// The driver's compressor: one message at a time, context kept across
// messages unless `reset_each_message`.
class deflater {
 public:
  deflater(int window_bits, bool reset_each_message, int level = 6)
      : reset_each_message_(reset_each_message) {
    // zlib refuses a raw 8-bit window; 9 bits keeps matches within 250
    // bytes (the window less 262), which a 256-byte window holds.
    const int bits = std::max(window_bits, 9);
    if (deflateInit2(&z_, level, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
  }
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;
  ~deflater() { deflateEnd(&z_); }

  // Compresses `part`, flushing it whole (Z_SYNC_FLUSH); with `last`, the
  // flush's empty block 00 00 ff ff is dropped (RFC 7692 7.2.1) and the
  // context reset if the agreement says so.
  std::string compress(std::string_view part, bool last) {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z_.avail_in = static_cast<uInt>(part.size());
    char buf[16384];
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int rc = deflate(&z_, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("deflate failed");
      out.append(buf, sizeof buf - z_.avail_out);
    } while (z_.avail_out == 0);
    if (last) {
      if (out.size() >= 4 &&
          out.compare(out.size() - 4, 4, std::string_view("\0\0\xff\xff", 4)) == 0)
        out.resize(out.size() - 4);
      if (reset_each_message_) deflateReset(&z_);
    }
    return out;
  }

 private:
  z_stream z_{};
  bool reset_each_message_;
};

// The driver's decompressor for what the peer sends.
class inflater {
 public:
  inflater(int window_bits, bool reset_each_message) : reset_each_message_(reset_each_message) {
    if (inflateInit2(&z_, -window_bits) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
  ~inflater() { inflateEnd(&z_); }

  // Decompresses one frame's payload of a compressed message; after the
  // `last` one, appends the 00 00 ff ff tail the sender dropped. Returns
  // std::nullopt and sets `error` when the data isn't valid DEFLATE under
  // the agreement, or the output passes `limit` bytes.
  std::optional<std::string> decompress(std::string_view part, bool last, std::string& error,
                                        std::size_t limit = std::size_t{1} << 30) {
    std::string out;
    if (!feed(part, out, error, limit)) return std::nullopt;
    if (last) {
      if (!feed(std::string_view("\0\0\xff\xff", 4), out, error, limit)) return std::nullopt;
      if (reset_each_message_) inflateReset(&z_);
    }
    return out;
  }

 private:
  bool feed(std::string_view in, std::string& out, std::string& error, std::size_t limit) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    char buf[16384];
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int rc = inflate(&z_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z_.avail_out);
      if (rc == Z_STREAM_END) {
        error = "the peer's DEFLATE data has a final block (BFINAL set)";
        return false;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error = std::string("inflate: ") + (z_.msg ? z_.msg : "error " + std::to_string(rc));
        return false;
      }
      if (out.size() > limit) {
        error = "decompressed data passes " + std::to_string(limit) + " bytes";
        return false;
      }
      if (rc == Z_BUF_ERROR) break;  // no progress possible: all input taken
    } while (z_.avail_in > 0 || z_.avail_out == 0);
    return true;
  }

  z_stream z_{};
  bool reset_each_message_;
};

// Both directions of one connection, set up from the agreement for the end
// the driver plays.
// The driver compresses at level 1: the peer's inflater is tested as well,
// and the driver spends a third of the time.
struct deflate_session {
  deflate_session(const deflate_agreement& a, role self, int level = 1)
      : out(self == role::client ? a.client_max_window_bits : a.server_max_window_bits,
            self == role::client ? a.client_no_context_takeover : a.server_no_context_takeover,
            level),
        in(self == role::client ? a.server_max_window_bits : a.client_max_window_bits,
           self == role::client ? a.server_no_context_takeover : a.client_no_context_takeover) {}

  deflater out;
  inflater in;
};

// Reads a permessage-deflate response: "permessage-deflate;
// client_max_window_bits=10". Returns std::nullopt, with `error` saying
// why, unless it is exactly one permessage-deflate element with parameters
// RFC 7692 allows in a response, each once with a valid value.
inline std::optional<deflate_agreement> parse_deflate_response(std::string_view header,
                                                               std::string& error) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  if (header.find(',') != std::string_view::npos) {
    error = "more than one extension in the response";
    return std::nullopt;
  }
  deflate_agreement a;
  bool seen[4] = {};
  std::size_t start = 0;
  bool first = true;
  while (start <= header.size()) {
    std::size_t semi = header.find(';', start);
    if (semi == std::string_view::npos) semi = header.size();
    const std::string_view item = trim(header.substr(start, semi - start));
    start = semi + 1;
    if (first) {
      first = false;
      if (item != "permessage-deflate") {
        error = "extension " + std::string(item) + " wasn't offered";
        return std::nullopt;
      }
      continue;
    }
    const std::size_t eq = item.find('=');
    const std::string_view name = trim(item.substr(0, eq));
    // No std::optional<std::string_view>: g++ 12 warns it may be uninitialized.
    const bool has_value = eq != std::string_view::npos;
    const std::string_view value = has_value ? trim(item.substr(eq + 1)) : std::string_view();
    auto bits = [&](int& into) {
      if (!has_value || value.empty() || value.size() > 2 || value[0] == '0') return false;
      int v = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
      }
      if (v < 8 || v > 15) return false;
      into = v;
      return true;
    };
    int index;
    bool ok;
    if (name == "server_no_context_takeover") {
      index = 0;
      ok = !has_value;
      a.server_no_context_takeover = true;
    } else if (name == "client_no_context_takeover") {
      index = 1;
      ok = !has_value;
      a.client_no_context_takeover = true;
    } else if (name == "server_max_window_bits") {
      index = 2;
      ok = bits(a.server_max_window_bits);
    } else if (name == "client_max_window_bits") {
      index = 3;
      ok = bits(a.client_max_window_bits);
    } else {
      error = "unknown parameter " + std::string(name);
      return std::nullopt;
    }
    if (!ok) {
      error = "bad value for " + std::string(name);
      return std::nullopt;
    }
    if (seen[index]) {
      error = "parameter " + std::string(name) + " given twice";
      return std::nullopt;
    }
    seen[index] = true;
    if (semi == header.size()) break;
  }
  return a;
}

}  // namespace websockets::conformance
