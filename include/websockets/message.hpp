// A whole WebSocket message: text or binary, and its payload.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "websockets/detail/string_pool.hpp"
#include "websockets/frame.hpp"

namespace websockets {

// What recv() returns and send() accepts: the reference's `str` (a text
// message, valid UTF-8) or `bytes` (a binary message).
class message {
 public:
  // An empty text message.
  message() = default;

  // A message of type `op` (text or binary) that owns `payload`.
  message(opcode op, std::string payload) : op_(op), data_(std::move(payload)) {}

  message(const message&) = default;
  message(message&&) noexcept = default;
  message& operator=(const message&) = default;
  message& operator=(message&&) noexcept = default;

  // A small payload's buffer goes back to a per-thread pool, for the next
  // message received on this thread.
  ~message() { detail::string_pool::give(std::move(data_)); }

  // A text message; the text must be valid UTF-8 (send() checks nothing).
  static message text(std::string payload) { return {opcode::text, std::move(payload)}; }

  // A binary message.
  static message binary(std::span<const std::byte> payload) {
    return {opcode::binary,
            std::string(reinterpret_cast<const char*>(payload.data()), payload.size())};
  }
  static message binary(std::string payload) { return {opcode::binary, std::move(payload)}; }

  bool is_text() const noexcept { return op_ == opcode::text; }
  bool is_binary() const noexcept { return op_ == opcode::binary; }
  // opcode::text or opcode::binary.
  opcode type() const noexcept { return op_; }

  // The payload as characters (UTF-8 for a text message).
  std::string_view text() const noexcept { return data_; }
  // The payload as bytes.
  std::span<const std::byte> bytes() const noexcept {
    return std::as_bytes(std::span(data_.data(), data_.size()));
  }
  std::size_t size() const noexcept { return data_.size(); }
  bool empty() const noexcept { return data_.empty(); }

  // The storage itself, to move the payload out without a copy.
  std::string& data() & noexcept { return data_; }
  const std::string& data() const& noexcept { return data_; }
  std::string&& data() && noexcept { return std::move(data_); }

  friend bool operator==(const message&, const message&) = default;

 private:
  opcode op_ = opcode::text;
  std::string data_;
};

}  // namespace websockets
