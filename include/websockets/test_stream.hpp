// An in-memory duplex byte stream for Asio, to unit-test WebSocket code
// without sockets.
//
//   asio::io_context ctx;
//   auto [client, server] = websockets::make_test_stream_pair(ctx.get_executor());
//
// Bytes written to one stream are read from the other. Each stream models
// Asio's AsyncReadStream and AsyncWriteStream, works with any completion
// token (callbacks, asio::use_awaitable, deferred), honours per-operation
// cancellation, and can be shaped to behave like a slow or congested peer:
// a bounded buffer per direction (writers wait, like TCP flow control),
// reads that return at most N bytes (to test parsers against every split)
// and writes that accept at most N bytes (partial writes).
//
// Like a socket, one stream may have one read and one write pending at a
// time; the two streams of a pair may be used from different threads.
// Completion handlers always run through their associated executor, never
// inside the function that started the operation.
#pragma once

#include <algorithm>
#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/execution_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/socket_base.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace websockets {

// How one stream of a pair behaves. Every limit is in bytes; 0 means none.
struct test_stream_options {
  // Bytes this stream buffers from its peer; the peer's writes wait while
  // this many are unread, as with TCP's receive window.
  std::size_t capacity = 64 * 1024;
  // The most bytes one read on this stream returns (1: byte by byte).
  std::size_t max_read_chunk = 0;
  // The most bytes one write on this stream accepts (partial writes).
  std::size_t write_limit = 0;
};

// A snapshot of one stream's queues and counters, taken under its lock.
struct test_stream_stats {
  std::size_t inbound = 0;          // written by the peer, not yet read here
  std::size_t outbound = 0;         // written here, not yet read by the peer
  std::uint64_t bytes_read = 0;     // read by this stream since the start
  std::uint64_t bytes_written = 0;  // written by this stream since the start
  bool read_waiting = false;        // a read waits for bytes
  bool write_waiting = false;       // a write waits for room in the peer's buffer
};

namespace detail {

// The bytes flowing one way: a contiguous queue that grows on demand and
// reuses its storage once drained.
class test_stream_bytes {
 public:
  std::size_t size() const noexcept { return tail_ - head_; }

  // Appends up to `limit` bytes taken from the front of `buffers`.
  template <class ConstBufferSequence>
  std::size_t push(const ConstBufferSequence& buffers, std::size_t limit) {
    std::size_t n = std::min(limit, asio::buffer_size(buffers));
    reserve(n);
    n = asio::buffer_copy(asio::buffer(data_.get() + tail_, n), buffers);
    tail_ += n;
    return n;
  }

  // Moves up to `limit` bytes from the front of the queue into `buffers`.
  template <class MutableBufferSequence>
  std::size_t pop(const MutableBufferSequence& buffers, std::size_t limit) {
    std::size_t n = asio::buffer_copy(buffers, asio::buffer(data_.get() + head_, size()), limit);
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
    return n;
  }

  // Drops every byte and the storage.
  void clear() noexcept {
    data_.reset();
    capacity_ = head_ = tail_ = 0;
  }

 private:
  void reserve(std::size_t n) {
    if (capacity_ - tail_ >= n) return;
    std::size_t used = size();
    if (capacity_ - used >= n && head_ >= used) {
      // Slide the unread bytes to the front: cheaper than growing, and
      // they are fewer than the bytes already consumed.
      std::memmove(data_.get(), data_.get() + head_, used);
    } else {
      std::size_t grown = std::max({capacity_ * 2, used + n, std::size_t{256}});
      auto fresh = std::make_unique_for_overwrite<unsigned char[]>(grown);
      if (used) std::memcpy(fresh.get(), data_.get() + head_, used);
      data_ = std::move(fresh);
      capacity_ = grown;
    }
    head_ = 0;
    tail_ = used;
  }

  std::unique_ptr<unsigned char[]> data_;
  std::size_t capacity_ = 0, head_ = 0, tail_ = 0;
};

// A suspended read or write, holding its completion handler and buffers
// until bytes (or room for them) arrive.
class test_stream_op {
 public:
  // A read moves bytes out of `q`, a write into it; at most `limit`.
  virtual std::size_t transfer(test_stream_bytes& q, std::size_t limit) = 0;
  // Hands the handler and its result to the handler's executor and frees
  // the operation.
  virtual void complete(std::error_code ec, std::size_t n) = 0;
  // Frees the operation without calling the handler.
  virtual void destroy() noexcept = 0;

 protected:
  ~test_stream_op() = default;
};

template <class Handler, class Buffers, bool IsRead>
class test_stream_op_impl final : public test_stream_op {
 public:
  using allocator_type = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;
  using handler_executor = asio::associated_executor_t<Handler, asio::any_io_executor>;
  using work_executor = std::decay_t<decltype(asio::prefer(
      std::declval<handler_executor>(), asio::execution::outstanding_work.tracked))>;
  using self_allocator =
      typename std::allocator_traits<allocator_type>::template rebind_alloc<test_stream_op_impl>;

  // Allocates with the handler's allocator, as Asio's own operations do.
  template <class H>
  static test_stream_op_impl* create(H&& handler, const Buffers& buffers,
                                     const asio::any_io_executor& io_ex) {
    self_allocator alloc(
        asio::get_associated_allocator(handler, asio::recycling_allocator<void>()));
    auto* mem = std::allocator_traits<self_allocator>::allocate(alloc, 1);
    try {
      return new (mem) test_stream_op_impl(std::forward<H>(handler), buffers, io_ex);
    } catch (...) {
      std::allocator_traits<self_allocator>::deallocate(alloc, mem, 1);
      throw;
    }
  }

  std::size_t transfer(test_stream_bytes& q, std::size_t limit) override {
    if constexpr (IsRead) {
      return q.pop(buffers_, limit);
    } else {
      return q.push(buffers_, limit);
    }
  }

  void complete(std::error_code ec, std::size_t n) override {
    auto alloc = asio::get_associated_allocator(handler_, asio::recycling_allocator<void>());
    Handler handler(std::move(handler_));
    work_executor work(std::move(work_));
    release(self_allocator(alloc));
    asio::post(work, asio::bind_allocator(alloc, [h = std::move(handler), ec, n]() mutable {
                 std::move(h)(ec, n);
               }));
  }

  void destroy() noexcept override {
    release(self_allocator(
        asio::get_associated_allocator(handler_, asio::recycling_allocator<void>())));
  }

 private:
  template <class H>
  test_stream_op_impl(H&& handler, const Buffers& buffers, const asio::any_io_executor& io_ex)
      : handler_(std::forward<H>(handler)),
        buffers_(buffers),
        work_(asio::prefer(asio::get_associated_executor(handler_, io_ex),
                           asio::execution::outstanding_work.tracked)) {}
  ~test_stream_op_impl() = default;

  void release(self_allocator alloc) noexcept {
    this->~test_stream_op_impl();
    std::allocator_traits<self_allocator>::deallocate(alloc, this, 1);
  }

  Handler handler_;
  Buffers buffers_;
  work_executor work_;  // keeps the handler's io_context running while suspended
};

class test_stream_state;

// Every live pair of one execution context, so that the context's shutdown
// can free suspended operations: their handlers often own the streams
// (a coroutine frame), a cycle nothing else would break.
class test_stream_registry {
 public:
  void add(test_stream_state* s);
  void remove(test_stream_state* s) noexcept;
  void shutdown();
  bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

 private:
  std::mutex mutex_;
  std::vector<test_stream_state*> states_;
  std::atomic<bool> stopped_{false};
};

// The execution-context service that owns the registry.
class test_stream_service final : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit test_stream_service(asio::execution_context& ctx)
      : asio::execution_context::service(ctx),
        registry_(std::make_shared<test_stream_registry>()) {}

  const std::shared_ptr<test_stream_registry>& registry() const noexcept { return registry_; }

 private:
  void shutdown() override { registry_->shutdown(); }

  std::shared_ptr<test_stream_registry> registry_;
};

// Operations whose handlers are posted once the lock is released, so that
// no executor ever runs while the pair's mutex is held.
class test_stream_completions {
 public:
  void add(test_stream_op* op, std::error_code ec, std::size_t n) noexcept {
    if (op) items_[count_++] = {op, ec, n};
  }
  void run() {
    // complete() frees the operation even if posting throws: count it first.
    while (done_ < count_) {
      const item& it = items_[done_++];
      it.op->complete(it.ec, it.n);
    }
  }
  ~test_stream_completions() {
    while (done_ < count_) items_[done_++].op->destroy();
  }

 private:
  struct item {
    test_stream_op* op;
    std::error_code ec;
    std::size_t n;
  };
  // At most: both sides' read and write.
  std::array<item, 4> items_{};
  std::size_t count_ = 0, done_ = 0;
};

// The shared half of a pair: both directions, both sides' settings, the
// suspended operations, all under one mutex.
class test_stream_state {
 public:
  // One direction: the bytes one side writes and the other reads.
  struct channel {
    test_stream_bytes bytes;
    test_stream_op* reader = nullptr;  // suspended read of the receiving side
    test_stream_op* writer = nullptr;  // suspended write of the sending side
    std::uint64_t reader_id = 0, writer_id = 0;
    std::uint64_t written = 0;   // bytes ever written into this direction
    std::uint64_t read = 0;      // bytes ever read out of it
    bool eof = false;            // the sender shut down or closed: no more bytes
    bool receiver_gone = false;  // the receiver closed or shut down reading
  };

  test_stream_state(const asio::any_io_executor& ex, const test_stream_options& a,
                    const test_stream_options& b)
      : registry_(asio::use_service<test_stream_service>(asio::query(ex, asio::execution::context))
                      .registry()),
        options_{a, b} {
    registry_->add(this);
  }

  test_stream_state(const test_stream_state&) = delete;
  test_stream_state& operator=(const test_stream_state&) = delete;

  ~test_stream_state() {
    registry_->remove(this);
    for (auto& ch : channels_) {
      if (ch.reader) ch.reader->destroy();
      if (ch.writer) ch.writer->destroy();
    }
  }

  std::mutex mutex;
  std::shared_ptr<test_stream_registry> registry_;
  std::array<channel, 2> channels_;  // [side]: the bytes that side writes
  std::array<test_stream_options, 2> options_;
  std::array<bool, 2> closed_{false, false};
  std::uint64_t next_id_ = 0;  // tells a cancellation which operation it meant

  static std::size_t limit(std::size_t n) noexcept {
    return n ? n : std::numeric_limits<std::size_t>::max();
  }

  // Room left in the buffer that side `to` reads from.
  std::size_t room(int to) const noexcept {
    const auto& ch = channels_[1 - to];
    std::size_t cap = limit(options_[to].capacity);
    return ch.bytes.size() < cap ? cap - ch.bytes.size() : 0;
  }

  // After bytes left the buffer that side `to` reads from: lets the peer's
  // suspended write in, if there is room now.
  void wake_writer(int to, test_stream_completions& done) {
    auto& ch = channels_[1 - to];
    if (!ch.writer) return;
    std::size_t free = room(to);
    if (free == 0) return;
    std::size_t n =
        ch.writer->transfer(ch.bytes, std::min(free, limit(options_[1 - to].write_limit)));
    ch.written += n;
    done.add(std::exchange(ch.writer, nullptr), {}, n);
  }

  // After bytes entered the buffer that side `to` reads from: satisfies its
  // suspended read.
  void wake_reader(int to, test_stream_completions& done) {
    auto& ch = channels_[1 - to];
    if (!ch.reader || ch.bytes.size() == 0) return;
    std::size_t n = ch.reader->transfer(ch.bytes, limit(options_[to].max_read_chunk));
    ch.read += n;
    done.add(std::exchange(ch.reader, nullptr), {}, n);
    wake_writer(to, done);
  }

  // Completes side `side`'s suspended operations with `ec`.
  void abort(int side, std::error_code ec, test_stream_completions& done) {
    done.add(std::exchange(channels_[1 - side].reader, nullptr), ec, 0);
    done.add(std::exchange(channels_[side].writer, nullptr), ec, 0);
  }

  // The direction side `side` stops sending into: the peer drains it, then
  // reads end of file.
  void end_sending(int side, test_stream_completions& done) {
    auto& ch = channels_[side];
    ch.eof = true;
    done.add(std::exchange(ch.writer, nullptr), asio::error::operation_aborted, 0);
    // A suspended read means nothing is buffered: it gets end of file now.
    done.add(std::exchange(ch.reader, nullptr), asio::error::eof, 0);
  }

  // The direction side `side` stops reading from: its bytes are dropped and
  // the peer's writes fail.
  void end_receiving(int side, test_stream_completions& done) {
    auto& ch = channels_[1 - side];
    ch.receiver_gone = true;
    ch.bytes.clear();
    done.add(std::exchange(ch.reader, nullptr), asio::error::eof, 0);
    done.add(std::exchange(ch.writer, nullptr), asio::error::broken_pipe, 0);
  }

  // Called by a cancellation slot: aborts the operation `id` if it is still
  // suspended. A suspended operation has moved no byte, so nothing is lost.
  void cancel(int side, bool is_read, std::uint64_t id) {
    test_stream_completions done;
    {
      std::lock_guard lock(mutex);
      auto& ch = channels_[is_read ? 1 - side : side];
      auto& op = is_read ? ch.reader : ch.writer;
      auto& op_id = is_read ? ch.reader_id : ch.writer_id;
      if (op && op_id == id)
        done.add(std::exchange(op, nullptr), asio::error::operation_aborted, 0);
    }
    done.run();
  }

  // Takes every suspended operation out, for the registry's shutdown.
  void take_all(std::vector<test_stream_op*>& out) {
    std::lock_guard lock(mutex);
    for (auto& ch : channels_) {
      if (ch.reader) out.push_back(std::exchange(ch.reader, nullptr));
      if (ch.writer) out.push_back(std::exchange(ch.writer, nullptr));
    }
  }
};

inline void test_stream_registry::add(test_stream_state* s) {
  std::lock_guard lock(mutex_);
  states_.push_back(s);
}

inline void test_stream_registry::remove(test_stream_state* s) noexcept {
  std::lock_guard lock(mutex_);
  auto it = std::find(states_.begin(), states_.end(), s);
  if (it != states_.end()) {
    *it = states_.back();
    states_.pop_back();
  }
}

inline void test_stream_registry::shutdown() {
  std::vector<test_stream_op*> ops;
  {
    std::lock_guard lock(mutex_);
    stopped_.store(true, std::memory_order_release);
    for (auto* s : states_) s->take_all(ops);
  }
  // Destroying a handler may destroy streams and pairs: outside the lock.
  for (auto* op : ops) op->destroy();
}

// Installed in an operation's cancellation slot. It outlives the operation
// (Asio replaces it at the next operation), hence the weak pointer and id.
struct test_stream_cancellation {
  std::weak_ptr<test_stream_state> state;
  int side;
  bool is_read;
  std::uint64_t id;

  void operator()(asio::cancellation_type type) const {
    constexpr auto handled = asio::cancellation_type::terminal | asio::cancellation_type::partial |
                             asio::cancellation_type::total;
    if ((type & handled) == asio::cancellation_type::none) return;
    if (auto s = state.lock()) s->cancel(side, is_read, id);
  }
};

}  // namespace detail

// One end of an in-memory connection; see make_test_stream_pair().
class test_stream {
 public:
  using executor_type = asio::any_io_executor;
  using lowest_layer_type = test_stream;  // lets asio::ssl::stream wrap it

  test_stream(test_stream&& other) noexcept
      : executor_(std::move(other.executor_)),
        state_(std::move(other.state_)),
        side_(other.side_) {}

  test_stream& operator=(test_stream&& other) noexcept {
    if (this != &other) {
      close();
      executor_ = std::move(other.executor_);
      state_ = std::move(other.state_);
      side_ = other.side_;
    }
    return *this;
  }

  // Closes the stream, as a socket's destructor does.
  ~test_stream() { close(); }

  // The executor that runs handlers which have none of their own.
  executor_type get_executor() const noexcept { return executor_; }

  // The stream itself: there is no layer below.
  test_stream& lowest_layer() noexcept { return *this; }
  const test_stream& lowest_layer() const noexcept { return *this; }

  // Reads some bytes: at least one unless `buffers` is empty, at most
  // max_read_chunk. Waits while nothing is buffered; fails with
  // asio::error::eof once the peer has closed or shut down sending and
  // every byte it sent has been read. Signature: void(error_code, size_t).
  template <class MutableBufferSequence,
            class ReadToken = asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       ReadToken&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(initiate_read{this},
                                                                               token, buffers);
  }

  // Writes some bytes: as many as fit in the peer's buffer, at most
  // write_limit. Waits while the peer's buffer is full; fails with
  // asio::error::broken_pipe once the peer has closed or this stream has
  // shut down sending. Signature: void(error_code, size_t).
  template <class ConstBufferSequence,
            class WriteToken = asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        WriteToken&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        initiate_write{this}, token, buffers);
  }

  // Whether close() has not been called yet.
  bool is_open() const noexcept {
    if (!state_) return false;
    std::lock_guard lock(state_->mutex);
    return !state_->closed_[side_];
  }

  // Closes this end: its pending operations complete with
  // operation_aborted, the peer reads what was already sent and then end of
  // file, and the peer's writes fail with broken_pipe. Idempotent.
  void close() noexcept {
    if (!state_) return;
    detail::test_stream_completions done;
    {
      std::lock_guard lock(state_->mutex);
      if (state_->closed_[side_]) return;
      state_->closed_[side_] = true;
      state_->abort(side_, asio::error::operation_aborted, done);
      state_->end_sending(side_, done);
      state_->end_receiving(side_, done);
    }
    run(done);
  }

  // The same, in the form Asio's sockets offer.
  void close(std::error_code& ec) noexcept {
    close();
    ec = {};
  }

  // Half-closes, like a socket's shutdown(): shutdown_send makes the peer
  // read end of file after the buffered bytes (and this stream's writes
  // fail); shutdown_receive makes this stream's reads end with end of file
  // (and the peer's writes fail); shutdown_both does both.
  void shutdown(asio::socket_base::shutdown_type what) {
    std::error_code ec;
    shutdown(what, ec);
    if (ec) throw std::system_error(ec, "test_stream::shutdown");
  }

  void shutdown(asio::socket_base::shutdown_type what, std::error_code& ec) noexcept {
    ec = {};
    if (!state_) return void(ec = asio::error::bad_descriptor);
    detail::test_stream_completions done;
    {
      std::lock_guard lock(state_->mutex);
      if (state_->closed_[side_]) return void(ec = asio::error::bad_descriptor);
      if (what != asio::socket_base::shutdown_receive) state_->end_sending(side_, done);
      if (what != asio::socket_base::shutdown_send) state_->end_receiving(side_, done);
    }
    run(done);
  }

  // Completes this stream's pending read and write with operation_aborted.
  void cancel() noexcept {
    if (!state_) return;
    detail::test_stream_completions done;
    {
      std::lock_guard lock(state_->mutex);
      state_->abort(side_, asio::error::operation_aborted, done);
    }
    run(done);
  }

  // Changes this stream's settings; later operations use them. A larger
  // capacity lets a waiting peer write at once.
  void set_options(const test_stream_options& options) {
    if (!state_) return;
    detail::test_stream_completions done;
    {
      std::lock_guard lock(state_->mutex);
      state_->options_[side_] = options;
      if (!state_->closed_[side_]) state_->wake_writer(side_, done);
    }
    run(done);
  }

  // This stream's settings.
  test_stream_options options() const {
    if (!state_) return {};
    std::lock_guard lock(state_->mutex);
    return state_->options_[side_];
  }

  // Bytes that a read would return now without waiting (as a socket's
  // available()).
  std::size_t available() const {
    if (!state_) return 0;
    std::lock_guard lock(state_->mutex);
    return state_->channels_[1 - side_].bytes.size();
  }

  // The queues and counters of this stream, for tests that measure
  // buffering instead of time.
  test_stream_stats stats() const {
    test_stream_stats s;
    if (!state_) return s;
    std::lock_guard lock(state_->mutex);
    const auto& in = state_->channels_[1 - side_];
    const auto& out = state_->channels_[side_];
    s.inbound = in.bytes.size();
    s.outbound = out.bytes.size();
    s.bytes_read = in.read;
    s.bytes_written = out.written;
    s.read_waiting = in.reader != nullptr;
    s.write_waiting = out.writer != nullptr;
    return s;
  }

 private:
  friend std::pair<test_stream, test_stream> make_test_stream_pair(const asio::any_io_executor&,
                                                                   const test_stream_options&,
                                                                   const test_stream_options&);

  test_stream(asio::any_io_executor ex, std::shared_ptr<detail::test_stream_state> state,
              int side) noexcept
      : executor_(std::move(ex)), state_(std::move(state)), side_(side) {}

  static void run(detail::test_stream_completions& done) noexcept {
    // Posting can only fail on allocation; the operations are then
    // destroyed by `done`'s destructor rather than leaked.
    try {
      done.run();
    } catch (...) {
    }
  }

  // Posts `handler` with an immediate result to its executor.
  template <class Handler>
  void post_result(Handler&& handler, std::error_code ec, std::size_t n) const {
    auto ex = asio::get_associated_executor(handler, executor_);
    auto alloc = asio::get_associated_allocator(handler, asio::recycling_allocator<void>());
    asio::post(ex, asio::bind_allocator(alloc, [h = std::forward<Handler>(handler), ec,
                                                n]() mutable { std::move(h)(ec, n); }));
  }

  // Suspends `handler` as side_'s pending read or write; the lock is held.
  template <bool IsRead, class Handler, class Buffers>
  void suspend(Handler&& handler, const Buffers& buffers, detail::test_stream_op*& slot_op,
               std::uint64_t& slot_id) {
    using op_type = detail::test_stream_op_impl<std::decay_t<Handler>, Buffers, IsRead>;
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto* op = op_type::create(std::forward<Handler>(handler), buffers, executor_);
    slot_op = op;
    slot_id = ++state_->next_id_;
    if (slot.is_connected()) {
      slot.template emplace<detail::test_stream_cancellation>(
          detail::test_stream_cancellation{state_, side_, IsRead, slot_id});
    }
  }

  template <class Handler, class MutableBufferSequence>
  void start_read(Handler&& handler, const MutableBufferSequence& buffers) {
    std::error_code ec;
    std::size_t n = 0;
    detail::test_stream_completions done;
    if (!state_) {
      ec = asio::error::bad_descriptor;
    } else if (state_->registry_->stopped()) {
      return;  // the context is shut down: the handler is dropped, as Asio does
    } else {
      std::lock_guard lock(state_->mutex);
      auto& ch = state_->channels_[1 - side_];
      if (state_->closed_[side_]) {
        ec = asio::error::bad_descriptor;
      } else if (asio::buffer_size(buffers) == 0) {
        // Like a socket: an empty read succeeds at once.
      } else if (ch.reader) {
        ec = asio::error::already_started;
      } else if (ch.bytes.size() > 0) {
        n = ch.bytes.pop(buffers,
                         detail::test_stream_state::limit(state_->options_[side_].max_read_chunk));
        ch.read += n;
        state_->wake_writer(side_, done);
      } else if (ch.eof || ch.receiver_gone) {
        ec = asio::error::eof;
      } else {
        suspend<true>(std::forward<Handler>(handler), buffers, ch.reader, ch.reader_id);
        return;
      }
    }
    run(done);
    post_result(std::forward<Handler>(handler), ec, n);
  }

  template <class Handler, class ConstBufferSequence>
  void start_write(Handler&& handler, const ConstBufferSequence& buffers) {
    std::error_code ec;
    std::size_t n = 0;
    detail::test_stream_completions done;
    if (!state_) {
      ec = asio::error::bad_descriptor;
    } else if (state_->registry_->stopped()) {
      return;
    } else {
      std::lock_guard lock(state_->mutex);
      auto& ch = state_->channels_[side_];
      if (state_->closed_[side_]) {
        ec = asio::error::bad_descriptor;
      } else if (ch.eof || ch.receiver_gone) {
        ec = asio::error::broken_pipe;
      } else if (asio::buffer_size(buffers) == 0) {
        // Nothing to write: done at once.
      } else if (ch.writer) {
        ec = asio::error::already_started;
      } else if (std::size_t room = state_->room(1 - side_); room > 0) {
        n = ch.bytes.push(
            buffers,
            std::min(room, detail::test_stream_state::limit(state_->options_[side_].write_limit)));
        ch.written += n;
        state_->wake_reader(1 - side_, done);
      } else {
        suspend<false>(std::forward<Handler>(handler), buffers, ch.writer, ch.writer_id);
        return;
      }
    }
    run(done);
    post_result(std::forward<Handler>(handler), ec, n);
  }

  struct initiate_read {
    test_stream* self;
    using executor_type = asio::any_io_executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class MutableBufferSequence>
    void operator()(Handler&& handler, const MutableBufferSequence& buffers) const {
      self->start_read(std::forward<Handler>(handler), buffers);
    }
  };

  struct initiate_write {
    test_stream* self;
    using executor_type = asio::any_io_executor;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class ConstBufferSequence>
    void operator()(Handler&& handler, const ConstBufferSequence& buffers) const {
      self->start_write(std::forward<Handler>(handler), buffers);
    }
  };

  asio::any_io_executor executor_;
  std::shared_ptr<detail::test_stream_state> state_;
  int side_ = 0;
};

// Two connected streams: what the first writes the second reads, and the
// reverse. `a` and `b` set each stream's own buffer and limits.
inline std::pair<test_stream, test_stream> make_test_stream_pair(
    const asio::any_io_executor& executor, const test_stream_options& a,
    const test_stream_options& b) {
  auto state = std::make_shared<detail::test_stream_state>(executor, a, b);
  return {test_stream(executor, state, 0), test_stream(executor, state, 1)};
}

// Two connected streams with the same settings.
inline std::pair<test_stream, test_stream> make_test_stream_pair(
    const asio::any_io_executor& executor, const test_stream_options& options = {}) {
  return make_test_stream_pair(executor, options, options);
}

// The same two, on an execution context such as an asio::io_context.
template <class ExecutionContext>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    std::pair<test_stream, test_stream> make_test_stream_pair(ExecutionContext& context,
                                                              const test_stream_options& a,
                                                              const test_stream_options& b) {
  return make_test_stream_pair(context.get_executor(), a, b);
}

template <class ExecutionContext>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    std::pair<test_stream, test_stream> make_test_stream_pair(
        ExecutionContext& context, const test_stream_options& options = {}) {
  return make_test_stream_pair(context.get_executor(), options, options);
}

}  // namespace websockets
