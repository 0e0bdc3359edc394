// The state of one open connection and the I/O that drives its protocol
// object: a reader that keeps parsing while the message queue has room, a
// writer that sends everything queued in one gather write, timers for
// keepalive and closing, and the waiters of recv(), send(), ping(), close().
//
// Everything here runs on one strand, so coroutines on any thread may use a
// connection at once. Waiters are completed last in each handler, because
// completing one may resume a coroutine inline.
#pragma once

#include <array>
#include <asio/async_result.hpp>
#include <asio/basic_waitable_timer.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>
#include <asio/redirect_error.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "websockets/close_code.hpp"
#include "websockets/connection_options.hpp"
#include "websockets/detail/random.hpp"
#include "websockets/detail/string_pool.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/impl/executor.hpp"
#include "websockets/impl/pending_op.hpp"
#include "websockets/impl/receive_queue.hpp"
#include "websockets/impl/send_gate.hpp"
#include "websockets/impl/stream_traits.hpp"
#include "websockets/message.hpp"
#include "websockets/opening_handshake.hpp"
#include "websockets/protocol.hpp"

namespace websockets::detail {

// What a ping waits for: its pong, or the end of the connection.
struct pong_state {
  std::string payload;
  std::chrono::steady_clock::time_point sent;
  bool done = false;
  duration rtt{};
  std::exception_ptr error;
  std::vector<pending_op> waiters;
};

// Receive buffers of idle connections go back to a per-thread pool, so an
// idle connection holds none and a busy one doesn't allocate per read.
class receive_buffer_pool {
 public:
  static std::vector<std::byte> take() {
    auto& p = pool();
    if (p.empty()) return {};
    auto b = std::move(p.back());
    p.pop_back();
    return b;
  }
  static void give(std::vector<std::byte>&& b) {
    auto& p = pool();
    if (b.capacity() != 0 && b.capacity() <= max_kept_size && p.size() < max_kept)
      p.push_back(std::move(b));
  }

 private:
  static constexpr std::size_t max_kept = 16;
  static constexpr std::size_t max_kept_size = 1 << 20;
  static std::vector<std::vector<std::byte>>& pool() {
    thread_local std::vector<std::vector<std::byte>> p;
    return p;
  }
};

// Coroutines suspended on a connection (in recv(), close(), ...) are owned
// by it, and hold it: a cycle that nothing in the io_context would break
// when the io_context is destroyed with them still suspended. This service
// of the execution context breaks it at shutdown, dropping the suspended
// operations as Asio drops its own.
class connection_registry final : public asio::execution_context::service {
 public:
  using key_type = connection_registry;
  static inline asio::execution_context::id id;

  // What a registered connection does at shutdown.
  struct entry {
    virtual void drop_waiters() noexcept = 0;
    virtual std::shared_ptr<void> keep_alive() noexcept = 0;
    entry* prev = nullptr;
    entry* next = nullptr;

   protected:
    ~entry() = default;
  };

  explicit connection_registry(asio::execution_context& ctx)
      : asio::execution_context::service(ctx) {}

  void add(entry* e) {
    std::lock_guard lock(mutex_);
    e->next = head_;
    if (head_) head_->prev = e;
    head_ = e;
  }

  void remove(entry* e) noexcept {
    std::lock_guard lock(mutex_);
    if (e->prev)
      e->prev->next = e->next;
    else if (head_ == e)
      head_ = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = nullptr;
  }

 private:
  void shutdown() override {
    // Keep every connection alive while their waiters go, since dropping a
    // waiter may drop the last other reference to a connection.
    std::vector<std::shared_ptr<void>> alive;
    std::vector<entry*> entries;
    {
      std::lock_guard lock(mutex_);
      for (entry* e = head_; e; e = e->next) {
        if (auto p = e->keep_alive()) {
          alive.push_back(std::move(p));
          entries.push_back(e);
        }
      }
    }
    for (entry* e : entries) e->drop_waiters();
  }

  std::mutex mutex_;
  entry* head_ = nullptr;
};

template <class Stream>
// final: clang warns when make_shared destroys a class with virtual
// functions (the registry entry's) and no virtual destructor.
class connection_core final : public std::enable_shared_from_this<connection_core<Stream>>,
                              private connection_registry::entry {
 public:
  using executor_type = typename Stream::executor_type;
  using strand_type = asio::strand<executor_type>;
  using timer_type =
      asio::basic_waitable_timer<std::chrono::steady_clock,
                                 asio::wait_traits<std::chrono::steady_clock>, executor_type>;

  connection_core(Stream&& stream, role r, const connection_options& options,
                  opening_handshake&& handshake)
      : stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        proto_(r, options.max_size, std::move(handshake.extensions)),
        options_(options),
        handshake_(std::move(handshake)),
        queue_(options.max_queue),
        gate_(options.write_limit),
        keepalive_timer_(executor_) {
    if (!single_threaded(executor_)) strand_.emplace(asio::make_strand(executor_));
    proto_.limit_auto_replies(gate_.write_limit());
    // A violation waits for the application to take the messages before it
    // (commit_failure()); the close timeout bounds the wait, so without one
    // the connection fails at once.
    proto_.defer_failure(options_.close_timeout.has_value());
    handshake_.extensions.clear();
    registry_ =
        &asio::use_service<connection_registry>(asio::query(executor_, asio::execution::context));
    registry_->add(this);
  }

  connection_core(const connection_core&) = delete;
  connection_core& operator=(const connection_core&) = delete;
  ~connection_core() { registry_->remove(this); }

  // Starts reading (bytes that came with the handshake first) and the
  // keepalive pings. Call once, right after construction.
  void start() {
    run_serialized([self = this->shared_from_this()] {
      if (!self->handshake_.leftover.empty())
        self->proto_.receive_data(std::string_view(self->handshake_.leftover));
      // The handshake's read buffer may come along with its capacity.
      std::string().swap(self->handshake_.leftover);
      self->arm_keepalive();
      self->after_input();
    });
  }

  // Whether the caller may touch the connection's state now: it runs on
  // the strand, or there is no strand because one thread runs everything.
  bool in_strand() const noexcept { return !strand_ || strand_->running_in_this_thread(); }

  // co_await this to continue on the connection's strand (only when
  // in_strand() is false, so there is a strand).
  auto to_strand() { return asio::dispatch(asio::bind_executor(*strand_, asio::use_awaitable)); }

  // Runs `f` serialized with everything else on this connection: now if
  // possible, else queued.
  template <class F>
  void run_serialized(F&& f) {
    if (strand_)
      asio::dispatch(*strand_, std::forward<F>(f));
    else
      asio::dispatch(executor_, std::forward<F>(f));
  }

  // The executor handlers default to: the strand, or the stream's.
  asio::any_io_executor handler_executor() const {
    if (strand_) return *strand_;
    return executor_;
  }

  // Starts an operation with `handler` bound to the strand, if any.
  template <class Initiate, class Handler>
  void bound(Initiate&& initiate, Handler&& handler) {
    if (strand_)
      initiate(asio::bind_executor(*strand_, std::forward<Handler>(handler)));
    else
      initiate(std::forward<Handler>(handler));
  }

  // ---- Waiting ----------------------------------------------------------

  // Suspends until `w` is completed, or the operation is cancelled through
  // its cancellation slot (then with operation_aborted).
  template <class Token>
  auto async_wait(cancellable_waiter& w, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this, &w](auto handler) {
          const std::uint64_t gen = ++w.generation;
          auto slot = asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected()) {
            slot.assign([weak = this->weak_from_this(), &w, gen](asio::cancellation_type t) {
              if (t == asio::cancellation_type::none) return;
              if (auto self = weak.lock()) {
                self->run_serialized([self, &w, gen] {
                  if (w.generation == gen && w.op) w.op.complete(asio::error::operation_aborted);
                });
              }
            });
          }
          w.op = pending_op(std::move(handler), handler_executor());
        },
        token);
  }

  // Suspends until `list` is completed (no cancellation).
  template <class Token>
  auto async_wait(std::vector<pending_op>& list, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this, &list](auto handler) { list.emplace_back(std::move(handler), handler_executor()); },
        token);
  }

  static void complete_all(std::vector<pending_op>& list, std::error_code ec = {}) {
    auto ops = std::move(list);
    list.clear();
    for (auto& op : ops) op.complete(ec);
  }

  // ---- State ------------------------------------------------------------

  bool is_open() const noexcept { return !closed_ && proto_.state() == connection_state::open; }
  bool is_closed() const noexcept { return closed_; }
  std::uint64_t write_buffered() const noexcept {
    return proto_.bytes_queued() - proto_.bytes_sent();
  }

  // Whether the connection closed normally (closed_exception() is
  // connection_closed_ok).
  bool closed_ok() const noexcept { return proto_.closed_ok(); }

  // The exception for an operation on a connection that is closed or
  // closing.
  std::exception_ptr closed_exception() const { return proto_.closed_exception(); }

  // ---- Observers --------------------------------------------------------

  std::uint16_t close_code() const noexcept { return proto_.close_code(); }
  std::string_view close_reason() const noexcept { return proto_.close_reason(); }
  const opening_handshake& handshake() const noexcept { return handshake_; }
  const std::vector<std::unique_ptr<extension>>& extensions() const noexcept {
    return proto_.extensions();
  }
  std::size_t queued_messages() const noexcept { return queue_.size(); }
  Stream& stream() noexcept { return stream_; }
  const Stream& stream() const noexcept { return stream_; }

  // ---- Operations -------------------------------------------------------
  // What basic_websocket's calls await. Each takes the connection as a
  // shared_ptr, which keeps it alive while the operation is suspended; a
  // null one (a moved-from basic_websocket) makes it throw invalid_state.
  // Called off the strand, each runs on it in a coroutine of its own.

  template <bool for_next>
  using received_t = std::conditional_t<for_next, std::optional<message>, message>;

  // Waits for the next message. Once the connection is closed and the
  // queue empty, throws how it closed, or, for next(), returns no message
  // after a normal close. Cancelling it (a cancellation slot, or `||` and a
  // timer) loses no message: one requested at any point, even before this
  // coroutine reached the strand or after a message woke it, means none is
  // taken, because whoever cancelled may drop what it returns.
  // `cancelled` is set when this runs for receive_from_afar(): then the
  // cancellation comes through it, not through this coroutine's slot.
  template <bool for_next>
  static asio::awaitable<received_t<for_next>> receive(
      std::shared_ptr<connection_core> c, std::shared_ptr<const std::atomic<bool>> cancelled = {}) {
    if (!c) throw invalid_state("recv() on a moved-from connection");
    if (!c->in_strand()) co_return co_await receive_from_afar<for_next>(std::move(c));
    c->queue_.begin_receive(cancelled.get());
    struct receiving_guard {
      receive_queue& q;
      ~receiving_guard() { q.end_receive(); }
    } guard{c->queue_};
    auto cs = co_await asio::this_coro::cancellation_state;
    while (true) {
      if (cancelled ? cancelled->load(std::memory_order_acquire)
                    : cs.cancelled() != asio::cancellation_type::none)
        throw std::system_error(asio::error::operation_aborted, "recv() cancelled");
      if (!c->queue_.empty()) {
        message m = c->queue_.take();
        if (c->queue_.resume_reader()) c->after_input();
        co_return m;
      }
      if (c->is_closed()) {
        if constexpr (for_next) {
          if (c->closed_ok()) co_return std::nullopt;
        }
        std::rethrow_exception(c->closed_exception());
      }
      // Every message before the peer's violation is taken, and the
      // answers to them are queued: the close frame goes out after them.
      c->commit_failure();
      // About to wait: what the handler sent since the last write goes out
      // now rather than at the end of this turn of the event loop.
      c->flush();
      c->release_idle_buffers();
      std::error_code ec;
      c->gate_.suspending();
      co_await c->async_wait(c->queue_.waiter(), asio::redirect_error(asio::use_awaitable, ec));
      if (!c->in_strand()) co_await c->to_strand();
      if (ec) throw std::system_error(ec, "recv() cancelled");
    }
  }

  // Sends one whole message.
  static asio::awaitable<void> send_message(std::shared_ptr<connection_core> c, opcode op,
                                            std::span<const std::byte> data, bool compress) {
    if (!c) throw invalid_state("send() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, send_message(c, op, data, compress));
      co_return;
    }
    if (c->gate_.fragmenting()) co_await wait_for_fragments(c);  // no coroutine frame otherwise
    if (!c->is_open()) co_await throw_closed(c);
    if (const auto until = c->queue_frame(op, data, true, compress)) {
      co_await wait_sent(c, until);
    } else if (c->gate_.sent_without_waiting()) {
      // The socket kept up with every send since the last suspension:
      // let the rest of the thread run before the caller sends more.
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  }

  // Sends one message in several frames, one per element of `fragments`
  // (text or binary as fragment_of() says). Other messages wait until the
  // last frame is out; pings and pongs don't.
  template <class Range, class FragmentOf>
  static asio::awaitable<void> send_fragments(std::shared_ptr<connection_core> c, Range&& fragments,
                                              FragmentOf fragment_of) {
    if (!c) throw invalid_state("send_fragments() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, send_fragments(c, std::forward<Range>(fragments), fragment_of));
      co_return;
    }
    if (c->gate_.fragmenting()) co_await wait_for_fragments(c);  // no coroutine frame otherwise
    c->gate_.begin_fragments();
    struct fragmenting_guard {
      send_gate& gate;
      ~fragmenting_guard() {
        auto waiters = gate.end_fragments();
        for (auto& op : waiters) op.complete();
      }
    } guard{c->gate_};
    std::optional<opcode> type;
    auto it = std::ranges::begin(fragments);
    const auto end = std::ranges::end(fragments);
    while (it != end) {
      auto [op, data] = fragment_of(*it);
      ++it;
      const bool last = it == end;
      if (type && *type != op) {
        c->fail(code_of(websockets::close_code::internal_error),
                "send_fragments() got fragments of different types");
        throw std::invalid_argument("send_fragments(): all fragments must be text or all binary");
      }
      const bool first = !type;
      type = op;
      if (!c->is_open()) co_await throw_closed(c);
      if (const auto until = c->queue_frame(first ? op : opcode::cont, data, last, true))
        co_await wait_sent(c, until);
    }
    // An empty range sends nothing, as in the reference.
  }

  // Sends a ping with `data` (four random bytes when empty) and returns
  // what waits for its pong.
  static asio::awaitable<std::shared_ptr<pong_state>> ping(std::shared_ptr<connection_core> c,
                                                           std::string_view data) {
    if (!c) throw invalid_state("ping() on a moved-from connection");
    if (!c->in_strand()) co_return co_await via_strand(c, ping(c, data));
    if (!c->is_open()) co_await throw_closed(c);
    auto state = std::make_shared<pong_state>();
    if (data.empty()) {
      do {
        std::array<std::byte, 4> random;
        fill_random(random);
        state->payload.assign(reinterpret_cast<const char*>(random.data()), random.size());
      } while (c->ping_pending(state->payload));
    } else {
      if (data.size() > max_control_payload)
        throw std::invalid_argument("a ping's payload is at most 125 bytes");
      if (c->ping_pending(data))
        throw std::logic_error("already waiting for a pong with the same data");
      state->payload.assign(data);
    }
    c->send_ping(state);
    co_return state;
  }

  static asio::awaitable<void> pong(std::shared_ptr<connection_core> c, std::string_view data) {
    if (!c) throw invalid_state("pong() on a moved-from connection");
    if (!c->in_strand()) {
      co_await via_strand(c, pong(c, data));
      co_return;
    }
    if (!c->is_open()) co_await throw_closed(c);
    c->proto_.send_pong(data);
    c->flush();
  }

  // Starts the closing handshake (unless it is under way) and waits until
  // the connection is closed. Nothing to do on a null connection.
  static asio::awaitable<void> close(std::shared_ptr<connection_core> c, std::uint16_t code,
                                     std::string_view reason) {
    if (!c) co_return;
    if (!c->in_strand()) {
      co_await via_strand(c, close(c, code, reason));
      co_return;
    }
    c->start_close(code, reason);
    co_await wait_closed_on(c);
  }

  static asio::awaitable<void> wait_closed(std::shared_ptr<connection_core> c) {
    if (!c) co_return;
    if (!c->in_strand()) {
      co_await via_strand(c, wait_closed(c));
      co_return;
    }
    co_await wait_closed_on(c);
  }

  // The connection's owner lets go of it: closed in the background with
  // 1001 (going away) if still open.
  static void release(std::shared_ptr<connection_core> c) noexcept {
    try {
      c->run_serialized([c] {
        if (!c->is_closed()) c->start_close(code_of(websockets::close_code::going_away), "");
      });
    } catch (...) {
    }
  }

  // Runs `body` on the connection's strand, in a coroutine of its own, and
  // resumes the caller on its own executor with the result or the
  // exception: the code after `co_await ws.send()` runs where the code
  // before it ran (on the caller's strand, if it has one), and nothing of
  // the caller's cancellation state is touched from the connection's strand
  // (Asio emits cancellations on the caller's executor).
  template <class T>
  static asio::awaitable<T> via_strand(const std::shared_ptr<connection_core>& c,
                                       asio::awaitable<T> body) {
    return asio::co_spawn(
        *c->strand_, std::move(body),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  }

 private:
  // recv() from a coroutine that runs elsewhere than on the connection's
  // strand (a client's coroutine on an io_context run by several threads).
  // Asio emits a cancellation on the caller's executor, so this coroutine's
  // cancellation slot is only touched here: it gets a handler that forwards
  // the cancellation to the strand, where receive() waits in a coroutine of
  // its own. A message taken as the cancellation came goes back to the
  // front of the queue, since whoever cancelled won't look at it.
  template <bool for_next>
  static asio::awaitable<received_t<for_next>> receive_from_afar(
      std::shared_ptr<connection_core> c) {
    auto cs = co_await asio::this_coro::cancellation_state;
    auto cancelled =
        std::make_shared<std::atomic<bool>>(cs.cancelled() != asio::cancellation_type::none);
    if (cs.slot().is_connected()) {
      cs.slot().assign([weak = std::weak_ptr<connection_core>(c),
                        cancelled](asio::cancellation_type t) {
        if (t == asio::cancellation_type::none) return;
        cancelled->store(true, std::memory_order_release);
        if (auto self = weak.lock())
          self->run_serialized([self, cancelled] { self->queue_.cancel_remote(cancelled.get()); });
      });
    }
    auto received = co_await via_strand(c, receive<for_next>(c, cancelled));
    if (!cancelled->load(std::memory_order_acquire)) co_return received;
    // Not a co_await: this coroutine is cancelled, so Asio would throw
    // before the message is back. The strand runs this before any later
    // recv(), which reaches it the same way.
    auto give_back = [&c](message&& m) {
      c->run_serialized([c, m = std::move(m)]() mutable { c->queue_.put_back(std::move(m)); });
    };
    if constexpr (for_next) {
      if (!received) co_return received;  // closed: nothing was taken
      give_back(std::move(*received));
    } else {
      give_back(std::move(received));
    }
    throw std::system_error(asio::error::operation_aborted, "recv() cancelled");
  }

  // While send_fragments() runs, other messages wait for it.
  static asio::awaitable<void> wait_for_fragments(const std::shared_ptr<connection_core>& c) {
    while (c->gate_.fragmenting()) {
      co_await c->async_wait_fragments(asio::use_awaitable);
      if (!c->in_strand()) co_await c->to_strand();
    }
  }

  // Once the connection is closing, waits for it to close, then throws how
  // it closed (as the reference's ensure_open()). Callers check is_open()
  // first, so the common case costs no coroutine.
  static asio::awaitable<void> throw_closed(std::shared_ptr<connection_core> c) {
    co_await wait_closed_on(c);
    std::rethrow_exception(c->closed_exception());
  }

  static asio::awaitable<void> wait_closed_on(std::shared_ptr<connection_core> c) {
    while (!c->is_closed()) {
      std::error_code ec;
      co_await c->async_wait(c->closed_waiters_, asio::redirect_error(asio::use_awaitable, ec));
      if (!c->in_strand()) co_await c->to_strand();
    }
  }

  static asio::awaitable<void> wait_sent(std::shared_ptr<connection_core> c, std::uint64_t until) {
    while (c->proto_.bytes_sent() < until) {
      if (c->is_closed() && !c->writing_) std::rethrow_exception(c->closed_exception());
      c->gate_.suspending();
      co_await c->async_wait_sent(until, asio::use_awaitable);
      if (!c->in_strand()) co_await c->to_strand();
    }
  }

  // Queues one frame; returns the byte count its sender must wait for
  // (0: none), as the send gate says.
  std::uint64_t queue_frame(opcode op, std::span<const std::byte> data, bool fin, bool compress) {
    const bool borrowed = proto_.send_data(op, data, fin, compress, true);
    flush_soon();
    return gate_.wait_target(proto_.bytes_queued(), proto_.bytes_sent(), borrowed);
  }

  template <class Token>
  auto async_wait_fragments(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) {
          gate_.wait_for_fragments(pending_op(std::move(handler), handler_executor()));
        },
        token);
  }

  // Suspends until every byte queued so far is written (a borrowed payload
  // may then be released), or the connection is lost.
  template <class Token>
  auto async_wait_sent(std::uint64_t until, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this, until](auto handler) {
          gate_.wait_until_sent(until, pending_op(std::move(handler), handler_executor()));
        },
        token);
  }

  // ---- Sending ----------------------------------------------------------

  // Starts a write of everything queued, unless one is in flight. On a
  // socket it first writes what it can right away, without a completion
  // handler; what the kernel doesn't take goes out asynchronously.
  void flush() {
    if (writing_ || closed_) return;
    if (!proto_.has_output()) {
      close_transport_if_due();
      return;
    }
    proto_.take_output(batch_);
    write_buffers_.clear();
    for (const auto& piece : batch_.pieces())
      write_buffers_.emplace_back(piece.data(), piece.size());
    if constexpr (has_write_some<Stream>) {
      if (can_wait_read(stream_)) {
        set_non_blocking();
        std::error_code ec;
        const std::size_t n = stream_.write_some(write_buffers_, ec);
        if (!ec && n == batch_.size()) {
          batch_.clear();
          proto_.record_sent(n);
          if (proto_.has_output()) flush();  // a pong the protocol held back
          // Senders woken from here resume later, not inside the send()
          // that called flush().
          update_close_phase();
          complete_send_waiters(false, true);
          return;
        }
        if (!ec) {
          proto_.record_sent(n);
          consume_written(n);
        } else if (ec != asio::error::would_block && ec != asio::error::try_again) {
          // Let the asynchronous write report the error.
        }
      }
    }
    writing_ = true;
    bound([this](auto handler) { asio::async_write(stream_, write_buffers_, std::move(handler)); },
          [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
            self->on_write(ec, n);
          });
  }

  // Like flush(), but while received messages wait in the queue the
  // application is likely to answer them too: the write then waits for the
  // end of this turn of the event loop, so that all the answers go out in
  // one system call.
  void flush_soon() {
    if (writing_ || closed_) return;
    if (queue_.empty()) return flush();
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    auto task = [self = this->shared_from_this()] {
      self->flush_scheduled_ = false;
      self->flush();
    };
    if (strand_)
      asio::post(*strand_, std::move(task));
    else
      asio::post(executor_, std::move(task));
  }

  // Gives large empty buffers back to the per-thread pools while the
  // connection waits for the peer.
  void release_idle_buffers() noexcept {
    proto_.release_idle_buffers();
    if (!writing_) batch_.release_storage();
    if (event_.data.capacity() > string_pool::worth_pooling) {
      event_.data.clear();
      string_pool::give(std::move(event_.data));
    }
  }

  // Fails the connection (a keepalive timeout, a handler's exception):
  // sends a close frame with `code` and closes the transport.
  void fail(std::uint16_t code, std::string_view reason) {
    if (closed_) return;
    proto_.fail(code, reason);
    after_protocol_step();
  }

  // Starts the closing handshake, unless it is under way. A violation of
  // the peer's waiting to fail the connection does so now instead.
  void start_close(std::uint16_t code, std::string_view reason) {
    if (!closed_ && proto_.failure_pending()) return commit_failure();
    if (closed_ || proto_.close_sent() || proto_.state() != connection_state::open) return;
    proto_.send_close(code, reason);
    after_protocol_step();
  }

  // Fails the connection for the peer's violation that waited for the
  // messages before it to be taken (protocol::defer_failure()): queues the
  // close frame after what the application sent, and reads on only to see
  // the transport close, discarding what comes.
  void commit_failure() {
    if (closed_ || !proto_.failure_pending()) return;
    proto_.commit_failure();
    after_protocol_step();
    start_read();
  }

  // Sends a ping whose pong `state` waits for.
  void send_ping(const std::shared_ptr<pong_state>& state) {
    proto_.send_ping(std::string_view(state->payload));
    state->sent = std::chrono::steady_clock::now();
    pings_.push_back(state);
    flush();
  }

  bool ping_pending(std::string_view payload) const noexcept {
    for (const auto& p : pings_)
      if (p->payload == payload) return true;
    return false;
  }

  // Closes the TCP connection now and wakes everybody.
  void terminate() {
    if (closed_) return;
    closed_ = true;
    close_stream(stream_);
    proto_.transport_closed();
    if (close_timer_) close_timer_->cancel();
    keepalive_timer_.cancel();
    std::vector<std::shared_ptr<pong_state>> pings = std::move(pings_);
    pings_.clear();
    auto error = closed_exception();
    for (auto& p : pings) {
      p->done = true;
      p->error = error;
    }
    // Wake last: resumed coroutines may call back into this object.
    if (!writing_) complete_send_waiters(true);
    auto fragment_waiters = gate_.take_fragment_waiters();
    for (auto& op : fragment_waiters) op.complete();
    queue_.wake();
    for (auto& p : pings) complete_all(p->waiters);
    complete_all(closed_waiters_);
  }

  Stream stream_;
  executor_type executor_;
  std::optional<strand_type> strand_;  // absent when one thread runs everything
  protocol proto_;
  connection_options options_;
  opening_handshake handshake_;

  // Receiving.
  receive_queue queue_;
  bool reading_ = false;
  event event_;

  // Sending.
  send_gate gate_;
  output_batch batch_;
  std::vector<asio::const_buffer> write_buffers_;
  bool writing_ = false;
  bool flush_scheduled_ = false;

  // Pings sent and not answered yet, oldest first.
  std::vector<std::shared_ptr<pong_state>> pings_;
  std::shared_ptr<pong_state> keepalive_ping_;

  // Closing.
  bool closed_ = false;  // the transport is closed
  bool fin_sent_ = false;
  // The step of the closing handshake the close timer was last set for.
  closing_step close_timer_step_ = closing_step::none;
  std::vector<pending_op> closed_waiters_;
  std::unique_ptr<timer_type> close_timer_;  // made when the closing handshake starts
  timer_type keepalive_timer_;

  static constexpr std::size_t min_read = 4096;

  std::size_t read_size() const noexcept {
    return std::clamp<std::size_t>(options_.read_limit, min_read, std::size_t{1} << 24);
  }

  // Reads more unless the queue is full, enough is buffered, the
  // connection is closed, or the peer broke the protocol (nothing more is
  // read from it until the close frame is out).
  void start_read() {
    if (reading_ || closed_ || read_eof_ || proto_.failure_pending()) return;
    if (queue_.full() && !proto_.close_sent()) {
      queue_.pause_reader();
      return;
    }
    if (proto_.buffered() >= read_size()) {
      queue_.pause_reader();
      return;
    }
    reading_ = true;
    if constexpr (has_wait_read<Stream>) {
      if (proto_.buffered() == 0 && !last_read_full_ && can_wait_read(stream_)) {
        // Idle: hold no buffer while waiting for the peer.
        std::vector<std::byte> storage;
        if (proto_.release_receive_buffer(storage)) receive_buffer_pool::give(std::move(storage));
        release_idle_buffers();
        set_non_blocking();
        bound(
            [this](auto handler) {
              stream_.async_wait(asio::socket_base::wait_read, std::move(handler));
            },
            [self = this->shared_from_this()](std::error_code ec) { self->on_readable(ec); });
        return;
      }
    }
    // More is probably waiting (the last read filled the buffer), or the
    // stream can't report readability: read into the buffer.
    if (proto_.buffered() == 0) proto_.provide_receive_buffer(receive_buffer_pool::take());
    auto area = proto_.prepare(read_size() - proto_.buffered());
    last_read_size_ = area.size();
    bound(
        [this, area](auto handler) {
          stream_.async_read_some(asio::buffer(area.data(), area.size()), std::move(handler));
        },
        [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(std::error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      input_ended();
      return;
    }
    last_read_full_ = n == last_read_size_;
    proto_.commit(n);
    after_input();
  }

  // The socket is readable: read what is there without blocking.
  void on_readable(std::error_code ec) {
    if constexpr (has_wait_read<Stream>) {
      reading_ = false;
      if (closed_) return;
      if (!ec) {
        proto_.provide_receive_buffer(receive_buffer_pool::take());
        auto area = proto_.prepare(read_size() - proto_.buffered());
        const std::size_t n = stream_.read_some(asio::buffer(area.data(), area.size()), ec);
        if (!ec) {
          last_read_full_ = n == area.size();
          proto_.commit(n);
          after_input();
          return;
        }
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          start_read();
          return;
        }
      }
      input_ended();
    }
  }

  // The peer closed its end, or reading failed.
  void input_ended() {
    read_eof_ = true;
    proto_.receive_eof();
    after_input();
    terminate();
  }

  // Parses what was received into events while the queue has room, then
  // acts on what changed.
  void after_input() {
    bool got_message = false;
    while (!closed_) {
      const bool full = queue_.full();
      if (full && !proto_.close_sent()) {
        queue_.pause_reader();
        break;
      }
      if (!proto_.next_event(event_)) break;
      switch (event_.type) {
        case event::kind::message:
          // Once this side has sent a close frame, reading goes on until
          // the peer's close frame even if the application stopped calling
          // recv(): messages that don't fit in the queue are dropped, and
          // so is everything after them, so that recv() still returns a
          // prefix of what the peer sent, without a gap.
          if (full) dropping_after_close_ = true;
          if (!dropping_after_close_) {
            queue_.push(message(event_.op, std::move(event_.data)));
            got_message = true;
          }
          // The protocol assembles the next message in this buffer.
          event_.data = string_pool::take();
          break;
        case event::kind::pong:
          pong_received(event_.data);
          break;
        case event::kind::ping:
        case event::kind::close:
          break;
      }
    }
    // A violation with nothing before it left to take, and recv() waiting:
    // fail now.
    if (proto_.failure_pending() && queue_.empty() && queue_.has_waiter()) proto_.commit_failure();
    after_protocol_step();
    start_read();
    if (got_message || closed_) queue_.wake();
  }

  // Acts on the protocol's new state: writes its output, runs the closing
  // handshake's timers, closes the transport when it is time.
  void after_protocol_step() {
    if (closed_) return;
    flush();
    update_close_phase();
  }

  // Each step of the closing handshake (closing_step) gets close_timeout;
  // past it, the TCP connection is closed, or, while a violation waits for
  // the application (closing_step::failing), the connection fails.
  void update_close_phase() {
    const closing_step step = proto_.closing_progress();
    if (step > close_timer_step_) {
      close_timer_step_ = step;
      keepalive_timer_.cancel();
      if (options_.close_timeout) {
        if (!close_timer_) close_timer_ = std::make_unique<timer_type>(executor_);
        close_timer_->expires_after(*options_.close_timeout);
        bound([this](auto handler) { close_timer_->async_wait(std::move(handler)); },
              [self = this->shared_from_this(), step](std::error_code ec) {
                if (ec || self->close_timer_step_ != step) return;
                if (step == closing_step::failing)
                  self->commit_failure();
                else
                  self->terminate();
              });
      }
    }
    close_transport_if_due();
  }

  // A server closes TCP first once the closing handshake is over (RFC 6455
  // 7.1.1): it half-closes, then waits (close_timeout) for the client to
  // close its end.
  void close_transport_if_due() {
    if (fin_sent_ || writing_ || closed_ || !proto_.should_close_transport()) return;
    fin_sent_ = true;
    shutdown_send(stream_);
  }

  // Drops the first `n` bytes from write_buffers_ (a partial direct write).
  void consume_written(std::size_t n) {
    std::size_t i = 0;
    while (i < write_buffers_.size() && n >= write_buffers_[i].size())
      n -= write_buffers_[i++].size();
    write_buffers_.erase(write_buffers_.begin(),
                         write_buffers_.begin() + static_cast<std::ptrdiff_t>(i));
    if (n > 0 && !write_buffers_.empty()) write_buffers_.front() += n;
  }

  void set_non_blocking() {
    if constexpr (has_wait_read<Stream>) {
      if (!non_blocking_set_) {
        std::error_code ec;
        stream_.non_blocking(true, ec);
        non_blocking_set_ = true;
      }
    }
  }

  void on_write(std::error_code ec, std::size_t n) {
    writing_ = false;
    batch_.release_storage();
    proto_.record_sent(n);
    if (ec) {
      write_failed_ = true;
      if (!closed_) {
        proto_.receive_eof();
        terminate();
      } else {
        complete_send_waiters(true);
      }
      return;
    }
    if (closed_) {
      complete_send_waiters(true);
      return;
    }
    flush();
    update_close_phase();
    complete_send_waiters(false);
  }

  // Wakes the senders whose bytes are out, or all of them when the
  // connection is gone.
  void complete_send_waiters(bool all, bool later = false) {
    if (!gate_.has_send_waiters()) return;
    auto ready = gate_.ready_senders(proto_.bytes_sent(), all);
    for (auto& op : ready) {
      if (later)
        op.post_complete();
      else
        op.complete();
    }
  }

  void pong_received(const std::string& payload) {
    std::size_t match = pings_.size();
    for (std::size_t i = 0; i < pings_.size(); ++i) {
      if (pings_[i]->payload == payload) {
        match = i;
        break;
      }
    }
    if (match == pings_.size()) return;  // unsolicited pong
    // A pong answers its ping and every ping sent before it.
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<pong_state>> answered(
        pings_.begin(), pings_.begin() + static_cast<std::ptrdiff_t>(match) + 1);
    pings_.erase(pings_.begin(), pings_.begin() + static_cast<std::ptrdiff_t>(match) + 1);
    bool keepalive_answered = false;
    for (auto& p : answered) {
      p->done = true;
      p->rtt = now - p->sent;
      if (p == keepalive_ping_) keepalive_answered = true;
    }
    if (keepalive_answered) {
      keepalive_ping_.reset();
      arm_keepalive();
    }
    for (auto& p : answered) complete_all(p->waiters);
  }

  // Keepalive: wait ping_interval, ping, wait ping_timeout for the pong.
  void arm_keepalive() {
    if (!options_.ping_interval || closed_ || proto_.closing_progress() != closing_step::none)
      return;
    keepalive_timer_.expires_after(*options_.ping_interval);
    bound([this](auto handler) { keepalive_timer_.async_wait(std::move(handler)); },
          [self = this->shared_from_this()](std::error_code ec) {
            if (!ec) self->on_keepalive_timer();
          });
  }

  void on_keepalive_timer() {
    if (!is_open() || proto_.closing_progress() != closing_step::none) return;
    if (keepalive_ping_) {
      // ping_timeout passed without the pong.
      keepalive_ping_.reset();
      fail(code_of(close_code::internal_error), "keepalive ping timeout");
      return;
    }
    auto state = std::make_shared<pong_state>();
    std::array<std::byte, 4> payload;
    fill_random(payload);
    state->payload.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (ping_pending(state->payload)) return arm_keepalive();
    keepalive_ping_ = state;
    send_ping(state);
    if (options_.ping_timeout) {
      keepalive_timer_.expires_after(*options_.ping_timeout);
      bound([this](auto handler) { keepalive_timer_.async_wait(std::move(handler)); },
            [self = this->shared_from_this()](std::error_code ec) {
              if (!ec) self->on_keepalive_timer();
            });
    } else {
      keepalive_ping_.reset();
      arm_keepalive();
    }
  }

  // connection_registry::entry: at the io_context's shutdown.
  std::shared_ptr<void> keep_alive() noexcept override { return this->weak_from_this().lock(); }
  void drop_waiters() noexcept override {
    auto recv = queue_.release_waiter();
    auto closed = std::move(closed_waiters_);
    std::vector<pending_op> senders;
    gate_.release_waiters(senders);
    auto pings = std::move(pings_);
    auto keepalive = std::move(keepalive_ping_);
    std::vector<std::vector<pending_op>> pong_waiters;
    for (auto& p : pings) pong_waiters.push_back(std::move(p->waiters));
    closed_waiters_.clear();
    pings_.clear();
    // The locals go now, with the coroutines they hold.
  }

  connection_registry* registry_ = nullptr;
  bool read_eof_ = false;
  bool dropping_after_close_ = false;
  bool last_read_full_ = false;
  std::size_t last_read_size_ = 0;
  bool write_failed_ = false;
  bool non_blocking_set_ = false;
};

}  // namespace websockets::detail
