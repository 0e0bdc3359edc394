// basic_websocket<Stream>: an open WebSocket connection over any Asio
// stream, driven by C++20 coroutines (the reference's
// WebSocketCommonProtocol).
//
//   auto msg = co_await ws.recv();     // the next message
//   co_await ws.send(msg);             // echo it, text or binary alike
//   co_await ws.close();               // the closing handshake
//
// A connection reads in the background: it answers pings, queues up to
// max_queue messages for recv(), and stops reading when the queue is full,
// so a fast sender is slowed by TCP flow control. Any number of coroutines,
// on any thread, may send at once; each message goes out whole and in the
// order of the calls. Keepalive pings and the closing handshake's timeouts
// are handled too (see connection_options).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "websockets/close_code.hpp"
#include "websockets/config.hpp"
#include "websockets/connection_options.hpp"
#include "websockets/impl/connection_core.hpp"
#include "websockets/message.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/protocol.hpp"

namespace websockets {

// How one message is sent.
struct send_flags {
  // Let extensions (permessage-deflate) transform the message.
  bool compress = true;
};

// Waits for the pong that answers a ping. Returned by basic_websocket::ping().
class pong_waiter {
 public:
  pong_waiter() = default;

  // Suspends until the pong arrives and returns the round-trip time; throws
  // connection_closed if the connection closes first.
  asio::awaitable<duration> wait() {
    if (!state_) throw std::logic_error("pong_waiter: no ping to wait for");
    if (!enter_) throw std::logic_error("pong_waiter: no connection");
    if (!enter_->in_strand()) co_return co_await enter_->via_strand(wait());
    while (!state_->done) {
      std::error_code ec;
      co_await enter_->wait(state_->waiters, asio::redirect_error(asio::use_awaitable, ec));
      co_await enter_->switch_to();
    }
    if (state_->error) std::rethrow_exception(state_->error);
    co_return state_->rtt;
  }

  // Whether the pong arrived (or the connection closed).
  bool done() const noexcept { return state_ && state_->done; }

 private:
  template <class>
  friend class basic_websocket;

  // Reaches the connection's strand without knowing its stream type.
  struct strand_access {
    virtual ~strand_access() = default;
    virtual bool in_strand() const noexcept = 0;
    virtual asio::awaitable<void> switch_to() = 0;
    virtual asio::awaitable<duration> via_strand(asio::awaitable<duration> body) = 0;
    virtual asio::awaitable<void> wait(std::vector<detail::pending_op>& list,
                                       asio::redirect_error_t<asio::use_awaitable_t<>> token) = 0;
  };

  std::shared_ptr<detail::pong_state> state_;
  std::shared_ptr<strand_access> enter_;
};

template <class Stream>
class basic_websocket {
  using core_type = detail::connection_core<Stream>;

 public:
  using next_layer_type = Stream;
  using executor_type = asio::any_io_executor;

  // Takes over `stream`, on which the opening handshake is done, and starts
  // reading. `r` says which end this is; `handshake` what was negotiated.
  basic_websocket(Stream stream, role r, const connection_options& options = {},
                  opening_handshake handshake = {})
      : core_(std::make_shared<core_type>(std::move(stream), r, options, std::move(handshake))) {
    core_->start();
  }

  // A connection that isn't one (yet): every operation throws
  // invalid_state, is_closed() is true. Assign a real one to use it.
  basic_websocket() noexcept = default;

  basic_websocket(basic_websocket&&) noexcept = default;
  basic_websocket& operator=(basic_websocket&& o) noexcept {
    if (this != &o) {
      release();
      core_ = std::move(o.core_);
    }
    return *this;
  }
  basic_websocket(const basic_websocket&) = delete;
  basic_websocket& operator=(const basic_websocket&) = delete;

  // A connection dropped while open is closed in the background with 1001
  // (going away), within the close timeout.
  ~basic_websocket() { release(); }

  // ---- Receiving --------------------------------------------------------

  // Returns the next message. Once the connection is closed and the queue
  // is empty, throws connection_closed (connection_closed_ok after a normal
  // close, connection_closed_error otherwise). Cancelling recv() (with a
  // cancellation slot, or `||` and a timer) loses no message: the next call
  // returns it. Only one coroutine may wait in recv() at a time; a second
  // throws std::logic_error.
  asio::awaitable<message> recv() { return core_type::template receive<false>(core_); }

  // The next message, or std::nullopt once the connection closed normally
  // (1000 or 1001): `while (auto m = co_await ws.next()) ...` reads until the
  // end. Throws connection_closed_error after any other close.
  asio::awaitable<std::optional<message>> next() {
    return core_type::template receive<true>(core_);
  }

  // ---- Sending ----------------------------------------------------------

  // Sends a text message; `text` must be valid UTF-8. With `flags.compress`
  // false, the message goes out uncompressed even when permessage-deflate
  // is on (for data that doesn't compress, or is already compressed).
  asio::awaitable<void> send(std::string_view text, send_flags flags = {}) {
    return core_type::send_message(core_, opcode::text, as_bytes(text), flags.compress);
  }
  asio::awaitable<void> send(const char* text, send_flags flags = {}) {
    return send(std::string_view(text), flags);
  }
  asio::awaitable<void> send(const std::string& text, send_flags flags = {}) {
    return send(std::string_view(text), flags);
  }

  // Sends a binary message.
  asio::awaitable<void> send(std::span<const std::byte> bytes, send_flags flags = {}) {
    return core_type::send_message(core_, opcode::binary, bytes, flags.compress);
  }

  // Sends `m` as it is: text or binary.
  asio::awaitable<void> send(const message& m, send_flags flags = {}) {
    return core_type::send_message(core_, m.type(), m.bytes(), flags.compress);
  }

  // Sends one message in several frames, one per element of `fragments`:
  // strings make a text message, byte spans (or vectors of std::byte) a
  // binary one, `message` elements must all have the same type. Other
  // messages wait until the last frame is out; pings and pongs don't.
  template <std::ranges::input_range Range>
  asio::awaitable<void> send_fragments(Range&& fragments) {
    return core_type::send_fragments(core_, std::forward<Range>(fragments),
                                     [](const auto& f) { return fragment_of(f); });
  }

  // Sends a ping and returns a waiter for its pong. The payload is `data`,
  // or four random bytes when `data` is empty. Throws std::logic_error when a
  // ping with the same payload is still waiting for its pong.
  asio::awaitable<pong_waiter> ping(std::string_view data = {}) {
    auto c = core_;
    pong_waiter w;
    w.state_ = co_await core_type::ping(c, data);
    w.enter_ = std::make_shared<strand_access>(std::move(c));
    co_return w;
  }

  // Sends an unsolicited pong (a one-way heartbeat).
  asio::awaitable<void> pong(std::string_view data = {}) { return core_type::pong(core_, data); }

  // ---- Closing ----------------------------------------------------------

  // Runs the closing handshake with `code` and `reason` and waits until the
  // TCP connection is closed: within 4 × close_timeout on a server, 5 × on
  // a client, whatever the peer does. Does nothing more once the connection
  // is closing or closed, so it is safe to call from several coroutines.
  asio::awaitable<void> close(std::uint16_t code = code_of(websockets::close_code::normal_closure),
                              std::string_view reason = {}) {
    return core_type::close(core_, code, reason);
  }
  // The same, with a code by name: close(websockets::close_code::going_away).
  asio::awaitable<void> close(websockets::close_code code, std::string_view reason = {}) {
    return core_type::close(core_, code_of(code), reason);
  }

  // Waits until the connection is closed, whoever closes it.
  asio::awaitable<void> wait_closed() { return core_type::wait_closed(core_); }

  // ---- Observers --------------------------------------------------------
  // They read state the connection's strand writes: call them from a
  // coroutine that uses the connection, or when no other thread does.

  // True while messages may be sent and received.
  bool is_open() const noexcept { return core_ && core_->is_open(); }
  // True once the TCP connection is closed. Both are false while the
  // connection is closing.
  bool is_closed() const noexcept { return !core_ || core_->is_closed(); }

  // The close code: that of the peer's close frame, or 1006 if there was
  // none; std::nullopt until the connection is closed.
  std::optional<std::uint16_t> close_code() const {
    if (!is_closed() || !core_) return std::nullopt;
    return core_->close_code();
  }
  // The close reason; std::nullopt until the connection is closed.
  std::optional<std::string> close_reason() const {
    if (!is_closed() || !core_) return std::nullopt;
    return std::string(core_->close_reason());
  }

  // The path and query of the request ("/chat?room=1").
  const std::string& path() const noexcept { return handshake().path; }
  const headers& request_headers() const noexcept { return handshake().request_headers; }
  const headers& response_headers() const noexcept { return handshake().response_headers; }
  // The negotiated subprotocol, if any.
  const std::optional<std::string>& subprotocol() const noexcept { return handshake().subprotocol; }
  // The host and port of the URI a client connected to (the request's Host
  // on a server), and whether the connection is encrypted.
  const std::string& host() const noexcept { return handshake().host; }
  std::uint16_t port() const noexcept { return handshake().port; }
  bool secure() const noexcept { return handshake().secure; }

  // This end's and the peer's addresses (a default endpoint when the stream
  // has none, or once it is closed).
  auto local_endpoint() const {
    using endpoint = decltype(detail::local_endpoint(std::declval<Stream&>()));
    return core_ ? detail::local_endpoint(core_->stream()) : endpoint{};
  }
  auto remote_endpoint() const {
    using endpoint = decltype(detail::remote_endpoint(std::declval<Stream&>()));
    return core_ ? detail::remote_endpoint(core_->stream()) : endpoint{};
  }

  // The negotiated extensions.
  const std::vector<std::unique_ptr<extension>>& extensions() const noexcept {
    static const std::vector<std::unique_ptr<extension>> none;
    return core_ ? core_->extensions() : none;
  }

  // Messages received and waiting for recv(), and bytes waiting to be
  // written: what max_queue and write_limit bound.
  std::size_t queued_messages() const noexcept { return core_ ? core_->queued_messages() : 0; }
  std::size_t write_buffered() const noexcept {
    return core_ ? static_cast<std::size_t>(core_->write_buffered()) : 0;
  }

  // The connection's strand, or the stream's executor when one thread runs
  // everything (an io_context made with a concurrency hint of 1).
  // These two need a connection (not a default-constructed object).
  executor_type get_executor() const noexcept { return core_->handler_executor(); }
  Stream& next_layer() noexcept { return core_->stream(); }
  const Stream& next_layer() const noexcept { return core_->stream(); }

 private:
  const opening_handshake& handshake() const noexcept {
    static const opening_handshake none;
    return core_ ? core_->handshake() : none;
  }

  struct strand_access final : pong_waiter::strand_access {
    explicit strand_access(std::shared_ptr<core_type> c) : core(std::move(c)) {}
    bool in_strand() const noexcept override { return core->in_strand(); }
    asio::awaitable<void> switch_to() override {
      if (!core->in_strand()) co_await core->to_strand();
    }
    asio::awaitable<duration> via_strand(asio::awaitable<duration> body) override {
      return core_type::via_strand(core, std::move(body));
    }
    asio::awaitable<void> wait(std::vector<detail::pending_op>& list,
                               asio::redirect_error_t<asio::use_awaitable_t<>> token) override {
      co_await core->async_wait(list, token);
    }
    std::shared_ptr<core_type> core;
  };

  static std::span<const std::byte> as_bytes(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
  }

  template <class T>
  static std::pair<opcode, std::span<const std::byte>> fragment_of(const T& f) {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, message>) {
      return {f.type(), f.bytes()};
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
      return {opcode::text, as_bytes(std::string_view(f))};
    } else if constexpr (std::is_convertible_v<const U&, std::span<const std::byte>>) {
      return {opcode::binary, std::span<const std::byte>(f)};
    } else {
      static_assert(sizeof(U) == 0,
                    "send_fragments(): elements must be strings, byte spans or messages");
    }
  }

  // Lets go of the connection; closes it in the background if still open.
  void release() noexcept {
    if (core_) core_type::release(std::move(core_));
  }

  std::shared_ptr<core_type> core_;
};

}  // namespace websockets
