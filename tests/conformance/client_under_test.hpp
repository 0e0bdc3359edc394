// The client the driver tests when it plays the server: websockets::connect()
// and a small echo loop (recv, send back, until the connection closes), on an
// io_context with a thread of its own, configured as echo_server is
// (messages up to 64 MiB, no keepalive pings, permessage-deflate offered
// with the defaults).
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "websockets/client.hpp"
#include "websockets/exceptions.hpp"

namespace websockets::conformance {

// How one run of the echo client went.
struct client_report {
  bool opened = false;                      // connect() returned a connection
  std::string connect_error;                // what connect() threw, if it did
  std::string ended;                        // how the echo loop ended
  bool closed_cleanly = false;              // next() returned std::nullopt (a 1000 or 1001 close)
  std::optional<std::uint16_t> close_code;  // close_code() once closed
  std::size_t echoed = 0;                   // messages sent back
};

// The options of the client under test.
inline client_options echo_client_options() {
  client_options o;
  o.ping_interval = std::nullopt;
  o.max_size = std::size_t{64} << 20;
  return o;
}

class client_under_test {
 public:
  client_under_test() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  client_under_test(const client_under_test&) = delete;
  client_under_test& operator=(const client_under_test&) = delete;

  ~client_under_test() {
    work_.reset();
    io_.stop();  // a client still running here is a case that already failed
    thread_.join();
  }

  // Starts an echo client on `uri`; the future says how it ended.
  std::future<client_report> start(std::string uri,
                                   client_options options = echo_client_options()) {
    auto done = std::make_shared<std::promise<client_report>>();
    auto result = done->get_future();
    asio::co_spawn(io_, run(std::move(uri), std::move(options), done), asio::detached);
    return result;
  }

 private:
  static asio::awaitable<void> run(std::string uri, client_options options,
                                   std::shared_ptr<std::promise<client_report>> done) {
    client_report r;
    try {
      auto ws = co_await websockets::connect(uri, options);
      r.opened = true;
      try {
        while (auto m = co_await ws.next()) {
          co_await ws.send(*m);
          ++r.echoed;
        }
        r.closed_cleanly = true;
        r.ended = "next() returned no message";
      } catch (const connection_closed& e) {
        r.ended = std::string("connection_closed: ") + e.what();
      }
      co_await ws.wait_closed();
      r.close_code = ws.close_code();
    } catch (const std::exception& e) {
      (r.opened ? r.ended : r.connect_error) = e.what();
    }
    done->set_value(std::move(r));
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace websockets::conformance
