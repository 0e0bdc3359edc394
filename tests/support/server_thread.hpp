// A serve() server on 127.0.0.1 with an io_context and threads of its own,
// so that a test's clients and the server don't share a thread: a client
// that measures the server's latency, or a flood of peers, then sees the
// server as a separate process would.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "websockets/server.hpp"

namespace websockets::test {

class server_thread {
 public:
  // Starts serve(handler, "127.0.0.1", 0, options) on an io_context run by
  // `threads` threads, and returns once it listens. Throws what serve()
  // throws.
  template <class Handler>
  server_thread(Handler handler, server_options options, int threads = 1) : context_(threads) {
    std::promise<asio::ip::tcp::endpoint> listening;
    auto endpoint = listening.get_future();
    asio::co_spawn(context_, run(this, std::move(handler), std::move(options), &listening),
                   [this](std::exception_ptr e) { failure_ = e; });
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { context_.run_for(max_lifetime); });
    try {
      endpoint_ = endpoint.get();
    } catch (...) {
      join();
      throw;
    }
  }

  server_thread(const server_thread&) = delete;
  server_thread& operator=(const server_thread&) = delete;

  ~server_thread() { stop(); }

  const asio::ip::tcp::endpoint& endpoint() const noexcept { return endpoint_; }

  // "ws://127.0.0.1:PORT/path".
  std::string uri(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(endpoint_.port()) + std::string(path);
  }

  // server::close(): from this thread, as the server allows.
  void close() {
    if (server_) server_->close();
  }

  // Closes the server, waits until wait_closed() returns and every thread
  // is done, and rethrows what the serving coroutine threw. Idempotent.
  void stop() {
    close();
    join();
    if (auto e = std::exchange(failure_, nullptr)) std::rethrow_exception(e);
  }

  // Whether wait_closed() returned (the server and all its connections are
  // gone); meaningful after stop().
  bool closed_cleanly() const noexcept { return closed_; }

 private:
  // A server stuck longer than this is a bug; the threads give up then.
  static constexpr std::chrono::seconds max_lifetime{120};

  template <class Handler>
  static asio::awaitable<void> run(server_thread* self, Handler handler, server_options options,
                                   std::promise<asio::ip::tcp::endpoint>* listening) {
    try {
      // As lvalues: the g++ < 13 guard rejects rvalues inside co_await.
      auto srv = co_await serve(handler, "127.0.0.1", 0, options);
      self->server_.emplace(std::move(srv));
    } catch (...) {
      listening->set_exception(std::current_exception());
      co_return;
    }
    listening->set_value(self->server_->endpoints().at(0));
    co_await self->server_->wait_closed();
    self->closed_ = true;
  }

  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  asio::io_context context_;
  std::optional<server> server_;
  std::vector<std::thread> threads_;
  asio::ip::tcp::endpoint endpoint_;
  std::exception_ptr failure_;
  bool closed_ = false;
};

}  // namespace websockets::test
