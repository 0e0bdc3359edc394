// The machinery of a server: what its accept loops, its connections' tasks
// and the server object share (options, acceptors, the live connections,
// the count of tasks that wait_closed() waits for), and the life of one
// connection, from accept() through its opening handshake and its handler
// to the close.
#pragma once

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "websockets/any_stream.hpp"
#include "websockets/close_code.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/impl/endpoint.hpp"
#include "websockets/impl/executor.hpp"
#include "websockets/impl/open_deadline.hpp"
#include "websockets/impl/pending_op.hpp"
#include "websockets/impl/server_acceptors.hpp"
#include "websockets/impl/server_log.hpp"
#include "websockets/options.hpp"
#include "websockets/server_handshake.hpp"
#include "websockets/websocket.hpp"

namespace websockets {

// Also declared, with its documentation, in server.hpp.
using server_connection = basic_websocket<any_stream>;

namespace detail {

// What only the opening handshake of a connection needs: freed once the
// connection is open, so an open connection doesn't carry it.
struct opening_state {
  opening_state(asio::any_io_executor ex, any_stream s)
      : executor(std::move(ex)), deadline(executor), stream(std::move(s)) {}

  // Runs the handshake, and whatever interrupts it: a strand, unless one
  // thread runs everything.
  asio::any_io_executor executor;
  // open_timeout; its timer then bounds the lingering close after a refusal.
  open_deadline deadline;
  any_stream stream;
};

// One connection of a server, from accept() to the end of its handler.
struct server_slot {
  // Until the handshake completes; then the connection and its executor.
  // Which of the two is set changes under the server's mutex.
  std::shared_ptr<opening_state> opening;
  std::optional<server_connection> ws;
  asio::any_io_executor ws_executor;
  std::string peer;       // for log lines
  bool finished = false;  // guarded by the server's mutex
  std::list<std::shared_ptr<server_slot>>::iterator position;
};

// What a server's tasks share: the options, the acceptors, the live
// connections and the count of tasks that wait_closed() waits for. The
// server object, its accept loops and its connection tasks each hold it,
// so it lives as long as the last of them.
class server_state : public std::enable_shared_from_this<server_state> {
 public:
  using handler_type = std::function<asio::awaitable<void>(server_connection&)>;

  server_state(asio::any_io_executor io, handler_type handler, server_options options)
      : io_(std::move(io)),
        acceptor_executor_(serial_executor(io_)),
        options_(std::move(options)),
        connection_(connection_options_of(options_)),
        handler_(std::move(handler)) {
    if (!options_.logger) options_.logger = [](log_level, std::string_view) {};
  }

  const asio::any_io_executor& io() const noexcept { return io_; }
  const server_options& options() const noexcept { return options_; }

  void log(log_level level, const std::string& line) const {
    try {
      options_.logger(level, line);
    } catch (...) {
      // A failing logger mustn't take a connection down with it.
    }
  }

  // ---- Listening --------------------------------------------------------

  // Set up before start(), then only used on the acceptors' executor.
  server_acceptors& acceptors() noexcept { return acceptors_; }

  // Starts one accept loop per acceptor.
  void start() {
    auto self = shared_from_this();
    for (auto& a : acceptors_.tcp()) spawn_task(acceptor_executor_, accept_loop(self, a));
    if (auto* local = acceptors_.local()) spawn_task(acceptor_executor_, accept_loop(self, *local));
  }

  std::vector<asio::ip::tcp::endpoint> endpoints() const {
    std::lock_guard lock(mutex_);
    if (closing_) return {};
    return acceptors_.endpoints();
  }

  // ---- Closing ----------------------------------------------------------

  // Stops accepting and closes every connection with 1001; a handshake
  // under way is aborted. Idempotent; safe from any thread.
  void close() {
    auto self = shared_from_this();
    std::vector<std::shared_ptr<opening_state>> opening;
    std::vector<std::shared_ptr<server_slot>> open;
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;
      closing_ = true;
      for (const auto& slot : slots_) {
        if (slot->opening) {
          opening.push_back(slot->opening);
        } else if (slot->ws) {
          open.push_back(slot);
          ++tasks_;  // going_away() below
        }
      }
    }
    asio::post(acceptor_executor_, [self] { self->acceptors_.close(); });
    for (auto& o : opening) {
      asio::post(o->executor, [o] {
        if (!o->deadline.done()) o->stream.close();  // the handshake fails and its task ends
      });
    }
    for (auto& slot : open)
      asio::co_spawn(slot->ws_executor, going_away(self, slot), asio::detached);
    notify_if_closed();
  }

  bool closing() const {
    std::lock_guard lock(mutex_);
    return closing_;
  }

  // Completes `handler` once the server is closed and no task is left.
  template <class Handler>
  void when_closed(Handler&& handler) {
    std::unique_lock lock(mutex_);
    if (closing_ && tasks_ == 0) {
      lock.unlock();
      auto ex = asio::get_associated_executor(handler, io_);
      asio::post(ex, [h = std::forward<Handler>(handler)]() mutable { h(std::error_code()); });
      return;
    }
    closed_waiters_.emplace_back(std::forward<Handler>(handler), io_);
  }

 private:
  // ---- Tasks ------------------------------------------------------------

  template <class Executor>
  void spawn_task(const Executor& ex, asio::awaitable<void> task) {
    {
      std::lock_guard lock(mutex_);
      ++tasks_;
    }
    asio::co_spawn(ex, std::move(task), asio::detached);
  }

  void task_done() {
    {
      std::lock_guard lock(mutex_);
      --tasks_;
    }
    notify_if_closed();
  }

  // Wakes wait_closed() once the server is closed and no task is left,
  // from a fresh handler: a task's last step mustn't resume a waiter inline.
  void notify_if_closed() {
    std::vector<pending_op> wake;
    {
      std::lock_guard lock(mutex_);
      if (closing_ && tasks_ == 0) wake.swap(closed_waiters_);
    }
    if (wake.empty()) return;
    asio::post(io_, [wake = std::move(wake)]() mutable {
      for (auto& w : wake) w.complete();
    });
  }

  // Calls task_done() when a task's coroutine ends, however it ends.
  struct task_guard {
    std::shared_ptr<server_state> state;
    ~task_guard() {
      if (state) state->task_done();
    }
  };

  // ---- Accepting --------------------------------------------------------

  template <class Acceptor>
  static asio::awaitable<void> accept_loop(std::shared_ptr<server_state> self, Acceptor& acceptor) {
    task_guard guard{self};
    for (;;) {
      std::error_code ec;
      auto socket =
          co_await acceptor.async_accept(self->io_, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open() || self->closing()) break;
        // Out of file descriptors, say: wait a little rather than spin.
        self->log(log_level::warning, "accepting a connection failed: " + ec.message());
        asio::steady_timer pause(self->acceptor_executor_, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      self->start_connection(std::move(socket));
    }
  }

  void start_connection(asio::ip::tcp::socket socket) {
    std::error_code ec;
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    const auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("an unknown peer") : describe_endpoint(remote);
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (options_.ssl_context) {
      track(any_stream(any_stream::tls_stream(std::move(socket), *options_.ssl_context)),
            std::move(peer));
      return;
    }
#endif
    track(any_stream(std::move(socket)), std::move(peer));
  }

  void start_connection(asio::local::stream_protocol::socket socket) {
    track(any_stream(std::move(socket)), "unix socket " + acceptors_.local_path());
  }

  // Registers a new connection and starts its opening handshake.
  void track(any_stream stream, std::string peer) {
    auto slot = std::make_shared<server_slot>();
    slot->opening = std::make_shared<opening_state>(serial_executor(io_), std::move(stream));
    slot->peer = std::move(peer);
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;  // dropping the slot closes the socket
      slots_.push_back(slot);
      slot->position = std::prev(slots_.end());
      ++tasks_;
    }
    const auto executor = slot->opening->executor;
    asio::co_spawn(executor, connection_task(shared_from_this(), std::move(slot)), asio::detached);
  }

  // Forgets a connection whose task is over.
  void untrack(const std::shared_ptr<server_slot>& slot) {
    std::lock_guard lock(mutex_);
    if (slot->finished) return;
    slot->finished = true;
    slots_.erase(slot->position);
  }

  // ---- One connection ---------------------------------------------------

  // The life of one connection: its opening handshake, then its handler,
  // here when one thread runs everything, else on the connection's strand.
  static asio::awaitable<void> connection_task(std::shared_ptr<server_state> self,
                                               std::shared_ptr<server_slot> slot) {
    task_guard guard{self};
    const bool open = co_await open_connection(self, slot);  // its frame goes once open
    if (!open) co_return;
    const auto executor = slot->ws_executor;
    const auto here = co_await asio::this_coro::executor;
    if (executor == here)
      co_await handle(std::move(self), std::move(slot));
    else
      self->spawn_task(executor, run_handler(self, std::move(slot)));
  }

  // TLS and the opening handshake, within open_timeout. True when the
  // connection is open and its handler should run.
  static asio::awaitable<bool> open_connection(std::shared_ptr<server_state> self,
                                               std::shared_ptr<server_slot> slot) {
    const auto& options = self->options_;
    std::shared_ptr<opening_state> op = slot->opening;
    op->deadline.arm(op, options.open_timeout, [op = op.get()] { op->stream.close(); });
    opening_handshake handshake;
    std::exception_ptr failure;
    try {
#ifdef WEBSOCKETS_WITH_OPENSSL
      if (auto* tls = op->stream.tls())
        co_await tls->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
#endif
      handshake = co_await server_handshake(op->stream, options);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      const auto line = describe_handshake_failure(slot->peer, op->deadline.timed_out(), failure);
      self->log(line.level, line.text);
      if (line.refused && !op->deadline.timed_out()) co_await linger(op);
      op->deadline.finish();
      op->stream.close();
      self->untrack(slot);
      co_return false;
    }
    op->deadline.finish();
    auto& ws = slot->ws.emplace(std::move(op->stream), role::server, self->connection_,
                                std::move(handshake));
    bool closing = false;
    {
      std::lock_guard lock(self->mutex_);
      slot->ws_executor = ws.get_executor();
      slot->opening.reset();
      closing = self->closing_;
    }
    if (closing) {
      co_await close_quietly(ws, close_code::going_away);
      self->untrack(slot);
      co_return false;
    }
    co_return true;
  }

  // handle() on the connection's executor, as a task of its own.
  static asio::awaitable<void> run_handler(std::shared_ptr<server_state> self,
                                           std::shared_ptr<server_slot> slot) {
    task_guard guard{self};
    co_await handle(std::move(self), std::move(slot));
  }

  // Runs the handler, then closes: 1000 when it returns, 1011 when it
  // throws.
  static asio::awaitable<void> handle(std::shared_ptr<server_state> self,
                                      std::shared_ptr<server_slot> slot) {
    auto& ws = *slot->ws;
    const std::string path = ws.path();
    std::exception_ptr failure;
    try {
      co_await self->handler_(ws);
    } catch (const connection_closed_ok&) {
      // The peer closed normally and the handler let it end there.
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      const auto line = describe_handler_failure(slot->peer, path, failure);
      self->log(line.level, line.text);
      co_await close_quietly(ws, close_code::internal_error);
    } else {
      co_await close_quietly(ws, close_code::normal_closure);
    }
    self->untrack(slot);
  }

  // Closes a connection for server.close().
  static asio::awaitable<void> going_away(std::shared_ptr<server_state> self,
                                          std::shared_ptr<server_slot> slot) {
    task_guard guard{self};
    co_await close_quietly(*slot->ws, close_code::going_away);
  }

  static asio::awaitable<void> close_quietly(server_connection& ws, close_code code) {
    try {
      co_await ws.close(code);
    } catch (...) {
    }
  }

  // After a refusal, reads what the client still sends, briefly, so that
  // closing doesn't reset the connection before it has read the response.
  static asio::awaitable<void> linger(std::shared_ptr<opening_state> op) {
    op->deadline.timer().expires_after(std::chrono::seconds(1));
    op->deadline.timer().async_wait([op](std::error_code ec) {
      if (!ec) op->stream.close();
    });
    static constexpr std::size_t max_drained = 64 * 1024;
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (drained < max_drained && op->stream.is_open()) {
      std::error_code ec;
      drained += co_await op->stream.async_read_some(asio::buffer(sink),
                                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
  }

  asio::any_io_executor io_;
  asio::any_io_executor acceptor_executor_;
  server_options options_;
  connection_options connection_;
  handler_type handler_;

  server_acceptors acceptors_;

  mutable std::mutex mutex_;
  bool closing_ = false;
  std::size_t tasks_ = 0;
  std::list<std::shared_ptr<server_slot>> slots_;
  std::vector<pending_op> closed_waiters_;
};

template <class Handler>
server_state::handler_type erase_handler(Handler&& handler) {
  using stored = std::decay_t<Handler>;
  // Shared, so that a move-only handler fits in std::function; it lives as
  // long as the server's state, longer than every call it makes.
  auto h = std::make_shared<stored>(std::forward<Handler>(handler));
  return [h](server_connection& ws) { return (*h)(ws); };
}

}  // namespace detail
}  // namespace websockets
