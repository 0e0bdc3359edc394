// The messages a connection received and recv() hasn't taken yet, and the
// rules around them: at most max_queue of them (then the reader pauses,
// and resumes once recv() takes one), one recv() waiting at a time, and a
// message taken by a recv() that was cancelled goes back to the front.
//
// The connection's strand owns it; nothing here does I/O. The waiting
// recv()'s completion handler is kept here (waiter()), and woken by wake().
#pragma once

#include <asio/error.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "websockets/detail/ring.hpp"
#include "websockets/impl/pending_op.hpp"
#include "websockets/message.hpp"

namespace websockets::detail {

// A waiter that may be cancelled: the generation tells a late cancellation
// from one meant for the current wait.
struct cancellable_waiter {
  pending_op op;
  std::uint64_t generation = 0;
};

class receive_queue {
 public:
  // `max_queue` messages at most (0: no limit).
  explicit receive_queue(std::size_t max_queue) noexcept : max_queue_(max_queue) {}

  std::size_t size() const noexcept { return messages_.size(); }
  bool empty() const noexcept { return messages_.empty(); }
  // Whether the reader must stop parsing messages until one is taken.
  bool full() const noexcept { return max_queue_ != 0 && messages_.size() >= max_queue_; }

  // ---- The reader's side ------------------------------------------------

  void push(message&& m) { messages_.push_back(std::move(m)); }

  // The reader stopped because the queue is full (or enough is buffered);
  // take() says when to go on.
  void pause_reader() noexcept { reader_paused_ = true; }

  // ---- recv()'s side ----------------------------------------------------

  // Marks a recv() as waiting; a second one at the same time is a usage
  // error. `cancelled` is the flag a recv() from another executor is
  // cancelled through (see connection_core::receive_from_afar), or null.
  void begin_receive(const std::atomic<bool>* cancelled) {
    if (receiving_)
      throw std::logic_error(
          "recv() called while another coroutine is already waiting for the next message");
    receiving_ = true;
    cancelled_ = cancelled;
  }
  void end_receive() noexcept {
    receiving_ = false;
    cancelled_ = nullptr;
  }

  // Takes the oldest message (the queue must not be empty).
  message take() { return messages_.pop_front(); }

  // After take(): whether the reader was paused and should now resume (it
  // is then no longer marked paused).
  bool resume_reader() noexcept { return std::exchange(reader_paused_, false); }

  // A message taken by a recv() that was cancelled: the next one returns it.
  void put_back(message&& m) { messages_.push_front(std::move(m)); }

  // ---- The waiting recv() -----------------------------------------------

  cancellable_waiter& waiter() noexcept { return waiter_; }
  bool has_waiter() const noexcept { return static_cast<bool>(waiter_.op); }

  // Resumes the waiting recv(), if any (with `ec`: why it stops waiting).
  void wake(std::error_code ec = {}) {
    if (waiter_.op) waiter_.op.complete(ec);
  }

  // Wakes the waiting recv() whose cancellation flag is `flag`, if it
  // still waits: its cancellation, emitted on its own executor, reached
  // the strand.
  void cancel_remote(const std::atomic<bool>* flag);

  // At the io_context's shutdown: the waiting recv() is dropped unresumed.
  pending_op release_waiter() noexcept { return std::move(waiter_.op); }

 private:
  ring<message> messages_;
  cancellable_waiter waiter_;
  std::size_t max_queue_;
  const std::atomic<bool>* cancelled_ = nullptr;
  bool receiving_ = false;
  bool reader_paused_ = false;
};

inline void receive_queue::cancel_remote(const std::atomic<bool>* flag) {
  if (cancelled_ == flag && waiter_.op) waiter_.op.complete(asio::error::operation_aborted);
}

}  // namespace websockets::detail
