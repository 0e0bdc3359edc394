// The messages the load generator sends, and the check of their echoes.
//
// Every payload is a slice of one shared text of pseudo-random JSON records
// (valid UTF-8, so it serves text messages too, and as compressible as real
// JSON, so permessage-deflate does realistic work), starting at an offset
// that varies from message to message, so that consecutive messages differ.
// Its first 16 bytes are replaced by the message's sequence number in hex:
// an echo is checked byte for byte against what was sent, which also catches
// lost, repeated and reordered messages.
//
// The text is also kept masked with the run's one masking key, so that a
// message goes out as a small header plus a pointer into it: sending costs
// no per-byte work however large the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "websockets/detail/mask.hpp"

namespace websockets::loadgen {

// Bytes of a payload given to its sequence number.
inline constexpr std::size_t sequence_digits = 16;

class payload_source {
 public:
  // Builds the text for messages of `message_size` bytes, and its masked
  // copy under `key`.
  payload_source(std::size_t message_size, const websockets::detail::mask_key& key)
      : size_(message_size), key_(key) {
    const std::size_t spread = message_size < 256 * 1024 ? 256 * 1024 : message_size;
    plain_ = make_json_text(message_size + spread);
    masked_.resize(plain_.size());
    websockets::detail::mask_copy(masked_.data(), plain_.data(), plain_.size(), key_);
    slots_ = (plain_.size() - message_size) / 4 + 1;
  }

  std::size_t message_size() const noexcept { return size_; }
  const websockets::detail::mask_key& key() const noexcept { return key_; }

  // Where message `seq` of connection `conn` starts in the text: a multiple
  // of 4, so that the masked copy lines up with the mask of a payload.
  std::size_t offset_of(std::uint64_t conn, std::uint64_t seq) const noexcept {
    return static_cast<std::size_t>((conn * 2654435761u + seq * 40503u) % slots_) * 4;
  }

  const std::byte* plain_at(std::size_t offset) const noexcept { return plain_.data() + offset; }
  const std::byte* masked_at(std::size_t offset) const noexcept { return masked_.data() + offset; }

  // The bytes of the payload that hold the sequence number: the first 16,
  // or all of a shorter payload.
  std::size_t digits() const noexcept { return size_ < sequence_digits ? size_ : sequence_digits; }

  // Writes the low digits() hex digits of `seq` to `out`.
  void write_sequence(std::uint64_t seq, std::byte* out) const noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    const std::size_t n = digits();
    for (std::size_t i = 0; i < n; ++i) {
      out[n - 1 - i] = static_cast<std::byte>(hex[seq & 15]);
      seq >>= 4;
    }
  }

  // Writes the whole payload of the message at `offset` with number `seq`.
  void write_payload(std::uint64_t seq, std::size_t offset, std::byte* out) const noexcept {
    write_sequence(seq, out);
    std::memcpy(out + digits(), plain_at(offset + digits()), size_ - digits());
  }

  // Compares bytes [at, at + n) of a received payload with those of the
  // message `seq` at `offset`; returns the index in `data` of the first
  // difference, or n when they match.
  std::size_t compare(std::uint64_t seq, std::size_t offset, std::size_t at, const std::byte* data,
                      std::size_t n) const noexcept {
    std::size_t i = 0;
    if (at < digits()) {
      std::byte seq_bytes[sequence_digits];
      write_sequence(seq, seq_bytes);
      for (; i < n && at + i < digits(); ++i)
        if (data[i] != seq_bytes[at + i]) return i;
    }
    if (i == n) return n;
    const std::byte* expected = plain_at(offset + at);  // expected[k] goes with data[k]
    if (std::memcmp(data + i, expected + i, n - i) == 0) return n;
    for (; i < n; ++i)
      if (data[i] != expected[i]) return i;
    return n;
  }

 private:
  // `size` bytes of JSON-like records from a fixed-seed generator.
  static std::vector<std::byte> make_json_text(std::size_t size) {
    static constexpr const char* words[] = {
        "alpha", "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",   "hotel",
        "india", "juliet", "kilo",    "lima",  "mike",    "november", "oscar",  "papa",
        "quote", "trade",  "order",   "price", "account", "session",  "status", "update"};
    constexpr std::size_t word_count = sizeof words / sizeof words[0];
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    const auto next = [&state] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    std::string text;
    text.reserve(size + 256);
    while (text.size() < size) {
      text += "{\"id\":";
      text += std::to_string(next() % 1000000);
      text += ",\"user\":\"";
      text += words[next() % word_count];
      text += '_';
      text += std::to_string(next() % 10000);
      text += "\",\"event\":\"";
      text += words[next() % word_count];
      text += "\",\"price\":";
      text += std::to_string(next() % 100000 / 100.0).substr(0, 7);
      text += ",\"tags\":[\"";
      text += words[next() % word_count];
      text += "\",\"";
      text += words[next() % word_count];
      text += "\"],\"active\":";
      text += next() % 2 ? "true" : "false";
      text += "}\n";
    }
    std::vector<std::byte> out(size);
    std::memcpy(out.data(), text.data(), size);
    return out;
  }

  std::size_t size_;
  websockets::detail::mask_key key_;
  std::vector<std::byte> plain_;
  std::vector<std::byte> masked_;
  std::size_t slots_ = 1;
};

}  // namespace websockets::loadgen
