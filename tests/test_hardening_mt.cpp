// Hardening under threads: serve() and connect() on io_contexts run by
// several threads, with sends, receives, pings and closes racing from
// coroutines on different threads, and a million numbered messages through
// a slow echo server with tiny queues. Tagged [mt]; the program carries the
// ctest label mt, so that a ThreadSanitizer build can run just these (see
// tests/hardening.cmake).
//
// Catch's assertions aren't thread-safe: coroutines that may run on any
// thread record what they see, and only the test's main coroutine (which
// runs on one thread at a time) asserts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/raw_peer.hpp"
#include "support/server_thread.hpp"
#include "support/ws_pairs.hpp"
#include "websockets/websockets.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

// Sanitizers slow everything down several times: the message counts shrink
// under them, so that the suite stays quick there too.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HARDENING_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HARDENING_SANITIZED 1
#endif
#endif
#ifndef HARDENING_SANITIZED
#define HARDENING_SANITIZED 0
#endif

namespace {

// Under a sanitizer and a loaded machine, a closing handshake behind a
// queue of echoes may take longer than 2 s; past close_timeout the server
// drops TCP and the client sees 1006 instead of the close frame.
constexpr auto close_timeout = HARDENING_SANITIZED ? 10s : 2s;

server_options quiet_server(log_capture& log) {
  server_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = close_timeout;
  o.logger = log.logger();
  return o;
}

client_options quiet_client() {
  client_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = close_timeout;
  return o;
}

// Problems seen by coroutines on any thread, for the main coroutine to
// report.
class problems {
 public:
  void add(std::string what) {
    std::lock_guard lock(mutex_);
    if (list_.size() < 20) list_.push_back(std::move(what));
    ++count_;
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  std::string summary() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& p : list_) out += p + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> list_;
  std::size_t count_ = 0;
};

// "tag:sender:index" and its parts.
struct numbered {
  std::string tag;
  int sender = -1;
  long index = -1;
};

std::optional<numbered> parse_numbered(std::string_view t) {
  const auto a = t.find(':');
  const auto b = a == std::string_view::npos ? a : t.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  numbered n;
  n.tag = std::string(t.substr(0, a));
  auto s = t.substr(a + 1, b - a - 1), i = t.substr(b + 1);
  if (std::from_chars(s.data(), s.data() + s.size(), n.sender).ec != std::errc())
    return std::nullopt;
  if (std::from_chars(i.data(), i.data() + i.size(), n.index).ec != std::errc())
    return std::nullopt;
  return n;
}

// The state one client's coroutines share; counters are atomic because the
// coroutines run on any of the io_context's threads.
struct client_state {
  client_connection ws;
  std::atomic<long> echoes{0};
  std::atomic<int> running{0};
  explicit client_state(client_connection c) : ws(std::move(c)) {}
};

// Sends "echo:sender:i" for i = 0, 1, ... until the connection closes,
// yielding now and then like an application with other work to do (a
// send() loop that never yields is another test's subject).
asio::awaitable<void> keep_sending(std::shared_ptr<client_state> c, int sender, problems* p) {
  for (long i = 0;; ++i) {
    try {
      if (i % 4 == 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      // Sizes vary so that some messages span several writes.
      std::string body = "echo:" + std::to_string(sender) + ":" + std::to_string(i);
      if (i % 50 == 0) body += std::string(static_cast<std::size_t>(i % 7) * 10000, '.');
      co_await c->ws.send(body);
    } catch (const connection_closed&) {
      break;
    } catch (const std::exception& e) {
      p->add(std::string("send: ") + e.what());
      break;
    }
  }
  --c->running;
}

// Pings until the connection closes; each pong must come.
asio::awaitable<void> keep_pinging(std::shared_ptr<client_state> c, problems* p) {
  try {
    for (;;) {
      auto waiter = co_await c->ws.ping();
      co_await waiter.wait();
    }
  } catch (const connection_closed&) {
  } catch (const std::exception& e) {
    p->add(std::string("ping: ") + e.what());
  }
  --c->running;
}

// Receives until the connection closes, checking that each sender's echoes
// and the server's pushes come whole and in order.
asio::awaitable<void> keep_receiving(std::shared_ptr<client_state> c, int senders, problems* p) {
  std::vector<long> next(static_cast<std::size_t>(senders), 0);
  long next_push = 0;
  try {
    for (;;) {
      // Half the receives race a timer, so some are cancelled mid-way;
      // a cancelled recv() loses nothing.
      std::optional<message> m;
      if (next_push % 2 == 0) {
        // Not `recv() || sleep_for()`: asio's `||` waits for the first
        // *success*, so once the connection is closed it would swallow
        // recv()'s exception and report the timer, again and again.
        const auto ex = co_await asio::this_coro::executor;
        auto [order, recv_error, received, sleep_error] =
            co_await asio::experimental::make_parallel_group(
                asio::co_spawn(ex, c->ws.recv(), asio::experimental::deferred),
                asio::co_spawn(ex, sleep_for(1ms), asio::experimental::deferred))
                .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        if (order[0] == 0 && recv_error) std::rethrow_exception(recv_error);
        if (order[0] == 1) continue;  // timed out: recv() was cancelled
        m.emplace(std::move(received));
      } else {
        m.emplace(co_await c->ws.recv());
      }
      std::string_view t = m->text();
      const auto dots = t.find('.');
      const auto n = parse_numbered(t.substr(0, dots));
      if (!n) {
        p->add("a mangled message: " + std::string(t.substr(0, 40)));
        continue;
      }
      if (n->tag == "push") {
        if (n->index != next_push) p->add("push " + std::to_string(n->index) + " out of order");
        next_push = n->index + 1;
        continue;
      }
      auto& expected = next.at(static_cast<std::size_t>(n->sender));
      if (n->index != expected)
        p->add("sender " + std::to_string(n->sender) + ": echo " + std::to_string(n->index) +
               " instead of " + std::to_string(expected));
      const std::size_t padding = n->index % 50 == 0 ? (n->index % 7) * 10000 : 0;
      if (t.size() - (dots == std::string_view::npos ? t.size() : dots) != padding)
        p->add("an echo cut short");
      expected = n->index + 1;
      ++c->echoes;
    }
  } catch (const connection_closed&) {
  } catch (const std::exception& e) {
    p->add(std::string("recv: ") + e.what());
  }
  --c->running;
}

// The server side: echoes, while another coroutine, spawned on the
// io_context (so on any thread, not the connection's strand), pushes
// numbered messages into the same connection.
asio::awaitable<void> push(server_connection& ws, problems* p) {
  try {
    for (long i = 0;; ++i) {
      co_await ws.send("push:0:" + std::to_string(i));
      if (i % 8 == 0) co_await sleep_for(1ms);
      if (i % 2 == 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  } catch (const connection_closed&) {
  } catch (const std::exception& e) {
    p->add(std::string("push: ") + e.what());
  }
}

asio::awaitable<void> echo_until_closed(server_connection& ws, problems* p) {
  try {
    while (auto m = co_await ws.next()) co_await ws.send(*m);
  } catch (const connection_closed&) {
  } catch (const std::exception& e) {
    p->add(std::string("echo: ") + e.what());
  }
}

}  // namespace

TEST_CASE(
    "an io_context run by 4 threads: clients and server send, receive, ping and close at once",
    "[hardening][mt]") {
  constexpr int clients = 8, senders = 4;
  constexpr long echoes_before_closing = HARDENING_SANITIZED ? 100 : 400;
  problems seen;
  std::atomic<int> handlers_done{0};
  run_async(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        log_capture log;
        auto options = quiet_server(log);
        options.max_queue = 4;
        options.write_limit = 16 * 1024;
        problems* p = &seen;
        auto* done = &handlers_done;
        auto handler = [ex, p, done](server_connection& ws) -> asio::awaitable<void> {
          // Not `&&`: asio's parallel groups need all their operations on
          // one strand, and the pusher runs on another.
          auto pushed = std::make_shared<std::atomic<bool>>(false);
          asio::co_spawn(ex, push(ws, p), [pushed](std::exception_ptr) { *pushed = true; });
          co_await echo_until_closed(ws, p);
          while (!*pushed) co_await sleep_for(1ms);  // the pusher fails fast once closed
          ++*done;
        };
        auto srv = co_await serve(handler, "127.0.0.1", 0, options);
        const std::string uri =
            "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port()) + "/";
        auto copts = quiet_client();
        copts.max_queue = 4;
        copts.write_limit = 16 * 1024;

        std::vector<std::shared_ptr<client_state>> all;
        for (int i = 0; i < clients; ++i) {
          auto ws = co_await connect(uri, copts);
          all.push_back(std::make_shared<client_state>(std::move(ws)));
        }
        for (auto& c : all) {
          c->running = senders + 2;
          for (int s = 0; s < senders; ++s)
            asio::co_spawn(ex, keep_sending(c, s, p), asio::detached);
          // On a strand of its own: its parallel group
          // whose branches must complete on the strand it runs on, so
          // recv() must come back to the caller's strand.
          asio::co_spawn(asio::make_strand(ex), keep_receiving(c, senders, p), asio::detached);
          asio::co_spawn(ex, keep_pinging(c, p), asio::detached);
        }
        for (auto& c : all)
          while (c->echoes < echoes_before_closing && c->running > 0) co_await sleep_for(2ms);

        // Half the clients close themselves, from coroutines on any thread,
        // while the server closes everything at the same time.
        for (int i = 0; i < clients / 2; ++i) {
          auto c = all[static_cast<std::size_t>(i)];
          asio::co_spawn(
              ex, [c]() -> asio::awaitable<void> { co_await c->ws.close(); }, asio::detached);
        }
        srv.close();
        co_await srv.wait_closed();
        // Every client coroutine ends once its connection is closed.
        for (auto& c : all) {
          co_await c->ws.wait_closed();
          while (c->running > 0) co_await sleep_for(1ms);
        }
        for (int i = 0; i < clients; ++i) {
          const auto code = all[static_cast<std::size_t>(i)]->ws.close_code();
          INFO("client " << i << ", close code " << code.value_or(0));
          if (i < clients / 2)
            CHECK((code == 1000 || code == 1001));
          else
            CHECK(code == 1001);
          CHECK(all[static_cast<std::size_t>(i)]->echoes >= echoes_before_closing);
        }
        CHECK(log.count(log_level::error) == 0);
      },
      60s, 4);
  INFO(seen.summary());
  CHECK(seen.count() == 0);
  CHECK(handlers_done == clients);
}

TEST_CASE("server.close() while clients on 4 threads keep connecting", "[hardening][mt]") {
  constexpr int connectors = 8;
  problems seen;
  run_async(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        log_capture log;
        const auto options = quiet_server(log);
        auto handler = [](server_connection& ws) -> asio::awaitable<void> {
          while (auto m = co_await ws.next()) co_await ws.send(*m);
        };
        auto srv = co_await serve(handler, "127.0.0.1", 0, options);
        const std::string uri =
            "ws://127.0.0.1:" + std::to_string(srv.endpoints().at(0).port()) + "/";
        auto opened = std::make_shared<std::atomic<int>>(0);
        auto running = std::make_shared<std::atomic<int>>(connectors);
        problems* p = &seen;
        for (int i = 0; i < connectors; ++i) {
          asio::co_spawn(
              ex,
              [uri, opened, running, p]() -> asio::awaitable<void> {
                const auto copts = quiet_client();
                for (;;) {
                  try {
                    auto ws = co_await connect(uri, copts);
                    ++*opened;
                    co_await ws.send("hello");
                    auto m = co_await ws.recv();
                    if (m.text() != "hello") p->add("a wrong echo");
                    co_await ws.close();
                  } catch (const connection_closed&) {
                    // closed by server.close() mid-way
                  } catch (const std::system_error&) {
                    break;  // refused: the server stopped listening
                  } catch (const invalid_handshake&) {
                    // the handshake was cut by server.close()
                  } catch (const std::exception& e) {
                    p->add(std::string("connect: ") + e.what());
                    break;
                  }
                }
                --*running;
              },
              asio::detached);
        }
        while (*opened < 50) co_await sleep_for(1ms);
        srv.close();
        co_await srv.wait_closed();
        while (*running > 0) co_await sleep_for(1ms);
        CHECK(log.count(log_level::error) == 0);
      },
      60s, 4);
  INFO(seen.summary());
  CHECK(seen.count() == 0);
}

namespace {

// Echoes with the pace of a busy application: it yields to the event loop
// every few messages and sleeps a little every few thousand, so the tiny
// queues fill up and TCP pushes back on the client all the time.
asio::awaitable<void> slow_echo(server_connection& ws) {
  std::uint64_t n = 0;
  while (auto m = co_await ws.next()) {
    if (++n % 7 == 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (n % 5000 == 0) co_await sleep_for(1ms);
    co_await ws.send(*m);
  }
}

}  // namespace

TEST_CASE("no message lost: numbered messages through a slow echo server with max_queue 2",
          "[hardening][mt]") {
  // 1,000,000 in a normal build; fewer under a sanitizer, which runs
  // several times slower.
  constexpr long count = HARDENING_SANITIZED ? 100'000 : 1'000'000;
  log_capture log;
  auto options = quiet_server(log);
  options.max_queue = 2;
  server_thread srv(slow_echo, options, 2);

  long received = 0;
  std::optional<std::pair<long, std::string>> first_wrong;
  duration took{};
  run_async(
      [&](asio::any_io_executor) -> asio::awaitable<void> {
        auto copts = quiet_client();
        copts.max_queue = 2;
        const std::string uri = srv.uri();
        auto ws = co_await connect(uri, copts);
        const auto start = std::chrono::steady_clock::now();
        auto sender = [](client_connection& c) -> asio::awaitable<void> {
          char digits[24];
          for (long i = 0; i < count; ++i) {
            const auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
            co_await c.send(std::string_view(digits, static_cast<std::size_t>(end - digits)));
          }
        };
        auto receiver = [&](client_connection& c) -> asio::awaitable<void> {
          for (; received < count; ++received) {
            auto m = co_await c.recv();
            long n = -1;
            const auto t = m.text();
            std::from_chars(t.data(), t.data() + t.size(), n);
            if (n != received) {
              first_wrong.emplace(received, std::string(t.substr(0, 32)));
              break;
            }
          }
        };
        auto s = sender(ws);
        auto r = receiver(ws);
        co_await (std::move(s) && std::move(r));
        took = std::chrono::steady_clock::now() - start;
        co_await ws.close();
        CHECK(ws.close_code() == 1000);
      },
      120s);
  srv.stop();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  INFO(count << " messages echoed in " << ms << " ms");
  if (first_wrong)
    FAIL("message " << first_wrong->first << " came back as \"" << first_wrong->second << "\"");
  CHECK(received == count);
  CHECK(srv.closed_cleanly());
  CHECK(log.count(log_level::error) == 0);
}
