// A suspended asynchronous operation, stored type-erased until an event
// completes it: how recv(), send() and close() wait for the connection's
// reader and writer. (Asio 1.22 has no any_completion_handler.)
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/recycling_allocator.hpp>
#include <memory>
#include <system_error>
#include <utility>

namespace websockets::detail {

// One completion handler of signature void(std::error_code), owned until
// complete() hands it to its executor, or dropped without being called.
class pending_op {
 public:
  pending_op() noexcept = default;
  pending_op(const pending_op&) = delete;
  pending_op& operator=(const pending_op&) = delete;
  pending_op(pending_op&& o) noexcept : op_(std::exchange(o.op_, nullptr)) {}
  pending_op& operator=(pending_op&& o) noexcept {
    if (this != &o) {
      reset();
      op_ = std::exchange(o.op_, nullptr);
    }
    return *this;
  }
  ~pending_op() { reset(); }

  // Stores `handler`; its associated executor (or `fallback`) will run it.
  template <class Handler, class Executor>
  pending_op(Handler&& handler, const Executor& fallback) {
    using op_type = op<std::decay_t<Handler>>;
    auto alloc =
        op_type::rebind(asio::get_associated_allocator(handler, asio::recycling_allocator<void>()));
    auto* mem = std::allocator_traits<decltype(alloc)>::allocate(alloc, 1);
    try {
      op_ = new (mem) op_type(std::forward<Handler>(handler), fallback);
    } catch (...) {
      std::allocator_traits<decltype(alloc)>::deallocate(alloc, mem, 1);
      throw;
    }
  }

  explicit operator bool() const noexcept { return op_ != nullptr; }

  // Runs the handler with `ec`, through its executor: inline if the caller
  // already runs there, queued otherwise. The operation is then empty.
  void complete(std::error_code ec = {}) {
    if (auto* o = std::exchange(op_, nullptr)) o->complete(ec, false);
  }

  // Queues the handler on its executor, never running it inline.
  void post_complete(std::error_code ec = {}) {
    if (auto* o = std::exchange(op_, nullptr)) o->complete(ec, true);
  }

  // Drops the handler without calling it (the suspended coroutine is
  // destroyed with it).
  void reset() noexcept {
    if (auto* o = std::exchange(op_, nullptr)) o->destroy();
  }

 private:
  struct op_base {
    virtual void complete(std::error_code ec, bool queued) = 0;
    virtual void destroy() noexcept = 0;

   protected:
    ~op_base() = default;
  };

  template <class Handler>
  struct op final : op_base {
    using executor_type = asio::associated_executor_t<Handler, asio::any_io_executor>;
    using allocator_type = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;

    static auto rebind(const allocator_type& a) {
      return typename std::allocator_traits<allocator_type>::template rebind_alloc<op>(a);
    }

    template <class H, class Executor>
    op(H&& h, const Executor& fallback)
        : handler(std::forward<H>(h)),
          executor(asio::get_associated_executor(handler, asio::any_io_executor(fallback))) {}

    // No outstanding work is counted: a connection always has a read, a
    // write or a timer pending while anybody waits on it.
    void complete(std::error_code ec, bool queued) override {
      // The operation is over: it no longer listens for cancellation.
      asio::get_associated_cancellation_slot(handler).clear();
      Handler h(std::move(handler));
      executor_type ex(std::move(executor));
      free_self();
      if (queued)
        asio::post(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
      else
        asio::dispatch(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    }

    void destroy() noexcept override {
      asio::get_associated_cancellation_slot(handler).clear();
      free_self();
    }

    // Destroys and deallocates this object (the handler may be moved from).
    void free_self() noexcept {
      auto alloc =
          rebind(asio::get_associated_allocator(handler, asio::recycling_allocator<void>()));
      this->~op();
      std::allocator_traits<decltype(alloc)>::deallocate(alloc, this, 1);
    }

    Handler handler;
    executor_type executor;
  };

  op_base* op_ = nullptr;
};

}  // namespace websockets::detail
