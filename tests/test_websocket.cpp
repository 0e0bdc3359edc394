// basic_websocket<Stream>: the same scenarios over the test stream, TCP,
// Unix sockets and TLS, plus the behaviours that need a misbehaving peer.
#include <catch2/catch.hpp>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/ws_pairs.hpp"
#include "websockets/websocket.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

connection_options quiet_options() {
  connection_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  return o;
}

template <class Pair>
asio::awaitable<std::pair<basic_websocket<typename Pair::stream_type>,
                          basic_websocket<typename Pair::stream_type>>>
make_ws_pair(asio::any_io_executor ex, connection_options client_opts = quiet_options(),
             connection_options server_opts = quiet_options()) {
  auto [c, s] = co_await Pair::make(ex);
  co_return std::pair{
      basic_websocket<typename Pair::stream_type>(std::move(c), role::client, client_opts),
      basic_websocket<typename Pair::stream_type>(std::move(s), role::server, server_opts)};
}

asio::awaitable<void> sleep_for(duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

std::vector<std::byte> bytes_pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return b;
}

}  // namespace

TEMPLATE_TEST_CASE("messages of every size go both ways, text and binary", "[websocket]",
                   test_stream_pair, tcp_pair, unix_pair, tls_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<TestType>(ex);
    for (std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 1u << 20}) {
      co_await client.send(pattern(n, 1));
      auto m = co_await server.recv();
      REQUIRE(m.is_text());
      REQUIRE(m.text() == pattern(n, 1));
      co_await server.send(m);  // echo, keeping the type
      auto e = co_await client.recv();
      REQUIRE(e == m);

      auto b = bytes_pattern(n, 2);
      co_await server.send(std::span<const std::byte>(b));
      auto mb = co_await client.recv();
      REQUIRE(mb.is_binary());
      REQUIRE(std::equal(mb.bytes().begin(), mb.bytes().end(), b.begin(), b.end()));
    }
    co_await client.close();
    REQUIRE(client.is_closed());
    REQUIRE(client.close_code() == 1000);
    REQUIRE_THROWS_AS(co_await server.recv(), connection_closed_ok);
    co_await server.wait_closed();
    REQUIRE(server.close_code() == 1000);
  });
}

TEMPLATE_TEST_CASE("100 coroutines send at once; every message arrives whole and in order",
                   "[websocket]", test_stream_pair, tcp_pair, unix_pair, tls_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<TestType>(ex);
    constexpr int senders = 100, per_sender = 20;
    std::atomic<int> finished{0};
    for (int s = 0; s < senders; ++s) {
      asio::co_spawn(
          ex,
          [&client, s, &finished]() -> asio::awaitable<void> {
            for (int i = 0; i < per_sender; ++i) {
              // Sizes vary so that some messages are large and split across writes.
              const std::size_t size = (s * 131 + i * 977) % 70000;
              std::string body = std::to_string(s) + ":" + std::to_string(i) + ":";
              body += pattern(size, static_cast<unsigned>(s * 1000 + i));
              co_await client.send(body);
            }
            ++finished;
          },
          asio::detached);
    }
    std::map<int, int> next;
    for (int k = 0; k < senders * per_sender; ++k) {
      auto m = co_await server.recv();
      std::string_view t = m.text();
      auto c1 = t.find(':'), c2 = t.find(':', c1 + 1);
      REQUIRE(c2 != std::string_view::npos);
      int s = std::stoi(std::string(t.substr(0, c1)));
      int i = std::stoi(std::string(t.substr(c1 + 1, c2 - c1 - 1)));
      REQUIRE(next[s] == i);  // in order per sender
      next[s] = i + 1;
      const std::size_t size = (s * 131 + i * 977) % 70000;
      REQUIRE(t.substr(c2 + 1) == pattern(size, static_cast<unsigned>(s * 1000 + i)));  // whole
    }
    // Every message arrived, so every sender returns (some may still be
    // resuming from a wait for the send buffer to drain).
    for (int i = 0; i < 1000 && finished < senders; ++i) co_await sleep_for(1ms);
    REQUIRE(finished == senders);
    co_await client.close();
  });
}

TEMPLATE_TEST_CASE("a cancelled recv() loses no message", "[websocket]", test_stream_pair,
                   tcp_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<TestType>(ex);
    // Times out: nothing was sent.
    auto r = co_await (server.recv() || sleep_for(50ms));
    REQUIRE(r.index() == 1);
    co_await client.send("after the timeout");
    auto m = co_await server.recv();
    REQUIRE(m.text() == "after the timeout");
    // Cancelled through a cancellation signal while a message arrives.
    for (int i = 0; i < 50; ++i) {
      co_await client.send("m" + std::to_string(i));
      auto r2 = co_await (server.recv() || sleep_for(0ms));
      if (r2.index() == 1) {
        auto again = co_await server.recv();
        REQUIRE(again.text() == "m" + std::to_string(i));
      } else {
        REQUIRE(std::get<0>(r2).text() == "m" + std::to_string(i));
      }
    }
    co_await client.close();
  });
}

TEST_CASE("a second concurrent recv() fails at once", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<test_stream_pair>(ex);
    bool first_got = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          auto m = co_await server.recv();
          first_got = m.text() == "one";
        },
        asio::detached);
    co_await sleep_for(10ms);
    REQUIRE_THROWS_AS(co_await server.recv(), std::logic_error);
    co_await client.send("one");
    co_await sleep_for(10ms);
    REQUIRE(first_got);
    co_await client.close();
  });
}

TEMPLATE_TEST_CASE("ping, pong and the round-trip time", "[websocket]", test_stream_pair,
                   tcp_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<TestType>(ex);
    // The server reads in the background, so it answers pings by itself.
    auto waiter = co_await client.ping("hello");
    REQUIRE_THROWS_AS(co_await client.ping("hello"), std::logic_error);
    auto rtt = co_await waiter.wait();
    REQUIRE(rtt >= duration::zero());
    REQUIRE(rtt < 5s);
    // A pong answers every ping sent before it.
    auto w1 = co_await client.ping("a");
    auto w2 = co_await client.ping();
    co_await w2.wait();
    REQUIRE(w1.done());
    co_await server.pong("unsolicited");  // ignored by the client
    co_await client.send("still fine");
    auto fine = co_await server.recv();
    REQUIRE(fine.text() == "still fine");
    co_await client.close();
    // A ping waiting when the connection closes fails.
  });
}

TEST_CASE("a pending pong waiter fails when the connection closes", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = make_test_stream_pair(ex);
    basic_websocket<test_stream> client(std::move(a), role::client, quiet_options());
    auto waiter = co_await client.ping("never answered");
    b.close();  // the peer vanishes without a word
    REQUIRE_THROWS_AS(co_await waiter.wait(), connection_closed_error);
    REQUIRE(client.close_code() == 1006);
  });
}

TEMPLATE_TEST_CASE("send_fragments sends one message in several frames", "[websocket]",
                   test_stream_pair, tcp_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<TestType>(ex);
    std::vector<std::string> parts{"frag", "men", "ted"};
    co_await client.send_fragments(parts);
    auto m = co_await server.recv();
    REQUIRE(m.is_text());
    REQUIRE(m.text() == "fragmented");
    std::vector<std::vector<std::byte>> bins{bytes_pattern(3, 1), bytes_pattern(70000, 2)};
    co_await server.send_fragments(bins);
    auto b = co_await client.recv();
    REQUIRE(b.is_binary());
    REQUIRE(b.size() == 70003);
    std::vector<message> mixed{message::text("a"), message::binary(std::string("b"))};
    REQUIRE_THROWS_AS(co_await client.send_fragments(mixed), std::invalid_argument);
    REQUIRE_THROWS_AS(co_await server.recv(), connection_closed_error);
  });
}

TEST_CASE("other messages wait until a fragmented message is out", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    // The peer reads nothing at first, so 500 KB of fragments can't go out
    // at once (write_limit and the stream's capacity hold it back).
    auto [a, b] = make_test_stream_pair(ex);
    basic_websocket<test_stream> client(std::move(a), role::client, quiet_options());
    std::vector<std::string> many(50, std::string(10000, 'x'));
    bool fragments_sent = false, other_sent = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          co_await client.send_fragments(many);
          fragments_sent = true;
        },
        asio::detached);
    co_await sleep_for(20ms);
    REQUIRE_FALSE(fragments_sent);
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          co_await client.ping("between");  // pings may go between fragments
          co_await client.send("other");
          other_sent = true;
        },
        asio::detached);
    co_await sleep_for(20ms);
    REQUIRE_FALSE(other_sent);
    // Read the frames: 50 fragments, the ping somewhere among them, then "other".
    std::string bytes;
    std::vector<frame> frames;
    std::array<char, 65536> buf;
    while (frames.empty() || frames.back().data != "other") {
      std::size_t n = co_await b.async_read_some(asio::buffer(buf), asio::use_awaitable);
      bytes.append(buf.data(), n);
      while (true) {
        frame f;
        std::size_t used = parse_frame(std::as_bytes(std::span(bytes)), f);
        if (used == 0) break;
        bytes.erase(0, used);
        frames.push_back(std::move(f));
      }
    }
    REQUIRE(frames.size() == 52);
    int data_frames = 0;
    bool ping_seen = false;
    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
      if (frames[i].op == opcode::ping) {
        ping_seen = true;
        continue;
      }
      REQUIRE(frames[i].op == (data_frames == 0 ? opcode::text : opcode::cont));
      REQUIRE(frames[i].fin == (data_frames == 49));
      ++data_frames;
    }
    REQUIRE(ping_seen);
    REQUIRE(data_frames == 50);
    REQUIRE(frames.back().op == opcode::text);
    REQUIRE(fragments_sent);
  });
}

TEST_CASE("a message one byte over max_size closes the connection with 1009", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto server_opts = quiet_options();
    server_opts.max_size = 1000;
    auto [client, server] = co_await make_ws_pair<tcp_pair>(ex, quiet_options(), server_opts);
    co_await client.send(std::string(1000, 'a'));
    auto full = co_await server.recv();
    REQUIRE(full.size() == 1000);
    co_await client.send(std::string(1001, 'a'));
    try {
      co_await server.recv();
      FAIL("recv() returned");
    } catch (const connection_closed_error& e) {
      REQUIRE(e.sent_code() == 1009);
      // The server stopped reading when it failed the connection, so it
      // never saw the client's answer (RFC 6455 7.1.7).
      REQUIRE(e.code() == 1006);
    }
    REQUIRE_THROWS_AS(co_await client.recv(), connection_closed_error);
    REQUIRE(client.close_code() == 1009);
  });
}

TEST_CASE("a peer that breaks the protocol gets 1002, and recv() says so", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = make_test_stream_pair(ex);
    basic_websocket<test_stream> server(std::move(b), role::server, quiet_options());
    // An unmasked frame from a client.
    std::string bad("\x81\x02hi", 4);
    co_await asio::async_write(a, asio::buffer(bad), asio::use_awaitable);
    try {
      co_await server.recv();
      FAIL("recv() returned");
    } catch (const connection_closed_error& e) {
      REQUIRE(e.sent_code() == 1002);
      REQUIRE(e.code() == 1006);  // the raw peer never answered
    }
    // The peer got a close frame with 1002, then EOF: the server closed TCP.
    std::string got;
    std::array<char, 256> buf;
    while (true) {
      std::error_code ec;
      std::size_t n = co_await a.async_read_some(asio::buffer(buf),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      got.append(buf.data(), n);
      if (ec) break;
    }
    REQUIRE(got.size() >= 4);
    REQUIRE(static_cast<unsigned char>(got[0]) == 0x88);
    REQUIRE(static_cast<unsigned char>(got[2]) == 0x03);
    REQUIRE(static_cast<unsigned char>(got[3]) == 0xea);  // 1002
  });
}

TEST_CASE("keepalive: a peer that never answers pings is dropped with 1011", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = co_await tcp_pair::make(ex);
    connection_options o;
    o.ping_interval = 100ms;
    o.ping_timeout = 100ms;
    o.close_timeout = 200ms;
    basic_websocket<asio::ip::tcp::socket> server(std::move(b), role::server, o);
    // The raw peer reads (so TCP isn't the problem) but never answers.
    std::string seen;
    asio::co_spawn(
        ex,
        [&a, &seen]() -> asio::awaitable<void> {
          std::array<char, 256> buf;
          while (true) {
            std::error_code ec;
            std::size_t n = co_await a.async_read_some(
                asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            seen.append(buf.data(), n);
            if (ec) co_return;
          }
        },
        asio::detached);
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await server.recv();
      FAIL("recv() returned");
    } catch (const connection_closed_error& e) {
      REQUIRE(e.sent_code() == 1011);
    }
    // ping_interval + ping_timeout + close_timeout, with slack for a busy machine.
    REQUIRE(std::chrono::steady_clock::now() - start < 3s);
    REQUIRE(seen.size() >= 6);
    REQUIRE(static_cast<unsigned char>(seen[0]) == 0x89);  // the ping came first
  });
}

TEST_CASE("keepalive pings keep a live connection open", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    connection_options o = quiet_options();
    o.ping_interval = 20ms;
    o.ping_timeout = 500ms;
    auto [client, server] = co_await make_ws_pair<tcp_pair>(ex, o, o);
    co_await sleep_for(300ms);
    REQUIRE(client.is_open());
    REQUIRE(server.is_open());
    co_await client.close();
  });
}

TEMPLATE_TEST_CASE("close() returns in time when the peer never answers", "[websocket]",
                   test_stream_pair, tcp_pair) {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (role r : {role::client, role::server}) {
      auto [a, b] = co_await TestType::make(ex);
      connection_options o = quiet_options();
      o.close_timeout = 200ms;
      basic_websocket<typename TestType::stream_type> ws(std::move(a), r, o);
      // `b` is never read nor closed.
      const auto start = std::chrono::steady_clock::now();
      co_await ws.close();
      const auto took = std::chrono::steady_clock::now() - start;
      REQUIRE(ws.is_closed());
      REQUIRE(ws.close_code() == 1006);
      // 4 × close_timeout on a server, 5 × on a client.
      REQUIRE(took < (r == role::server ? 4 : 5) * *o.close_timeout);
      websockets::detail::close_stream(b);
    }
  });
}

TEST_CASE("close() is idempotent and safe from several coroutines", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [client, server] = co_await make_ws_pair<tcp_pair>(ex);
    int closed = 0;
    for (int i = 0; i < 5; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            co_await client.close(1001, "bye");
            ++closed;
          },
          asio::detached);
    co_await server.wait_closed();
    co_await client.wait_closed();
    co_await sleep_for(10ms);
    REQUIRE(closed == 5);
    REQUIRE(server.close_code() == 1001);
    REQUIRE(server.close_reason() == "bye");
    co_await client.close();
    REQUIRE_THROWS_AS(co_await client.send("late"), connection_closed_ok);
  });
}

TEST_CASE("a server closes TCP first after the closing handshake", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = make_test_stream_pair(ex);
    basic_websocket<test_stream> server(std::move(b), role::server, quiet_options());
    // A masked close frame with 1000 from a raw client.
    std::string close_frame("\x88\x82\x00\x00\x00\x00\x03\xe8", 8);
    co_await asio::async_write(a, asio::buffer(close_frame), asio::use_awaitable);
    std::string got;
    std::array<char, 64> buf;
    std::error_code ec;
    while (!ec) {
      std::size_t n = co_await a.async_read_some(asio::buffer(buf),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      got.append(buf.data(), n);
    }
    // The echo of the close frame, then EOF while the client hasn't closed.
    REQUIRE(ec == asio::error::eof);
    REQUIRE(got == std::string("\x88\x02\x03\xe8", 4));
    a.close();
    co_await server.wait_closed();
    REQUIRE(server.close_code() == 1000);
  });
}

TEST_CASE("a fast sender is slowed by TCP; the receiver's queue stays bounded", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    connection_options o = quiet_options();
    o.max_queue = 4;
    o.write_limit = 16 * 1024;
    auto [client, server] = co_await make_ws_pair<test_stream_pair>(ex, o, o);
    int sent = 0;
    bool sender_done = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 2000; ++i) {
            co_await client.send(std::to_string(i) + pattern(1000, i));
            ++sent;
          }
          sender_done = true;
        },
        asio::detached);
    co_await sleep_for(200ms);
    // The server doesn't read: it holds max_queue messages, the streams
    // hold what fits in their buffers, and the sender is stuck.
    REQUIRE(server.queued_messages() <= 4);
    REQUIRE_FALSE(sender_done);
    REQUIRE(sent < 400);
    REQUIRE(client.write_buffered() <= 16 * 1024 + 2000);
    for (int i = 0; i < 2000; ++i) {
      auto m = co_await server.recv();
      REQUIRE(m.text() == std::to_string(i) + pattern(1000, i));
      REQUIRE(server.queued_messages() <= 4);
    }
    REQUIRE(sender_done);
    co_await client.close();
  });
}

TEST_CASE("dropping an open connection closes it with 1001", "[websocket]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto [a, b] = co_await tcp_pair::make(ex);
    basic_websocket<asio::ip::tcp::socket> server(std::move(b), role::server, quiet_options());
    {
      basic_websocket<asio::ip::tcp::socket> client(std::move(a), role::client, quiet_options());
      co_await client.send("one");
    }
    auto one = co_await server.recv();
    REQUIRE(one.text() == "one");
    REQUIRE_THROWS_AS(co_await server.recv(), connection_closed_ok);
    REQUIRE(server.close_code() == 1001);
  });
}

TEST_CASE("an io_context run by 4 threads: concurrent sends and closes", "[websocket][mt]") {
  for (int round = 0; round < 5; ++round) {
    run_async(
        [](asio::any_io_executor ex) -> asio::awaitable<void> {
          auto [client, server] = co_await make_ws_pair<tcp_pair>(ex);
          std::atomic<int> done{0};
          for (int s = 0; s < 8; ++s)
            asio::co_spawn(
                ex,
                [&client, &done, s]() -> asio::awaitable<void> {
                  try {
                    for (int i = 0; i < 200; ++i)
                      co_await client.send(std::to_string(s) + ":" + std::to_string(i));
                  } catch (const connection_closed&) {
                  }
                  ++done;
                },
                asio::detached);
          std::map<int, int> next;
          int received = 0;
          try {
            while (true) {
              auto m = co_await server.recv();
              auto t = m.text();
              int s = std::stoi(std::string(t.substr(0, t.find(':'))));
              int i = std::stoi(std::string(t.substr(t.find(':') + 1)));
              INFO("message " << received << ": " << t);
              REQUIRE(next[s] == i);
              next[s] = i + 1;
              if (++received == 1000) {
                // Close from both sides at once while senders are still going.
                asio::co_spawn(ex, client.close(), asio::detached);
                asio::co_spawn(ex, server.close(), asio::detached);
              }
            }
          } catch (const connection_closed&) {
          }
          co_await client.wait_closed();
          co_await server.wait_closed();
          while (done < 8) co_await sleep_for(1ms);
          REQUIRE(received >= 1000);
        },
        30s, 4);
  }
}

TEST_CASE(
    "a coroutine on a strand of its own comes back to it from every call, and its "
    "cancelled recv() loses nothing",
    "[websocket][mt]") {
  run_async(
      [](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto [client, server] = co_await make_ws_pair<tcp_pair>(ex);
        auto strand = asio::make_strand(ex);
        constexpr int count = 300;
        // Sends on the io_context, with pauses, so that some receives time out.
        asio::co_spawn(
            ex,
            [&client]() -> asio::awaitable<void> {
              for (int i = 0; i < count; ++i) {
                co_await client.send(std::to_string(i));
                if (i % 3 == 0) co_await sleep_for(1ms);
              }
            },
            asio::detached);
        auto [off_strand, received, timeouts] = co_await asio::co_spawn(
            strand,
            [&]() -> asio::awaitable<std::tuple<int, int, int>> {
              int off = 0, got = 0, timed_out = 0;
              while (got < count) {
                auto ex2 = co_await asio::this_coro::executor;
                auto [order, error, m, ignored] =
                    co_await asio::experimental::make_parallel_group(
                        asio::co_spawn(ex2, server.recv(), asio::experimental::deferred),
                        asio::co_spawn(ex2, sleep_for(std::chrono::microseconds(300)),
                                       asio::experimental::deferred))
                        .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
                if (!strand.running_in_this_thread()) ++off;
                if (order[0] == 1) {
                  ++timed_out;
                  continue;
                }
                if (error) std::rethrow_exception(error);
                if (m.text() != std::to_string(got)) co_return std::tuple{off, got, -1};
                ++got;
                co_await server.ping();
                if (!strand.running_in_this_thread()) ++off;
              }
              co_await server.close();
              if (!strand.running_in_this_thread()) ++off;
              co_return std::tuple{off, got, timed_out};
            },
            asio::use_awaitable);
        INFO(timeouts << " receives timed out");
        CHECK(off_strand == 0);
        CHECK(received == count);
        CHECK(timeouts > 0);  // the cancellation path ran
        co_await client.wait_closed();
      },
      30s, 4);
}

TEST_CASE("a default-constructed connection is closed and refuses to work", "[websocket]") {
  basic_websocket<test_stream> ws;
  CHECK(ws.is_closed());
  CHECK_FALSE(ws.is_open());
  CHECK(ws.path().empty());
  CHECK(ws.queued_messages() == 0);
  run_async([&](asio::any_io_executor) -> asio::awaitable<void> {
    REQUIRE_THROWS_AS(co_await ws.recv(), invalid_state);
    REQUIRE_THROWS_AS(co_await ws.send("x"), invalid_state);
    co_await ws.close();  // nothing to close
  });
}

TEST_CASE("destroying the io_context with coroutines suspended on a connection frees them",
          "[websocket]") {
  // Run under ASan/LSan this would report the leak of a cycle between the
  // connection and the coroutines waiting on it.
  static int destroyed = 0;
  destroyed = 0;
  struct witness {
    ~witness() { ++destroyed; }
  };
  {
    asio::io_context io(1);
    auto [a, b] = make_test_stream_pair(io.get_executor());
    auto client =
        std::make_shared<basic_websocket<test_stream>>(std::move(a), role::client, quiet_options());
    asio::co_spawn(
        io,
        [client]() -> asio::awaitable<void> {
          witness w;
          co_await client->recv();  // never answered
        },
        asio::detached);
    asio::co_spawn(
        io,
        [client]() -> asio::awaitable<void> {
          witness w;
          co_await client->wait_closed();  // never closed
        },
        asio::detached);
    io.run_for(std::chrono::milliseconds(50));
    CHECK(destroyed == 0);
  }
  CHECK(destroyed == 2);
}

namespace {

// A frame as the peer of a `self` endpoint sends it: masked to a server.
std::string from_peer(role self, opcode op, std::string_view data, bool rsv2 = false) {
  frame f;
  f.op = op;
  f.rsv2 = rsv2;
  f.data = std::string(data);
  const websockets::detail::mask_key key{std::byte{0x11}, std::byte{0x22}, std::byte{0x33},
                                         std::byte{0x44}};
  return serialize_frame(f, self == role::server ? std::optional(key) : std::nullopt);
}

// A valid text message, then a frame that breaks the protocol (RSV2
// without an extension), as Autobahn's case 3.2 sends them.
std::string message_then_violation(role self) {
  return from_peer(self, opcode::text, "Hello") + from_peer(self, opcode::text, "bad", true);
}

// Reads what an endpoint sends, frame by frame, as a raw peer.
template <class Stream>
class frame_reader {
 public:
  explicit frame_reader(Stream& s) : stream_(s) {}

  // The next whole frame, or none once the stream ended.
  asio::awaitable<std::optional<frame>> next() {
    while (true) {
      frame f;
      const std::size_t n = parse_frame(std::as_bytes(std::span(buf_.data(), buf_.size())), f);
      if (n > 0) {
        buf_.erase(0, n);
        co_return f;
      }
      if (ended_) co_return std::nullopt;
      std::array<char, 4096> chunk;
      std::error_code ec;
      const std::size_t got = co_await stream_.async_read_some(
          asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
      buf_.append(chunk.data(), got);
      if (ec) ended_ = true;
    }
  }

  // Expects the next frame to be a close frame with `code`.
  asio::awaitable<void> expect_close(std::uint16_t code) {
    auto f = co_await next();
    REQUIRE(f);
    REQUIRE(f->op == opcode::close);
    REQUIRE(parse_close(f->data).first == code);
  }

  // Expects the stream to end with nothing more in it.
  asio::awaitable<void> expect_end() {
    auto f = co_await next();
    REQUIRE_FALSE(f);
    REQUIRE(buf_.empty());
  }

 private:
  Stream& stream_;
  std::string buf_;
  bool ended_ = false;
};

// Bytes the peer sent that `ws` hasn't read from its stream yet.
std::size_t unread(basic_websocket<test_stream>& ws) {
  return ws.next_layer().stats().inbound;
}
std::size_t unread(basic_websocket<asio::ip::tcp::socket>& ws) {
  std::error_code ec;
  return ws.next_layer().available(ec);
}

// Waits until `done()` holds; false if it still doesn't after `limit` (a
// bound for something that must happen, not a measurement).
template <class F>
asio::awaitable<bool> eventually(const F& done, duration limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) co_return false;
    co_await sleep_for(1ms);
  }
  co_return true;
}

const char* role_name(role r) {
  return r == role::server ? "server" : "client";
}

}  // namespace

TEMPLATE_TEST_CASE("a message and a violation in one read: the answer goes out before the close",
                   "[websocket]", test_stream_pair, tcp_pair) {
  using stream_type = typename TestType::stream_type;
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (role self : {role::server, role::client}) {
      INFO(role_name(self));
      auto [a, b] = co_await TestType::make(ex);
      basic_websocket<stream_type> ws(std::move(b), self, quiet_options());
      // An echo handler.
      std::optional<std::uint16_t> sent_code;
      std::exception_ptr error;
      bool done = false;
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            try {
              auto m = co_await ws.recv();
              co_await ws.send(m);
              co_await ws.recv();
            } catch (const connection_closed_error& e) {
              sent_code = e.sent_code();
            } catch (...) {
              error = std::current_exception();
            }
            done = true;
          },
          asio::detached);
      // The message, the violation and a ping, in one write.
      const std::string bytes =
          message_then_violation(self) + from_peer(self, opcode::ping, "after");
      co_await asio::async_write(a, asio::buffer(bytes), asio::use_awaitable);
      frame_reader<stream_type> peer(a);
      auto echo = co_await peer.next();
      REQUIRE(echo);
      REQUIRE(echo->op == opcode::text);
      REQUIRE(echo->data == "Hello");
      // Then the close frame: no pong for the ping after the violation.
      co_await peer.expect_close(code_of(close_code::protocol_error));
      if (self == role::server) co_await peer.expect_end();  // the server closed TCP
      websockets::detail::close_stream(a);
      const auto is_done = [&] { return done; };
      const bool finished = co_await eventually(is_done);
      REQUIRE(finished);
      if (error) std::rethrow_exception(error);
      REQUIRE(sent_code == code_of(close_code::protocol_error));
    }
  });
}

TEMPLATE_TEST_CASE(
    "a handler that never calls recv() again: the close goes out after close_timeout",
    "[websocket]", test_stream_pair, tcp_pair) {
  using stream_type = typename TestType::stream_type;
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (role self : {role::server, role::client}) {
      INFO(role_name(self));
      auto [a, b] = co_await TestType::make(ex);
      connection_options o = quiet_options();
      o.close_timeout = 300ms;
      basic_websocket<stream_type> ws(std::move(b), self, o);
      bool answered = false;
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            auto m = co_await ws.recv();
            co_await ws.send(m);
            answered = true;
          },
          asio::detached);
      const auto start = std::chrono::steady_clock::now();
      const std::string bytes = message_then_violation(self);
      co_await asio::async_write(a, asio::buffer(bytes), asio::use_awaitable);
      frame_reader<stream_type> peer(a);
      auto echo = co_await peer.next();
      REQUIRE(echo);
      REQUIRE(echo->data == "Hello");
      co_await peer.expect_close(code_of(close_code::protocol_error));
      // The close waited for close_timeout (a timer never fires early), and
      // no longer than a generous bound.
      const auto took = std::chrono::steady_clock::now() - start;
      REQUIRE(answered);
      REQUIRE(took >= *o.close_timeout);
      REQUIRE(took < 10s);
      if (self == role::server) co_await peer.expect_end();
      websockets::detail::close_stream(a);
      co_await ws.wait_closed();
      REQUIRE(ws.is_closed());
      REQUIRE(ws.close_code() == code_of(close_code::abnormal_closure));
    }
  });
}

TEMPLATE_TEST_CASE("a peer that keeps sending after a violation gets nothing more read",
                   "[websocket]", test_stream_pair, tcp_pair) {
  using stream_type = typename TestType::stream_type;
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    for (role self : {role::server, role::client}) {
      INFO(role_name(self));
      auto [a, b] = co_await TestType::make(ex);
      connection_options o = quiet_options();
      o.close_timeout = 20s;  // the timer plays no part here
      basic_websocket<stream_type> ws(std::move(b), self, o);
      // The handler answers the message, then is busy until `go`.
      asio::steady_timer go(ex, std::chrono::hours(1));
      std::optional<std::uint16_t> sent_code;
      std::exception_ptr error;
      bool done = false;
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            try {
              auto m = co_await ws.recv();
              co_await ws.send(m);
              std::error_code ec;
              co_await go.async_wait(asio::redirect_error(asio::use_awaitable, ec));
              co_await ws.recv();
            } catch (const connection_closed_error& e) {
              sent_code = e.sent_code();
            } catch (...) {
              error = std::current_exception();
            }
            done = true;
          },
          asio::detached);
      const std::string bytes = message_then_violation(self);
      co_await asio::async_write(a, asio::buffer(bytes), asio::use_awaitable);
      frame_reader<stream_type> peer(a);
      auto echo = co_await peer.next();
      REQUIRE(echo);
      REQUIRE(echo->data == "Hello");
      // More after the violation: a ping and a message. They stay unread.
      const std::string more =
          from_peer(self, opcode::ping, "late") + from_peer(self, opcode::text, "late");
      co_await asio::async_write(a, asio::buffer(more), asio::use_awaitable);
      const auto all_there = [&] { return unread(ws) == more.size(); };
      const bool there = co_await eventually(all_there);
      REQUIRE(there);
      co_await sleep_for(50ms);  // time for a reader to take them, if one ran
      REQUIRE(unread(ws) == more.size());
      REQUIRE(ws.is_open());  // the close waits for the handler
      // The handler asks for the next message: the close goes out, and
      // nothing answers the late ping.
      go.cancel();
      co_await peer.expect_close(code_of(close_code::protocol_error));
      if (self == role::server) co_await peer.expect_end();
      websockets::detail::close_stream(a);
      const auto is_done = [&] { return done; };
      const bool finished = co_await eventually(is_done);
      REQUIRE(finished);
      if (error) std::rethrow_exception(error);
      REQUIRE(sent_code == code_of(close_code::protocol_error));
    }
  });
}
