// open_timeout, for the server's and the client's opening handshakes: a
// timer that, if the handshake isn't over in time, marks it timed out and
// aborts it (closing its stream), so that whatever step it is in fails.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "websockets/connection_options.hpp"

namespace websockets::detail {

class open_deadline {
 public:
  // The timer runs on `serial`, the executor the handshake runs on, so the
  // expiry and the steps it interrupts never run at once.
  explicit open_deadline(const asio::any_io_executor& serial) : timer_(serial) {}

  // Calls `abort()` after `timeout` (none: never) unless finish() came
  // first. `owner` keeps what `abort` touches alive until then.
  template <class Owner, class Abort>
  void arm(std::shared_ptr<Owner> owner, const std::optional<duration>& timeout, Abort abort) {
    if (!timeout) return;
    timer_.expires_after(*timeout);
    timer_.async_wait(
        [this, owner = std::move(owner), abort = std::move(abort)](std::error_code ec) mutable {
          if (ec || done_) return;
          timed_out_ = true;
          abort();
        });
  }

  // The handshake is over, one way or the other: the deadline no longer
  // applies.
  void finish() {
    done_ = true;
    timer_.cancel();
  }

  bool done() const noexcept { return done_; }
  bool timed_out() const noexcept { return timed_out_; }

  // For what comes after the handshake on the same executor (the lingering
  // close after a refusal).
  asio::steady_timer& timer() noexcept { return timer_; }

 private:
  asio::steady_timer timer_;
  bool done_ = false;
  bool timed_out_ = false;
};

}  // namespace websockets::detail
