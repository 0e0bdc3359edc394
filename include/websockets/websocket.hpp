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

#include "websockets/connection_options.hpp"
#include "websockets/detail/connection_core.hpp"
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
  asio::awaitable<message> recv() { return receive<false>(core_); }

  // The next message, or std::nullopt once the connection closed normally
  // (1000 or 1001): `while (auto m = co_await ws.next()) ...` reads until the
  // end. Throws connection_closed_error after any other close.
  asio::awaitable<std::optional<message>> next() { return receive<true>(core_); }

  // ---- Sending ----------------------------------------------------------

  // Sends a text message; `text` must be valid UTF-8. With `flags.compress`
  // false, the message goes out uncompressed even when permessage-deflate
  // is on (for data that doesn't compress, or is already compressed).
  asio::awaitable<void> send(std::string_view text, send_flags flags = {}) {
    return send_message(opcode::text, as_bytes(text), flags.compress);
  }
  asio::awaitable<void> send(const char* text, send_flags flags = {}) {
    return send(std::string_view(text), flags);
  }
  asio::awaitable<void> send(const std::string& text, send_flags flags = {}) {
    return send(std::string_view(text), flags);
  }

  // Sends a binary message.
  asio::awaitable<void> send(std::span<const std::byte> bytes, send_flags flags = {}) {
    return send_message(opcode::binary, bytes, flags.compress);
  }

  // Sends `m` as it is: text or binary.
  asio::awaitable<void> send(const message& m, send_flags flags = {}) {
    return send_message(m.type(), m.bytes(), flags.compress);
  }

  // Sends one message in several frames, one per element of `fragments`:
  // strings make a text message, byte spans (or vectors of std::byte) a
  // binary one, `message` elements must all have the same type. Other
  // messages wait until the last frame is out; pings and pongs don't.
  template <std::ranges::input_range Range>
  asio::awaitable<void> send_fragments(Range&& fragments) {
    auto c = core_;
    if (!c) throw invalid_state("send_fragments() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, send_fragments(std::forward<Range>(fragments)));
      co_return;
    }
    while (c->fragmenting_) {
      co_await c->async_wait(c->fragment_waiters_, asio::use_awaitable);
      if (!c->in_strand()) co_await c->to_strand();
    }
    c->fragmenting_ = true;
    struct fragmenting_guard {
      core_type* c;
      bool open = true;
      ~fragmenting_guard() {
        c->fragmenting_ = false;
        core_type::complete_all(c->fragment_waiters_);
      }
    } guard{c.get()};
    std::optional<opcode> type;
    bool any = false;
    auto it = std::ranges::begin(fragments);
    const auto end = std::ranges::end(fragments);
    while (it != end) {
      auto [op, data] = fragment_of(*it);
      ++it;
      const bool last = it == end;
      if (type && *type != op) {
        c->fail(1011, "send_fragments() got fragments of different types");
        throw std::invalid_argument("send_fragments(): all fragments must be text or all binary");
      }
      const bool first = !type;
      type = op;
      any = true;
      if (!c->is_open()) co_await throw_closed(c);
      if (const auto until = queue_frame(*c, first ? op : opcode::cont, data, last, true))
        co_await wait_sent(c, until);
    }
    if (!any) co_return;  // an empty range sends nothing, as in the reference
  }

  // Sends a ping and returns a waiter for its pong. The payload is `data`,
  // or four random bytes when `data` is empty. Throws std::logic_error when a
  // ping with the same payload is still waiting for its pong.
  asio::awaitable<pong_waiter> ping(std::string_view data = {}) {
    auto c = core_;
    if (!c) throw invalid_state("ping() on a moved-from connection");
    if (!c->in_strand()) co_return co_await via_strand(c, ping(data));
    if (!c->is_open()) co_await throw_closed(c);
    auto state = std::make_shared<detail::pong_state>();
    if (data.empty()) {
      do {
        std::array<std::byte, 4> random;
        detail::fill_random(random);
        state->payload.assign(reinterpret_cast<const char*>(random.data()), random.size());
      } while (c->ping_pending(state->payload));
    } else {
      if (data.size() > 125) throw std::invalid_argument("a ping's payload is at most 125 bytes");
      if (c->ping_pending(data))
        throw std::logic_error("already waiting for a pong with the same data");
      state->payload.assign(data);
    }
    c->send_ping(state);
    pong_waiter w;
    w.state_ = std::move(state);
    w.enter_ = std::make_shared<strand_access>(c);
    co_return w;
  }

  // Sends an unsolicited pong (a one-way heartbeat).
  asio::awaitable<void> pong(std::string_view data = {}) {
    auto c = core_;
    if (!c) throw invalid_state("pong() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, pong(data));
      co_return;
    }
    if (!c->is_open()) co_await throw_closed(c);
    c->proto_.send_pong(data);
    c->flush();
  }

  // ---- Closing ----------------------------------------------------------

  // Runs the closing handshake with `code` and `reason` and waits until the
  // TCP connection is closed: within 4 × close_timeout on a server, 5 × on
  // a client, whatever the peer does. Does nothing more once the connection
  // is closing or closed, so it is safe to call from several coroutines.
  asio::awaitable<void> close(std::uint16_t code = 1000, std::string_view reason = {}) {
    auto c = core_;
    if (!c) co_return;
    if (!c->in_strand()) {
      co_await via_strand(c, close(code, reason));
      co_return;
    }
    c->start_close(code, reason);
    co_await wait_closed_on(c);
  }

  // Waits until the connection is closed, whoever closes it.
  asio::awaitable<void> wait_closed() {
    auto c = core_;
    if (!c) co_return;
    if (!c->in_strand()) {
      co_await via_strand(c, wait_closed());
      co_return;
    }
    co_await wait_closed_on(c);
  }

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
    return core_->proto_.close_code();
  }
  // The close reason; std::nullopt until the connection is closed.
  std::optional<std::string> close_reason() const {
    if (!is_closed() || !core_) return std::nullopt;
    return std::string(core_->proto_.close_reason());
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
    return core_ ? detail::local_endpoint(core_->stream_) : endpoint{};
  }
  auto remote_endpoint() const {
    using endpoint = decltype(detail::remote_endpoint(std::declval<Stream&>()));
    return core_ ? detail::remote_endpoint(core_->stream_) : endpoint{};
  }

  // The negotiated extensions.
  const std::vector<std::unique_ptr<extension>>& extensions() const noexcept {
    static const std::vector<std::unique_ptr<extension>> none;
    return core_ ? core_->proto_.extensions() : none;
  }

  // Messages received and waiting for recv(), and bytes waiting to be
  // written: what max_queue and write_limit bound.
  std::size_t queued_messages() const noexcept { return core_ ? core_->queue_.size() : 0; }
  std::size_t write_buffered() const noexcept {
    return core_ ? static_cast<std::size_t>(core_->write_buffered()) : 0;
  }

  // The connection's strand, or the stream's executor when one thread runs
  // everything (an io_context made with a concurrency hint of 1).
  // These two need a connection (not a default-constructed object).
  executor_type get_executor() const noexcept { return core_->handler_executor(); }
  Stream& next_layer() noexcept { return core_->stream_; }
  const Stream& next_layer() const noexcept { return core_->stream_; }

 private:
  const opening_handshake& handshake() const noexcept {
    static const opening_handshake none;
    return core_ ? core_->handshake_ : none;
  }

  struct strand_access final : pong_waiter::strand_access {
    explicit strand_access(std::shared_ptr<core_type> c) : core(std::move(c)) {}
    bool in_strand() const noexcept override { return core->in_strand(); }
    asio::awaitable<void> switch_to() override {
      if (!core->in_strand()) co_await core->to_strand();
    }
    asio::awaitable<duration> via_strand(asio::awaitable<duration> body) override {
      return basic_websocket::via_strand(core, std::move(body));
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

  // Waits for the next message. Once the connection is closed and the
  // queue empty, throws how it closed, or, for next(), returns no message
  // after a normal close.
  // Cancelling it (a cancellation slot, or `||` and a timer) loses no
  // message: one requested at any point, even before this coroutine
  // reached the strand or after a message woke it, means none is taken,
  // because whoever cancelled may drop what it returns.
  template <bool for_next>
  using received_t = std::conditional_t<for_next, std::optional<message>, message>;

  // `cancelled` is set when this runs for receive_from_afar(): then the
  // cancellation comes through it, not through this coroutine's slot.
  template <bool for_next>
  static asio::awaitable<received_t<for_next>> receive(
      std::shared_ptr<core_type> c, std::shared_ptr<const std::atomic<bool>> cancelled = {}) {
    if (!c) throw invalid_state("recv() on a moved-from connection");
    if (!c->in_strand()) co_return co_await receive_from_afar<for_next>(std::move(c));
    if (c->recv_busy_)
      throw std::logic_error(
          "recv() called while another coroutine is already waiting for the next message");
    c->recv_busy_ = true;
    c->recv_cancelled_ = cancelled.get();
    struct busy_guard {
      core_type* c;
      ~busy_guard() {
        c->recv_busy_ = false;
        c->recv_cancelled_ = nullptr;
      }
    } guard{c.get()};
    auto cs = co_await asio::this_coro::cancellation_state;
    while (true) {
      if (cancelled ? cancelled->load(std::memory_order_acquire)
                    : cs.cancelled() != asio::cancellation_type::none)
        throw std::system_error(asio::error::operation_aborted, "recv() cancelled");
      if (!c->queue_.empty()) {
        message m = c->queue_.pop_front();
        c->message_consumed();
        co_return m;
      }
      if (c->is_closed()) {
        if constexpr (for_next) {
          if (c->closed_ok()) co_return std::nullopt;
        }
        std::rethrow_exception(c->closed_exception());
      }
      // About to wait: what the handler sent since the last write goes out
      // now rather than at the end of this turn of the event loop.
      c->flush();
      c->release_idle_buffers();
      std::error_code ec;
      c->sends_without_yield_ = 0;
      co_await c->async_wait(c->recv_waiter_, asio::redirect_error(asio::use_awaitable, ec));
      if (!c->in_strand()) co_await c->to_strand();
      if (ec) throw std::system_error(ec, "recv() cancelled");
    }
  }

  // recv() from a coroutine that runs elsewhere than on the connection's
  // strand (a client's coroutine on an io_context run by several threads).
  // Asio emits a cancellation on the caller's executor, so this coroutine's
  // cancellation slot is only touched here: it gets a handler that forwards
  // the cancellation to the strand, where receive() waits in a coroutine of
  // its own. A message taken as the cancellation came goes back to the
  // front of the queue, since whoever cancelled won't look at it.
  template <bool for_next>
  static asio::awaitable<received_t<for_next>> receive_from_afar(std::shared_ptr<core_type> c) {
    auto cs = co_await asio::this_coro::cancellation_state;
    auto cancelled =
        std::make_shared<std::atomic<bool>>(cs.cancelled() != asio::cancellation_type::none);
    if (cs.slot().is_connected()) {
      cs.slot().assign([weak = std::weak_ptr<core_type>(c), cancelled](asio::cancellation_type t) {
        if (t == asio::cancellation_type::none) return;
        cancelled->store(true, std::memory_order_release);
        if (auto self = weak.lock())
          self->run_serialized([self, cancelled] { self->cancel_remote_receive(cancelled.get()); });
      });
    }
    auto received = co_await via_strand(c, receive<for_next>(c, cancelled));
    if (!cancelled->load(std::memory_order_acquire)) co_return received;
    // Not a co_await: this coroutine is cancelled, so Asio would throw
    // before the message is back. The strand runs this before any later
    // recv(), which reaches it the same way.
    auto give_back = [&c](message&& m) {
      c->run_serialized([c, m = std::move(m)]() mutable { c->queue_.push_front(std::move(m)); });
    };
    if constexpr (for_next) {
      if (!received) co_return received;  // closed: nothing was taken
      give_back(std::move(*received));
    } else {
      give_back(std::move(received));
    }
    throw std::system_error(asio::error::operation_aborted, "recv() cancelled");
  }

  // Once the connection is closing, waits for it to close, then throws how
  // it closed (as the reference's ensure_open()). Callers check is_open()
  // first, so the common case costs no coroutine.
  static asio::awaitable<void> throw_closed(std::shared_ptr<core_type> c) {
    co_await wait_closed_on(c);
    std::rethrow_exception(c->closed_exception());
  }

  static asio::awaitable<void> wait_closed_on(std::shared_ptr<core_type> c) {
    while (!c->is_closed()) {
      std::error_code ec;
      co_await c->async_wait(c->closed_waiters_, asio::redirect_error(asio::use_awaitable, ec));
      if (!c->in_strand()) co_await c->to_strand();
    }
  }

  asio::awaitable<void> send_message(opcode op, std::span<const std::byte> data, bool compress) {
    auto c = core_;
    if (!c) throw invalid_state("send() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, send_message(op, data, compress));
      co_return;
    }
    // A fragmented message goes out whole before any other message.
    while (c->fragmenting_) {
      co_await c->async_wait(c->fragment_waiters_, asio::use_awaitable);
      if (!c->in_strand()) co_await c->to_strand();
    }
    if (!c->is_open()) co_await throw_closed(c);
    if (const auto until = queue_frame(*c, op, data, true, compress)) {
      co_await wait_sent(c, until);
    } else if (++c->sends_without_yield_ >= sends_between_yields) {
      // The socket kept up with every send since the last suspension:
      // let the rest of the thread run before the caller sends more.
      c->sends_without_yield_ = 0;
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  }

  static constexpr std::uint32_t sends_between_yields = 256;

  // Runs `body` on the connection's strand, in a coroutine of its own, and
  // resumes the caller on its own executor with the result or the
  // exception: the code after `co_await ws.send()` runs where the code
  // before it ran (on the caller's strand, if it has one), and nothing of
  // the caller's cancellation state is touched from the connection's strand
  // (Asio emits cancellations on the caller's executor).
  template <class T>
  static asio::awaitable<T> via_strand(std::shared_ptr<core_type> c, asio::awaitable<T> body) {
    return asio::co_spawn(
        *c->strand_, std::move(body),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  }

  // Queues one frame; returns the byte count the sender must wait for
  // (0: none): all of a borrowed payload written, or the buffer drained to
  // its low-water mark once it passed write_limit.
  static std::uint64_t queue_frame(core_type& c, opcode op, std::span<const std::byte> data,
                                   bool fin, bool compress) {
    const bool borrowed = c.proto_.send_data(op, data, fin, compress, true);
    c.flush_soon();
    if (borrowed) return c.proto_.bytes_queued();
    if (c.write_buffered() > c.options_.write_limit) return c.low_water_target();
    return 0;
  }

  static asio::awaitable<void> wait_sent(std::shared_ptr<core_type> c, std::uint64_t until) {
    while (c->proto_.bytes_sent() < until) {
      if (c->is_closed() && !c->writing_) std::rethrow_exception(c->closed_exception());
      c->sends_without_yield_ = 0;
      co_await c->async_wait_sent(until, asio::use_awaitable);
      if (!c->in_strand()) co_await c->to_strand();
    }
  }

  // Lets go of the connection; closes it in the background if still open.
  void release() noexcept {
    if (!core_) return;
    auto c = std::move(core_);
    try {
      c->run_serialized([c] {
        if (!c->is_closed()) c->start_close(1001, "");
      });
    } catch (...) {
    }
  }

  std::shared_ptr<core_type> core_;
};

}  // namespace websockets
