// serve(): a WebSocket server on TCP (ws:// and, with a TLS context,
// wss://) or on a Unix socket, running a handler coroutine per connection.
//
//   asio::awaitable<void> echo(websockets::server_connection& ws) {
//     while (auto message = co_await ws.next()) co_await ws.send(*message);
//   }
//   auto srv = co_await websockets::serve(echo, "localhost", 8765);
//   co_await srv.wait_closed();
//
// Each accepted connection goes through the opening handshake (TLS first
// when configured), bounded by open_timeout; a request that isn't a valid
// WebSocket handshake gets an HTTP error and never reaches the handler.
// The handler then runs on the connection's strand. When it returns, the
// server closes the connection with 1000; when it throws, with 1011, and
// the exception goes to the logger with the peer's address and the path.
//
// Every TCP connection, here and in connect(), has TCP_NODELAY set: a
// WebSocket frame is written whole, so Nagle's algorithm only adds delay.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <concepts>
#include <csignal>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "websockets/any_stream.hpp"
#include "websockets/detail/pending_op.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/options.hpp"
#include "websockets/server_handshake.hpp"
#include "websockets/websocket.hpp"

namespace websockets {

// A connection accepted by serve() or unix_serve(): over TCP, TLS or a Unix
// socket, as the server was configured.
using server_connection = basic_websocket<any_stream>;

// What serve() runs for each connection: a coroutine taking the connection.
template <class Handler>
concept connection_handler = std::invocable<Handler&, server_connection&> &&
    std::same_as<std::invoke_result_t<Handler&, server_connection&>, asio::awaitable<void>>;

namespace detail {

// "127.0.0.1:8765", "[::1]:8765".
inline std::string describe_endpoint(const asio::ip::tcp::endpoint& ep) {
  const auto address = ep.address();
  std::string out = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return out + ":" + std::to_string(ep.port());
}

// What only the opening handshake of a connection needs: freed once the
// connection is open, so an open connection doesn't carry it.
struct opening_state {
  opening_state(asio::any_io_executor ex, any_stream s)
      : executor(std::move(ex)), timer(executor), stream(std::move(s)) {}

  // Runs the handshake, and whatever interrupts it: a strand, unless one
  // thread runs everything.
  asio::any_io_executor executor;
  // open_timeout, then the lingering close after a refusal.
  asio::steady_timer timer;
  any_stream stream;
  bool done = false;  // the handshake is over, one way or the other
  bool timed_out = false;
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
        single_threaded_(single_threaded(io_)),
        acceptor_executor_(serial_executor()),
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

  void add_acceptor(asio::ip::tcp::acceptor acceptor) {
    endpoints_.push_back(acceptor.local_endpoint());
    tcp_acceptors_.push_back(std::move(acceptor));
  }

  void set_local_acceptor(asio::local::stream_protocol::acceptor acceptor, std::string path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      local_device_ = st.st_dev;
      local_inode_ = st.st_ino;
    }
    local_path_ = std::move(path);
    local_acceptor_.emplace(std::move(acceptor));
  }

  // Starts one accept loop per acceptor.
  void start() {
    auto self = shared_from_this();
    for (auto& a : tcp_acceptors_) spawn_task(acceptor_executor_, accept_loop(self, a));
    if (local_acceptor_) spawn_task(acceptor_executor_, accept_loop(self, *local_acceptor_));
  }

  std::vector<asio::ip::tcp::endpoint> endpoints() const {
    std::lock_guard lock(mutex_);
    if (closing_) return {};
    return endpoints_;
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
    asio::post(acceptor_executor_, [self] { self->close_acceptors(); });
    for (auto& o : opening) {
      asio::post(o->executor, [o] {
        if (!o->done) o->stream.close();  // the handshake fails and its task ends
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

  void close_acceptors() {
    std::error_code ec;
    for (auto& a : tcp_acceptors_) a.close(ec);
    if (local_acceptor_) {
      local_acceptor_->close(ec);
      // Remove the socket file, unless another server has replaced it.
      struct stat st {};
      if (::stat(local_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
          st.st_dev == local_device_ && st.st_ino == local_inode_)
        ::unlink(local_path_.c_str());
    }
  }

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
    track(any_stream(std::move(socket)), "unix socket " + local_path_);
  }

  // Registers a new connection and starts its opening handshake.
  void track(any_stream stream, std::string peer) {
    auto slot = std::make_shared<server_slot>();
    slot->opening = std::make_shared<opening_state>(serial_executor(), std::move(stream));
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
    if (options.open_timeout) {
      op->timer.expires_after(*options.open_timeout);
      op->timer.async_wait([op](std::error_code ec) {
        if (ec || op->done) return;
        op->timed_out = true;
        op->stream.close();
      });
    }
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
      const bool refused = self->log_failure(slot->peer, op->timed_out, failure);
      if (refused && !op->timed_out) co_await linger(op);
      op->done = true;
      op->timer.cancel();
      op->stream.close();
      self->untrack(slot);
      co_return false;
    }
    op->done = true;
    op->timer.cancel();
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
      co_await close_quietly(ws, 1001);
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
      self->log_handler_failure(slot->peer, path, failure);
      co_await close_quietly(ws, 1011);
    } else {
      co_await close_quietly(ws, 1000);
    }
    self->untrack(slot);
  }

  // Closes a connection for server.close().
  static asio::awaitable<void> going_away(std::shared_ptr<server_state> self,
                                          std::shared_ptr<server_slot> slot) {
    task_guard guard{self};
    co_await close_quietly(*slot->ws, 1001);
  }

  static asio::awaitable<void> close_quietly(server_connection& ws, std::uint16_t code) {
    try {
      co_await ws.close(code);
    } catch (...) {
    }
  }

  // After a refusal, reads what the client still sends, briefly, so that
  // closing doesn't reset the connection before it has read the response.
  static asio::awaitable<void> linger(std::shared_ptr<opening_state> op) {
    op->timer.expires_after(std::chrono::seconds(1));
    op->timer.async_wait([op](std::error_code ec) {
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

  // Logs why a handshake failed; true when the client got a refusal.
  bool log_failure(const std::string& peer, bool timed_out,
                   const std::exception_ptr& failure) const {
    if (timed_out) {
      log(log_level::info, "opening handshake with " + peer + " timed out");
      return false;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const cancel_handshake&) {
      log(log_level::debug, peer + " closed the connection before sending a request");
      return false;
    } catch (const abort_handshake& e) {
      log(log_level::debug, "answered " + peer + " with HTTP " + std::to_string(e.status()));
      return true;
    } catch (const invalid_handshake& e) {
      log(log_level::info, "refused connection from " + peer + ": " + e.what());
      return true;
    } catch (const std::system_error& e) {
      log(log_level::info, "connection from " + peer + " failed: " + e.what());
      return false;
    } catch (const std::exception& e) {
      log(log_level::error, "opening handshake with " + peer + " failed: " + e.what());
      return true;
    } catch (...) {
      log(log_level::error, "opening handshake with " + peer + " failed");
      return true;
    }
  }

  void log_handler_failure(const std::string& peer, const std::string& path,
                           const std::exception_ptr& failure) const {
    const std::string where = "connection handler for " + peer + " " + path;
    try {
      std::rethrow_exception(failure);
    } catch (const connection_closed& e) {
      log(log_level::info, where + " ended: " + e.what());
    } catch (const std::exception& e) {
      log(log_level::error, where + " failed: " + e.what());
    } catch (...) {
      log(log_level::error, where + " failed with an unknown exception");
    }
  }

  // A strand on io_, or io_ itself when one thread runs it.
  asio::any_io_executor serial_executor() const {
    if (single_threaded_) return io_;
    return asio::make_strand(io_);
  }

  asio::any_io_executor io_;
  bool single_threaded_;
  asio::any_io_executor acceptor_executor_;
  server_options options_;
  connection_options connection_;
  handler_type handler_;

  // Set up before start(), then only used on acceptor_executor_.
  std::vector<asio::ip::tcp::acceptor> tcp_acceptors_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  std::optional<asio::local::stream_protocol::acceptor> local_acceptor_;
  std::string local_path_;
  dev_t local_device_ = 0;
  ino_t local_inode_ = 0;

  mutable std::mutex mutex_;
  bool closing_ = false;
  std::size_t tasks_ = 0;
  std::list<std::shared_ptr<server_slot>> slots_;
  std::vector<pending_op> closed_waiters_;
};

// The executor connections run on: the one inside `ex` when `ex` is a
// strand, so that the server's connections don't all share one strand.
inline asio::any_io_executor base_executor(const asio::any_io_executor& ex) {
  if (auto* s = ex.target<asio::strand<asio::io_context::executor_type>>())
    return s->get_inner_executor();
  if (auto* s = ex.target<asio::strand<asio::any_io_executor>>())
    return base_executor(s->get_inner_executor());
  return ex;
}

template <class Handler>
server_state::handler_type erase_handler(Handler&& handler) {
  using stored = std::decay_t<Handler>;
  // Shared, so that a move-only handler fits in std::function; it lives as
  // long as the server's state, longer than every call it makes.
  auto h = std::make_shared<stored>(std::forward<Handler>(handler));
  return [h](server_connection& ws) { return (*h)(ws); };
}

}  // namespace detail

// A running server, as serve() and unix_serve() return it.
//
// Destroying it closes it (as close() does, in the background); keep it
// alive as long as it should serve, and destroy it before its io_context.
class server {
 public:
  // An empty server: closed, no endpoints.
  server() = default;
  explicit server(std::shared_ptr<detail::server_state> state) : state_(std::move(state)) {}

  server(server&&) noexcept = default;
  server& operator=(server&& other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  ~server() { close(); }

  // Stops accepting connections and closes every open one with 1001 (going
  // away): handlers see connection_closed on their next call. Handshakes
  // under way are dropped. Returns at once; wait_closed() waits for the
  // end. Idempotent, and safe from any thread.
  void close() noexcept {
    if (!state_) return;
    try {
      state_->close();
    } catch (...) {
    }
  }

  // Waits until the server is closed (by close(), from anywhere), every
  // connection's TCP connection is closed and every handler has returned.
  asio::awaitable<void> wait_closed() {
    auto state = state_;  // keeps the state alive while waiting
    if (!state) co_return;
    // The initiation captures a plain pointer: g++ 12 destroys the
    // captures of a lambda inside a co_await expression twice.
    auto* s = state.get();
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::error_code)>(
        [s](auto handler) { s->when_closed(std::move(handler)); }, asio::use_awaitable);
  }

  // The local endpoints the server listens on, one per bound address: with
  // port 0, this says which port was chosen. Empty for a Unix socket and
  // once the server is closed.
  std::vector<asio::ip::tcp::endpoint> endpoints() const {
    return state_ ? state_->endpoints() : std::vector<asio::ip::tcp::endpoint>{};
  }

 private:
  std::shared_ptr<detail::server_state> state_;
};

namespace detail {

// Opens, binds and listens on one TCP acceptor.
inline asio::ip::tcp::acceptor listen_on(const asio::any_io_executor& io,
                                         const asio::ip::tcp::endpoint& endpoint,
                                         std::error_code& ec) {
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return acceptor;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // Each address family gets its own socket, so "::" doesn't take IPv4 too.
  if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  ec.clear();
  acceptor.bind(endpoint, ec);
  if (ec) return acceptor;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return acceptor;
}

// Binds every address `host` resolves to, all on the same port: with port
// 0, on the one the system picks for the first.
inline void bind_all(server_state& state, const std::vector<asio::ip::tcp::endpoint>& addresses,
                     std::string_view host, std::uint16_t port) {
  for (int attempt = 0;; ++attempt) {
    std::vector<asio::ip::tcp::acceptor> bound;
    std::uint16_t chosen = port;
    std::error_code last;
    bool retry = false;
    for (const auto& address : addresses) {
      const asio::ip::tcp::endpoint endpoint(address.address(), chosen);
      std::error_code ec;
      auto acceptor = listen_on(state.io(), endpoint, ec);
      if (!ec) {
        if (chosen == 0) chosen = acceptor.local_endpoint().port();
        bound.push_back(std::move(acceptor));
        continue;
      }
      // The port the system gave the first address is taken on another.
      if (port == 0 && ec == asio::error::address_in_use && attempt < 8) {
        retry = true;
        break;
      }
      // An address family the host doesn't have, among several addresses.
      if (addresses.size() > 1 && (ec == asio::error::address_family_not_supported ||
                                   ec == std::errc::address_not_available)) {
        last = ec;
        continue;
      }
      throw std::system_error(ec, "can't listen on " + describe_endpoint(endpoint));
    }
    if (retry) continue;
    if (bound.empty())
      throw std::system_error(last ? last : make_error_code(asio::error::host_not_found),
                              "can't listen on " + std::string(host) + ":" + std::to_string(port));
    for (auto& a : bound) state.add_acceptor(std::move(a));
    return;
  }
}

}  // namespace detail

// Starts a server on `host`:`port` and returns it once it listens. `host`
// may be an address, a name that resolves to several (each is bound, IPv4
// and IPv6 alike), or "" for every interface. Port 0 picks a free port,
// the same for every address; server::endpoints() tells which. Throws
// std::system_error when resolving or binding fails.
//
// `handler` is called with each connection once its opening handshake is
// done, on the connection's strand: `asio::awaitable<void>(server_connection&)`.
// Run it from a coroutine on the io_context that should run the server.
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> serve(
    Handler handler, std::string host, std::uint16_t port, server_options options) {
  const auto caller = co_await asio::this_coro::executor;
  const auto io = detail::base_executor(caller);
  auto state = std::make_shared<detail::server_state>(io, detail::erase_handler(std::move(handler)),
                                                      std::move(options));
  std::vector<asio::ip::tcp::endpoint> addresses;
  std::error_code ec;
  const auto numeric = asio::ip::make_address(host, ec);
  if (!ec) {
    addresses.emplace_back(numeric, port);
  } else {
    asio::ip::tcp::resolver resolver(io);
    const std::string service = std::to_string(port);
    auto results = co_await resolver.async_resolve(
        host, service, asio::ip::resolver_base::passive | asio::ip::resolver_base::numeric_service,
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      throw std::system_error(
          ec, "can't resolve " + host + " to listen on port " + std::to_string(port));
    for (const auto& entry : results) {
      const auto endpoint = entry.endpoint();
      if (std::find(addresses.begin(), addresses.end(), endpoint) == addresses.end())
        addresses.push_back(endpoint);
    }
  }
  detail::bind_all(*state, addresses, host, port);
  state->start();
  co_return server(std::move(state));
}
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> serve(
    Handler handler, std::string host, std::uint16_t port) {
  return serve(std::move(handler), std::move(host), port, server_options{});
}

// Starts a server on the Unix socket at `path` (a stale socket file there
// is replaced, and removed again on close). Throws std::system_error when
// binding fails, std::invalid_argument with a TLS context.
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> unix_serve(
    Handler handler, std::string path, server_options options) {
#ifdef WEBSOCKETS_WITH_OPENSSL
  if (options.ssl_context)
    throw std::invalid_argument("unix_serve: TLS over a Unix socket isn't supported");
#endif
  const auto caller = co_await asio::this_coro::executor;
  const auto io = detail::base_executor(caller);
  auto state = std::make_shared<detail::server_state>(io, detail::erase_handler(std::move(handler)),
                                                      std::move(options));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  asio::local::stream_protocol::acceptor acceptor(io);
  std::error_code ec;
  acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "can't listen on unix socket " + path);
  state->set_local_acceptor(std::move(acceptor), std::move(path));
  state->start();
  co_return server(std::move(state));
}
template <class Handler>
requires connection_handler<std::decay_t<Handler>> asio::awaitable<server> unix_serve(
    Handler handler, std::string path) {
  return unix_serve(std::move(handler), std::move(path), server_options{});
}

// Serves on `host`:`port` until SIGINT or SIGTERM, then closes the server
// and returns once every connection is closed; a second signal stops at
// once. For main(): it runs its own io_context on the calling thread.
// Throws what serve() throws.
template <class Handler>
requires connection_handler<std::decay_t<Handler>>
void run(Handler handler, std::string host, std::uint16_t port, server_options options = {}) {
  asio::io_context context(1);
  asio::signal_set signals(context, SIGINT, SIGTERM);
  std::exception_ptr failure;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        server srv = co_await serve(std::move(handler), std::move(host), port, std::move(options));
        signals.async_wait([&](std::error_code ec, int) {
          if (ec) return;
          srv.close();
          signals.async_wait([&](std::error_code ec2, int) {
            if (!ec2) context.stop();
          });
        });
        co_await srv.wait_closed();
      },
      [&](std::exception_ptr e) {
        failure = e;
        signals.cancel();
      });
  context.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace websockets
