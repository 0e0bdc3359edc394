// A WebSocket client made of raw bytes, for tests that play a hostile or
// broken peer: it writes frames the library would never build (any declared
// length, reserved bits, a payload streamed in pieces) and reads the
// server's answer frame by frame, down to the TCP close.
#pragma once

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "support/raw_peer.hpp"
#include "websockets/frame.hpp"

namespace websockets::test {

// The masking key of every frame built here. Bulk payloads use
// zero_mask_key instead, so that streaming them needs no masking pass (a
// zero key is a valid key: the masked bytes equal the payload).
inline constexpr std::array<std::uint8_t, 4> hostile_mask_key = {0x37, 0xFA, 0x21, 0x3D};
inline constexpr std::array<std::uint8_t, 4> zero_mask_key = {0, 0, 0, 0};

// A client frame's header with a declared payload length of `length`,
// written in the 64-bit form whenever it is above 0xFFFF, even when the
// RFC forbids the value (its top bit set). `first_byte` carries FIN, RSV
// and the opcode as they go on the wire.
inline std::string client_frame_head(std::uint8_t first_byte, std::uint64_t length,
                                     const std::array<std::uint8_t, 4>& key = hostile_mask_key) {
  std::string out;
  out += static_cast<char>(first_byte);
  if (length <= 125) {
    out += static_cast<char>(0x80 | length);
  } else if (length <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(length >> 8);
    out += static_cast<char>(length & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xFF);
  }
  for (auto b : key) out += static_cast<char>(b);
  return out;
}

// The first byte of a frame header.
constexpr std::uint8_t first_byte(opcode op, bool fin = true, bool rsv1 = false) {
  return static_cast<std::uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                   static_cast<std::uint8_t>(op));
}

// A whole masked client frame carrying `payload`; appended to `out` so that
// many frames can share one buffer.
inline void append_client_frame(std::string& out, opcode op, std::string_view payload,
                                bool fin = true, bool rsv1 = false) {
  out += client_frame_head(first_byte(op, fin, rsv1), payload.size());
  const std::size_t at = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out[at + i] =
        static_cast<char>(static_cast<std::uint8_t>(out[at + i]) ^ hostile_mask_key[i % 4]);
}

inline std::string client_frame(opcode op, std::string_view payload, bool fin = true,
                                bool rsv1 = false) {
  std::string out;
  append_client_frame(out, op, payload, fin, rsv1);
  return out;
}

// How a server ended a connection, as a raw client saw it.
struct observed_close {
  std::optional<std::uint16_t> code;  // from the server's close frame; none without one
  std::string reason;
  bool tcp_closed = false;      // the server closed (or reset) the TCP connection
  std::size_t data_frames = 0;  // data frames that came before the close frame
  std::size_t pongs = 0;        // pongs that came before it
  std::size_t bytes = 0;        // every byte received after the handshake
};

// A TCP connection to a WebSocket server, driven byte by byte.
class hostile_client {
 public:
  explicit hostile_client(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  // Connects to `endpoint`; with `receive_buffer` non-zero, first shrinks
  // the socket's receive buffer (so a client that never reads pushes back
  // sooner).
  static asio::awaitable<hostile_client> connect(asio::ip::tcp::endpoint endpoint,
                                                 int receive_buffer = 0) {
    asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
    socket.open(endpoint.protocol());
    if (receive_buffer > 0)
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    co_await socket.async_connect(endpoint, asio::use_awaitable);
    socket.set_option(asio::ip::tcp::no_delay(true));
    co_return hostile_client(std::move(socket));
  }

  // Sends an upgrade request (with `extra` header lines, and `tail` bytes
  // right after the head in the same write) and reads the response's head;
  // returns its status (0 if the server closed without one).
  asio::awaitable<int> handshake(std::string_view extra = {}, std::string_view tail = {}) {
    std::string request = upgrade_request("/", {}, extra);
    request.append(tail);
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(request),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
    const std::size_t end =
        co_await asio::async_read_until(socket_, asio::dynamic_buffer(in_), "\r\n\r\n",
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
    response_head_ = in_.substr(0, end);
    in_.erase(0, end);
    co_return parse_response(response_head_).status_code;
  }

  const std::string& response_head() const noexcept { return response_head_; }
  asio::ip::tcp::socket& socket() noexcept { return socket_; }

  // Writes `bytes`; returns the error, if any (a reset or broken pipe once
  // the server has closed).
  asio::awaitable<std::error_code> write(std::string_view bytes) {
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  // Reads the next whole frame from the server; std::nullopt once the
  // connection is closed.
  asio::awaitable<std::optional<frame>> read_frame() {
    for (;;) {
      if (!in_.empty()) {
        frame f;
        const std::size_t used = parse_frame(std::as_bytes(std::span(in_.data(), in_.size())), f);
        if (used > 0) {
          in_.erase(0, used);
          received_ += used;
          co_return f;
        }
      }
      char buffer[16 * 1024];
      std::error_code ec;
      const std::size_t n = co_await socket_.async_read_some(
          asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return std::nullopt;
      in_.append(buffer, n);
    }
  }

  // Reads frames until the server's close frame, then until the TCP
  // connection ends, and reports what it saw. Every data frame and pong on
  // the way is counted, not kept.
  asio::awaitable<observed_close> read_until_closed() {
    observed_close out;
    for (;;) {
      auto f = co_await read_frame();
      if (!f) break;
      if (f->op == opcode::close) {
        auto [code, reason] = parse_close(f->data);
        out.code = code;
        out.reason = std::move(reason);
        // Nothing may follow a close frame but the end of the connection.
        while (co_await read_frame()) {
        }
        break;
      }
      if (f->op == opcode::pong) ++out.pongs;
      if (is_data(f->op)) ++out.data_frames;
    }
    out.tcp_closed = true;
    out.bytes = received_;
    co_return out;
  }

  // Closes this end at once.
  void close() {
    std::error_code ec;
    socket_.close(ec);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::string in_;
  std::string response_head_;
  std::size_t received_ = 0;
};

}  // namespace websockets::test
