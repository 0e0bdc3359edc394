// What the interop tests against Python's websockets (test_interop_python)
// and Node's ws (test_interop_node) share: our server on a thread of its
// own, with a handler that echoes and obeys commands; our client's
// options; and helpers that drive the peers of tests/interop and read
// their JSON lines. See tests/interop/README.md for the peers' protocol.
//
// With g++ 12, no co_await goes inside a Catch macro, and option structs
// are built in variables before the co_await that uses them.
#pragma once

// Failures then print optional values (headers, close codes) as they are.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/json_line.hpp"
#include "support/payload.hpp"
#include "support/peers.hpp"
#include "websockets/websockets.hpp"

namespace interop {

using namespace std::chrono_literals;
using websockets::testing::child_process;
using websockets::testing::json_object;

// The sizes every test sends, text and binary: the edges of the frame
// header's length encodings (125/126, 65535/65536) and a large message.
inline constexpr std::size_t message_sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
// Sent once per direction, without compression: the 64-bit length.
inline constexpr std::size_t huge_size = 16 << 20;

enum class peer_kind { python, node };

inline const char* name_of(peer_kind p) {
  return p == peer_kind::python ? "Python websockets" : "Node ws";
}

// ---- The peers -------------------------------------------------------------

// A peer's scripted client connected to `uri`, with the peer's options.
inline std::unique_ptr<child_process> start_peer_client(peer_kind p, const std::string& uri,
                                                        std::vector<std::string> args = {}) {
  args.insert(args.begin(), uri);
  return p == peer_kind::python
             ? websockets::testing::start_python_peer("py_client.py", std::move(args))
             : websockets::testing::start_node_peer("node_client.js", std::move(args));
}

// A peer's echo server on 127.0.0.1; wait_for_port() says where.
inline std::unique_ptr<child_process> start_peer_server(peer_kind p,
                                                        std::vector<std::string> args = {}) {
  return p == peer_kind::python
             ? websockets::testing::start_python_peer("py_echo_server.py", std::move(args))
             : websockets::testing::start_node_peer("node_echo_server.js", std::move(args));
}

// The next JSON line of `p`.
inline json_object next_json(child_process& p, std::chrono::milliseconds timeout = 30s) {
  auto line = p.read_line(timeout);
  if (!line) throw std::runtime_error(p.failure("stdout ended"));
  return json_object::parse(*line);
}

// The next line whose "event" is `event`, skipping the others.
inline json_object next_event(child_process& p, std::string_view event,
                              std::chrono::milliseconds timeout = 30s) {
  for (;;) {
    auto o = next_json(p, timeout);
    if (o.contains("event") && o.type("event") == json_object::kind::string &&
        o.string("event") == event)
      return o;
  }
}

// Sends one command to a peer's client and returns its answer.
inline json_object command(child_process& client, const std::string& json,
                           std::chrono::milliseconds timeout = 30s) {
  client.write_line(json);
  auto o = next_json(client, timeout);
  INFO(json << " -> " << o.text());
  REQUIRE(o.contains("op"));
  return o;
}

// An "echo" command: `size` bytes of `type` ("text" or "binary").
inline std::string echo_command(std::string_view type, std::size_t size, std::uint32_t seed,
                                int fragments = 1) {
  return R"({"op":"echo","type":")" + std::string(type) + R"(","size":)" + std::to_string(size) +
         R"(,"seed":)" + std::to_string(seed) + R"(,"fragments":)" + std::to_string(fragments) +
         R"(,"timeout":60000})";
}

// Ends a peer's client: at end of stdin it closes (with 1000 if still
// open) and prints its exit line, which is returned.
inline json_object finish_client(child_process& client) {
  client.close_stdin();
  auto exit = next_event(client, "exit");
  const auto status = client.wait_exit();
  CHECK(status.success());
  return exit;
}

// ---- Our side --------------------------------------------------------------

// What our server's handler saw of one connection.
struct connection_record {
  struct message_seen {
    websockets::opcode type;
    std::size_t size;
    std::uint32_t crc32;
  };
  std::string path;
  // The response's Sec-WebSocket-Extensions, if any.
  std::optional<std::string> extensions;
  // What permessage-deflate runs with, if it was negotiated.
  std::optional<websockets::deflate_settings> deflate;
  std::vector<message_seen> messages;
  std::uint16_t close_code = 0;
  std::string close_reason;
  // An exception other than connection_closed, if the handler met one.
  std::string error;
};

// The permessage-deflate settings `ws` negotiated, if any: what the
// connection itself reports.
template <class Connection>
std::optional<websockets::deflate_settings> deflate_of(const Connection& ws) {
  for (const auto& e : ws.extensions()) {
    if (const auto* d = dynamic_cast<const websockets::permessage_deflate*>(e.get()))
      return d->settings();
  }
  return std::nullopt;
}

template <class Connection>
std::optional<std::string> extensions_header(const Connection& ws) {
  const auto value = ws.response_headers().get("Sec-WebSocket-Extensions");
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

// Options for both of our ends: no keepalive pings (the peers' taps count
// frames), no size limit (16 MiB messages), short close timeouts.
inline websockets::server_options server_options_for_tests() {
  websockets::server_options o;
  o.ping_interval = std::nullopt;
  o.max_size = std::nullopt;
  o.close_timeout = 5s;
  return o;
}

inline websockets::client_options client_options_for_tests() {
  websockets::client_options o;
  o.ping_interval = std::nullopt;
  o.max_size = std::nullopt;
  o.close_timeout = 5s;
  return o;
}

// Our server, on 127.0.0.1 and a free port, run by a thread of its own
// while the test drives a peer's client. Its handler sends every message
// back, except text messages that start with '!', which are commands:
//   !ping DATA                 pings the client with DATA, waits for the
//                              pong, then sends "pong DATA"
//   !close CODE REASON         closes the connection with CODE and REASON
//   !fragments N SIZE SEED     sends make_payload(SIZE, SEED, text) in N frames
// When a connection ends, what the handler saw goes to next_closed().
class our_server {
 public:
  explicit our_server(websockets::server_options options = server_options_for_tests()) {
    std::promise<std::uint16_t> started;
    auto port = started.get_future();
    asio::co_spawn(io_, start(this, std::move(options), &started), [&](std::exception_ptr e) {
      if (e) started.set_exception(e);
    });
    thread_ = std::thread([this] { io_.run(); });
    try {
      if (port.wait_for(10s) != std::future_status::ready)
        throw std::runtime_error("our server didn't start within 10 s");
      port_ = port.get();
    } catch (...) {
      stop();
      throw;
    }
  }

  our_server(const our_server&) = delete;
  our_server& operator=(const our_server&) = delete;

  // Closes the server (1001 to connections still open) and waits for it.
  ~our_server() { stop(); }

  std::uint16_t port() const noexcept { return port_; }
  std::string uri(std::string_view path = "/interop") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // What the handler saw of the next connection to end; throws if none ends
  // within `timeout`.
  connection_record next_closed(std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !closed_.empty(); }))
      throw std::runtime_error("no connection to our server ended within " +
                               std::to_string(timeout.count()) + " ms");
    auto record = std::move(closed_.front());
    closed_.pop_front();
    return record;
  }

 private:
  static asio::awaitable<void> start(our_server* self, websockets::server_options options,
                                     std::promise<std::uint16_t>* started) {
    auto handler = [self](websockets::server_connection& ws) { return handle(ws, *self); };
    self->server_ = co_await websockets::serve(handler, "127.0.0.1", 0, options);
    started->set_value(self->server_->endpoints().at(0).port());
  }

  static asio::awaitable<void> shut_down(our_server* self) {
    if (!self->server_) co_return;
    self->server_->close();
    co_await self->server_->wait_closed();
    self->server_.reset();
  }

  void stop() {
    if (!thread_.joinable()) return;
    std::promise<void> done;
    auto finished = done.get_future();
    asio::co_spawn(io_, shut_down(this), [&](std::exception_ptr) { done.set_value(); });
    if (finished.wait_for(30s) != std::future_status::ready) io_.stop();
    work_.reset();
    thread_.join();
  }

  static asio::awaitable<void> handle(websockets::server_connection& ws, our_server& self) {
    connection_record record;
    record.path = ws.path();
    record.extensions = extensions_header(ws);
    record.deflate = deflate_of(ws);
    try {
      while (auto m = co_await ws.next()) {
        record.messages.push_back({m->type(), m->size(), websockets::testing::crc32_of(m->data())});
        if (m->is_text() && m->text().starts_with("!")) {
          co_await obey(ws, std::string(m->text()));
        } else {
          co_await ws.send(*m);
        }
      }
    } catch (const websockets::connection_closed&) {
      // A close code other than 1000 and 1001: recorded below.
    } catch (const std::exception& e) {
      record.error = e.what();
    }
    co_await ws.wait_closed();
    record.close_code = ws.close_code().value_or(0);
    record.close_reason = ws.close_reason().value_or("");
    {
      std::lock_guard lock(self.mutex_);
      self.closed_.push_back(std::move(record));
    }
    self.changed_.notify_all();
  }

  static asio::awaitable<void> obey(websockets::server_connection& ws, std::string command) {
    std::istringstream in(command);
    std::string verb;
    in >> verb;
    if (verb == "!ping") {
      std::string data;
      std::getline(in >> std::ws, data);
      auto waiter = co_await ws.ping(data);
      co_await waiter.wait();
      co_await ws.send("pong " + data);
    } else if (verb == "!close") {
      unsigned code = 0;
      std::string reason;
      in >> code;
      std::getline(in >> std::ws, reason);
      co_await ws.close(static_cast<std::uint16_t>(code), reason);
    } else if (verb == "!fragments") {
      std::size_t count = 0, size = 0;
      std::uint32_t seed = 0;
      in >> count >> size >> seed;
      const std::string payload = websockets::testing::make_payload(size, seed, true);
      std::vector<std::string_view> parts;
      const std::size_t step = (size + count - 1) / count;
      for (std::size_t at = 0; at < size; at += step)
        parts.push_back(std::string_view(payload).substr(at, step));
      co_await ws.send_fragments(parts);
    } else {
      co_await ws.close(1003, "unknown command " + verb);
    }
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::optional<websockets::server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<connection_record> closed_;
};

// Runs the coroutine `body()` on an io_context of this thread; rethrows what
// it throws; fails after `timeout`.
template <class Body>
void run_client(Body&& body, std::chrono::steady_clock::duration timeout = 120s) {
  asio::io_context io(1);
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.run_for(timeout);
  if (!done) throw std::runtime_error("the client coroutine didn't finish in time");
  if (error) std::rethrow_exception(error);
}

// ---- permessage-deflate ----------------------------------------------------

// What one end runs with: see websockets::deflate_settings ("local" is what
// this end sends).
struct expected_deflate {
  bool local_no_context_takeover = false;
  bool remote_no_context_takeover = false;
  int local_max_window_bits = 15;
  int remote_max_window_bits = 15;
};

inline void check_deflate(const std::optional<websockets::deflate_settings>& got,
                          const expected_deflate& want) {
  REQUIRE(got);
  CHECK(got->local_no_context_takeover == want.local_no_context_takeover);
  CHECK(got->remote_no_context_takeover == want.remote_no_context_takeover);
  CHECK(got->local_max_window_bits == want.local_max_window_bits);
  CHECK(got->remote_max_window_bits == want.remote_max_window_bits);
}

// How many compressible text messages each deflate case exchanges: more
// than one, so that a disagreement on context takeover shows.
inline constexpr int deflate_rounds = 3;
inline constexpr std::size_t deflate_message_size = 3000;

}  // namespace interop
