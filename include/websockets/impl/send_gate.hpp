// Who may send, and when a sender must wait: the rules between send(),
// send_fragments() and the socket.
//   - A fragmented message goes out whole: while send_fragments() runs,
//     other messages wait (pings and pongs don't).
//   - write_limit: once more than that many bytes wait to be written, a
//     sender waits until the buffer drains to a quarter of it (the
//     low-water mark); a sender whose payload was borrowed rather than
//     copied waits until it is written.
//   - Fairness: a send() loop on a socket that keeps up never suspends, so
//     it yields its thread every so often.
//
// The connection's strand owns it; nothing here does I/O. Byte counts are
// the protocol's: bytes queued for sending since the start, bytes written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "websockets/impl/pending_op.hpp"

namespace websockets::detail {

class send_gate {
 public:
  explicit send_gate(std::size_t write_limit) noexcept : write_limit_(write_limit) {}

  std::size_t write_limit() const noexcept { return write_limit_; }

  // ---- Fragmented messages ----------------------------------------------

  bool fragmenting() const noexcept { return fragmenting_; }
  void begin_fragments() noexcept { fragmenting_ = true; }
  // Ends send_fragments(); the senders that waited for it may go on
  // (the caller completes what this returns, last).
  std::vector<pending_op> end_fragments() noexcept {
    fragmenting_ = false;
    return std::exchange(fragment_waiters_, {});
  }
  void wait_for_fragments(pending_op&& op) { fragment_waiters_.push_back(std::move(op)); }
  // The connection is gone: the waiting senders wake (and find it closed).
  std::vector<pending_op> take_fragment_waiters() noexcept {
    return std::exchange(fragment_waiters_, {});
  }

  // ---- write_limit ------------------------------------------------------

  // After a frame was queued: the byte count (in bytes sent) its sender
  // must wait for, or 0 to go on at once. `borrowed`: the payload is
  // referenced, not copied, so it must be written before the sender
  // returns.
  std::uint64_t wait_target(std::uint64_t queued, std::uint64_t sent,
                            bool borrowed) const noexcept {
    if (borrowed) return queued;
    if (queued - sent <= write_limit_) return 0;
    const std::uint64_t low_water = write_limit_ / 4;
    return queued > low_water ? queued - low_water : 0;
  }

  void wait_until_sent(std::uint64_t until, pending_op&& op) {
    send_waiters_.push_back({until, std::move(op)});
  }
  bool has_send_waiters() const noexcept { return !send_waiters_.empty(); }

  // The senders whose bytes are out (all of them when `all`: the
  // connection is gone), removed from the gate for the caller to complete.
  std::vector<pending_op> ready_senders(std::uint64_t sent, bool all) {
    std::vector<pending_op> ready;
    std::size_t kept = 0;
    for (auto& w : send_waiters_) {
      if (all || w.until <= sent)
        ready.push_back(std::move(w.op));
      else
        send_waiters_[kept++] = std::move(w);
    }
    send_waiters_.resize(kept);
    return ready;
  }

  // ---- Fairness ---------------------------------------------------------

  // A send that didn't suspend: true when the sender should now yield.
  bool sent_without_waiting() noexcept {
    if (++sends_without_yield_ < sends_between_yields) return false;
    sends_without_yield_ = 0;
    return true;
  }
  // The sender, or recv(), is about to suspend anyway.
  void suspending() noexcept { sends_without_yield_ = 0; }

  // At the io_context's shutdown: every waiter, dropped unresumed.
  void release_waiters(std::vector<pending_op>& out) {
    for (auto& op : fragment_waiters_) out.push_back(std::move(op));
    for (auto& w : send_waiters_) out.push_back(std::move(w.op));
    fragment_waiters_.clear();
    send_waiters_.clear();
  }

  static constexpr std::uint32_t sends_between_yields = 256;

 private:
  struct send_waiter {
    std::uint64_t until;
    pending_op op;
  };

  std::size_t write_limit_;
  std::vector<send_waiter> send_waiters_;
  std::vector<pending_op> fragment_waiters_;
  std::uint32_t sends_without_yield_ = 0;
  bool fragmenting_ = false;
};

}  // namespace websockets::detail
