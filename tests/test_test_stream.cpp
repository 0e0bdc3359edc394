// The in-memory test stream: bytes, ordering, flow control, closing,
// cancellation and threads.
#include <websockets/test_stream.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if WEBSOCKETS_WITH_OPENSSL
#include <asio/ssl.hpp>
#endif

using websockets::make_test_stream_pair;
using websockets::test_stream;
using websockets::test_stream_options;

namespace {

// The result of one read_some or write_some.
struct io_result {
  bool done = false;
  std::error_code ec;
  std::size_t n = 0;
};

auto record_result(io_result& r) {
  return [&r](std::error_code ec, std::size_t n) {
    r.done = true;
    r.ec = ec;
    r.n = n;
  };
}

std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::minstd_rand gen(seed);
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// Runs the handlers that are ready, and returns when none is. (poll() and
// run() stop the context whenever it runs out of work; restart() first.)
void settle(asio::io_context& ctx) {
  ctx.restart();
  ctx.poll();
}

// Runs until no work is left: every operation has completed.
void finish(asio::io_context& ctx) {
  ctx.restart();
  ctx.run();
}

// Runs `co` to completion on `ctx`, rethrowing what it threw.
template <class Awaitable>
void run_coroutine(asio::io_context& ctx, Awaitable co) {
  std::exception_ptr error;
  bool finished = false;
  asio::co_spawn(ctx, std::move(co), [&](std::exception_ptr e) {
    error = e;
    finished = true;
  });
  finish(ctx);
  REQUIRE(finished);
  if (error) std::rethrow_exception(error);
}

}  // namespace

TEST_CASE("bytes written to one stream are read from the other, both ways") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  char buf[16] = {};

  io_result w, r;
  a.async_write_some(asio::buffer("hello", 5), record_result(w));
  b.async_read_some(asio::buffer(buf), record_result(r));
  finish(ctx);
  CHECK(w.ec == std::error_code{});
  CHECK(w.n == 5);
  CHECK(r.ec == std::error_code{});
  REQUIRE(r.n == 5);
  CHECK(std::string(buf, r.n) == "hello");

  // The other way, the read first this time: it waits for the write.
  io_result w2, r2;
  a.async_read_some(asio::buffer(buf), record_result(r2));
  settle(ctx);
  CHECK_FALSE(r2.done);
  CHECK(a.stats().read_waiting);
  b.async_write_some(asio::buffer("world!", 6), record_result(w2));
  finish(ctx);
  REQUIRE(r2.done);
  CHECK(r2.n == 6);
  CHECK(std::string(buf, r2.n) == "world!");
  CHECK(a.stats().bytes_read == 6);
  CHECK(a.stats().bytes_written == 5);
  CHECK(b.stats().bytes_read == 5);
  CHECK(b.stats().bytes_written == 6);
}

TEST_CASE("handlers never run inside the initiating function") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  char buf[4];

  io_result w;
  a.async_write_some(asio::buffer("abc", 3), record_result(w));
  CHECK_FALSE(w.done);  // it could complete at once, yet is only posted

  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  CHECK_FALSE(r.done);
  finish(ctx);
  CHECK(w.done);
  CHECK(r.done);

  // A suspended read completed by the peer's write is posted too.
  io_result r2, w2;
  b.async_read_some(asio::buffer(buf), record_result(r2));
  a.async_write_some(asio::buffer("x", 1), record_result(w2));
  CHECK_FALSE(r2.done);
  CHECK_FALSE(w2.done);
  finish(ctx);
  CHECK(r2.n == 1);
}

TEST_CASE("a handler runs on its associated executor") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  auto strand = asio::make_strand(ctx);
  char buf[4];
  bool on_strand = false;
  b.async_read_some(asio::buffer(buf),
                    asio::bind_executor(strand, [&](std::error_code ec, std::size_t n) {
                      on_strand = strand.running_in_this_thread() && !ec && n == 2;
                    }));
  a.async_write_some(asio::buffer("hi", 2), [](std::error_code, std::size_t) {});
  finish(ctx);
  CHECK(on_strand);
}

TEST_CASE("a pending read keeps io_context::run() busy, like a socket") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  char buf[4];
  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  // run_one() would block forever if the read were not counted as work;
  // poll() shows it is pending and that run() would not return.
  CHECK(ctx.poll() == 0);
  CHECK_FALSE(ctx.stopped());  // the read still counts as work
  a.close();
  finish(ctx);
  CHECK(r.ec == asio::error::eof);
}

TEST_CASE("works with use_awaitable, deferred and composed operations") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  run_coroutine(ctx, [&]() -> asio::awaitable<void> {
    std::string out = pattern(100000, 1);
    std::string in(out.size(), '\0');
    // asio::async_write loops over write_some, which the 64 KiB capacity
    // makes partial, so the read must run at the same time.
    auto reader = [&]() -> asio::awaitable<std::size_t> {
      co_return co_await asio::async_read(b, asio::buffer(in), asio::use_awaitable);
    };
    using namespace asio::experimental::awaitable_operators;
    auto [written, read] =
        co_await (asio::async_write(a, asio::buffer(out), asio::use_awaitable) && reader());
    CHECK(written == out.size());
    CHECK(read == out.size());
    CHECK(in == out);

    auto op = b.async_write_some(asio::buffer("lazy", 4), asio::experimental::deferred);
    CHECK(a.available() == 0);  // deferred: not started yet
    std::size_t n = co_await std::move(op)(asio::use_awaitable);
    CHECK(n == 4);
    char buf[8];
    n = co_await a.async_read_some(asio::buffer(buf),
                                   asio::experimental::deferred)(asio::use_awaitable);
    CHECK(std::string(buf, n) == "lazy");
  }());
}

TEST_CASE("bytes arrive in order whatever the sizes of reads and writes") {
  asio::io_context ctx;
  test_stream_options opt{.capacity = 1000, .max_read_chunk = 0, .write_limit = 0};
  auto [a, b] = make_test_stream_pair(ctx, opt);
  const std::string out = pattern(200000, 7);
  std::string in;
  std::mt19937 gen(42);

  std::size_t sent = 0;
  std::function<void()> write_next = [&] {
    if (sent == out.size()) return a.shutdown(asio::socket_base::shutdown_send);
    std::size_t len = std::min<std::size_t>(out.size() - sent, 1 + gen() % 3000);
    a.async_write_some(asio::buffer(out.data() + sent, len),
                       [&](std::error_code ec, std::size_t n) {
                         REQUIRE_FALSE(ec);
                         REQUIRE(n > 0);
                         sent += n;
                         write_next();
                       });
  };
  std::vector<char> buf(4096);
  std::function<void()> read_next = [&] {
    std::size_t len = 1 + gen() % buf.size();
    b.async_read_some(asio::buffer(buf.data(), len), [&](std::error_code ec, std::size_t n) {
      if (ec == asio::error::eof) return;
      REQUIRE_FALSE(ec);
      REQUIRE(n > 0);
      in.append(buf.data(), n);
      read_next();
    });
  };
  write_next();
  read_next();
  finish(ctx);
  CHECK(in.size() == out.size());
  CHECK(in == out);
}

TEST_CASE("max_read_chunk = 1 makes every read return one byte") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {}, {.max_read_chunk = 1});
  run_coroutine(ctx, [&]() -> asio::awaitable<void> {
    co_await asio::async_write(a, asio::buffer("GET / HTTP/1.1\r\n", 16), asio::use_awaitable);
    CHECK(b.available() == 16);
    std::string got;
    char buf[64];
    while (got.size() < 16) {
      std::size_t n = co_await b.async_read_some(asio::buffer(buf), asio::use_awaitable);
      REQUIRE(n == 1);
      got += buf[0];
    }
    CHECK(got == "GET / HTTP/1.1\r\n");
    // The limit is the reader's own: a reads whole chunks.
    co_await asio::async_write(b, asio::buffer("0123456789", 10), asio::use_awaitable);
    std::size_t n = co_await a.async_read_some(asio::buffer(buf), asio::use_awaitable);
    CHECK(n == 10);
  }());
}

TEST_CASE("write_limit makes writes partial") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {.write_limit = 3}, {});
  io_result w;
  a.async_write_some(asio::buffer("abcdefgh", 8), record_result(w));
  finish(ctx);
  CHECK(w.n == 3);
  CHECK(b.available() == 3);

  // A composed write still delivers everything, three bytes at a time.
  ctx.restart();
  std::size_t total = 0;
  asio::async_write(a, asio::buffer("defgh", 5),
                    [&](std::error_code ec, std::size_t n) { total = ec ? 0 : n; });
  finish(ctx);
  CHECK(total == 5);
  char buf[16];
  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  finish(ctx);
  CHECK(std::string(buf, r.n) == "abcdefgh");

  // Limits can change between operations.
  a.set_options({.write_limit = 0});
  io_result w2;
  a.async_write_some(asio::buffer("0123456789", 10), record_result(w2));
  finish(ctx);
  CHECK(w2.n == 10);
}

TEST_CASE("a full buffer makes the writer wait until the reader reads") {
  asio::io_context ctx;
  // b buffers at most 8 bytes from a.
  auto [a, b] = make_test_stream_pair(ctx, {}, {.capacity = 8});
  const std::string out = pattern(20, 3);
  io_result w;
  asio::async_write(a, asio::buffer(out), record_result(w));
  settle(ctx);
  CHECK_FALSE(w.done);
  auto sa = a.stats();
  CHECK(sa.outbound == 8);
  CHECK(sa.bytes_written == 8);
  CHECK(sa.write_waiting);
  CHECK(b.stats().inbound == 8);

  // Nothing moves until b reads.
  settle(ctx);
  CHECK(a.stats().bytes_written == 8);

  char buf[5];
  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  settle(ctx);
  CHECK(r.n == 5);
  CHECK(std::string(buf, 5) == out.substr(0, 5));
  // The 5 freed bytes let the waiting write in at once.
  CHECK(a.stats().bytes_written == 13);
  CHECK(b.stats().inbound == 8);
  CHECK_FALSE(w.done);

  std::string rest(15, '\0');
  io_result r2;
  asio::async_read(b, asio::buffer(rest), record_result(r2));
  finish(ctx);
  CHECK(w.done);
  CHECK(w.n == 20);
  CHECK(r2.n == 15);
  CHECK(rest == out.substr(5));
  CHECK(b.stats().inbound == 0);
  CHECK_FALSE(a.stats().write_waiting);
}

TEST_CASE("a larger capacity lets a waiting writer in") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {.capacity = 4});
  io_result w1, w2;
  a.async_write_some(asio::buffer("abcd", 4), record_result(w1));
  settle(ctx);
  a.async_write_some(asio::buffer("efgh", 4), record_result(w2));
  settle(ctx);
  CHECK(w1.n == 4);
  CHECK_FALSE(w2.done);
  b.set_options({.capacity = 6});
  settle(ctx);
  CHECK(w2.n == 2);
  CHECK(b.available() == 6);
}

TEST_CASE("after close the peer drains the buffered bytes, then reads eof") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  io_result w;
  a.async_write_some(asio::buffer("bye", 3), record_result(w));
  finish(ctx);
  a.close();
  CHECK_FALSE(a.is_open());
  CHECK(b.is_open());
  a.close();  // idempotent

  char buf[8];
  io_result r1, r2, r3;
  b.async_read_some(asio::buffer(buf), record_result(r1));
  finish(ctx);
  CHECK(r1.ec == std::error_code{});
  CHECK(std::string(buf, r1.n) == "bye");
  b.async_read_some(asio::buffer(buf), record_result(r2));
  finish(ctx);
  CHECK(r2.ec == asio::error::eof);
  b.async_read_some(asio::buffer(buf), record_result(r3));
  finish(ctx);
  CHECK(r3.ec == asio::error::eof);  // and it stays so
}

TEST_CASE("close wakes the peer's pending read with eof") {
  asio::io_context ctx;
  std::optional<test_stream> a;
  auto pair = make_test_stream_pair(ctx);
  a.emplace(std::move(pair.first));
  test_stream& b = pair.second;
  char buf[8];
  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  settle(ctx);
  CHECK_FALSE(r.done);
  a.reset();  // the destructor closes, as a socket's does
  finish(ctx);
  CHECK(r.ec == asio::error::eof);
  CHECK(r.n == 0);
}

TEST_CASE("writes to a closed peer fail with broken_pipe") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {.capacity = 4});
  // One write waits on a full buffer when the peer closes.
  io_result w1, w2, w3;
  b.async_write_some(asio::buffer("abcd", 4), record_result(w1));
  settle(ctx);
  b.async_write_some(asio::buffer("more", 4), record_result(w2));
  settle(ctx);
  CHECK(w1.n == 4);
  CHECK(b.stats().write_waiting);
  a.close();
  settle(ctx);
  CHECK(w2.ec == asio::error::broken_pipe);
  CHECK(w2.n == 0);
  // And later ones fail at once.
  b.async_write_some(asio::buffer("x", 1), record_result(w3));
  finish(ctx);
  CHECK(w3.ec == asio::error::broken_pipe);
}

TEST_CASE("operations on a closed stream fail, and its pending ones are aborted") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {.capacity = 2});
  char buf[8];
  io_result r, w, r2, w2;
  a.async_read_some(asio::buffer(buf), record_result(r));
  a.async_write_some(asio::buffer("abc", 3), record_result(w));  // 2 fit
  settle(ctx);
  a.async_write_some(asio::buffer("c", 1), record_result(w2));  // waits
  settle(ctx);
  CHECK(w.n == 2);
  CHECK(a.stats().write_waiting);
  a.close();
  settle(ctx);
  CHECK(r.ec == asio::error::operation_aborted);
  CHECK(w2.ec == asio::error::operation_aborted);
  a.async_read_some(asio::buffer(buf), record_result(r2));
  finish(ctx);
  CHECK(r2.ec == asio::error::bad_descriptor);
  // b still gets what was sent before the close.
  io_result r3;
  b.async_read_some(asio::buffer(buf), record_result(r3));
  finish(ctx);
  CHECK(std::string(buf, r3.n) == "ab");
}

TEST_CASE("shutdown(send) half-closes: the peer reads eof and can still answer") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  run_coroutine(ctx, [&]() -> asio::awaitable<void> {
    co_await asio::async_write(a, asio::buffer("request", 7), asio::use_awaitable);
    a.shutdown(asio::socket_base::shutdown_send);
    std::string got;
    char buf[16];
    auto [ec, n] = co_await b.async_read_some(asio::buffer(buf),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    CHECK_FALSE(ec);
    got.assign(buf, n);
    CHECK(got == "request");
    std::tie(ec, n) = co_await b.async_read_some(asio::buffer(buf),
                                                 asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == asio::error::eof);

    co_await asio::async_write(b, asio::buffer("answer", 6), asio::use_awaitable);
    n = co_await a.async_read_some(asio::buffer(buf), asio::use_awaitable);
    CHECK(std::string(buf, n) == "answer");

    std::tie(ec, n) = co_await a.async_write_some(
        asio::buffer("x", 1), asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == asio::error::broken_pipe);
  }());
}

TEST_CASE("shutdown(receive) ends this stream's reads and fails the peer's writes") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  char buf[4];
  io_result r, w;
  b.async_read_some(asio::buffer(buf), record_result(r));
  settle(ctx);
  b.shutdown(asio::socket_base::shutdown_receive);
  a.async_write_some(asio::buffer("x", 1), record_result(w));
  finish(ctx);
  CHECK(r.ec == asio::error::eof);
  CHECK(w.ec == asio::error::broken_pipe);
}

TEST_CASE("empty reads and writes complete at once with 0 bytes") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  io_result r, w;
  b.async_read_some(asio::mutable_buffer(), record_result(r));
  a.async_write_some(asio::const_buffer(), record_result(w));
  finish(ctx);
  CHECK(r.done);
  CHECK_FALSE(r.ec);
  CHECK(r.n == 0);
  CHECK(w.done);
  CHECK_FALSE(w.ec);
  CHECK(w.n == 0);
}

TEST_CASE("a second concurrent read fails with already_started") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  char buf1[4], buf2[4];
  io_result r1, r2;
  b.async_read_some(asio::buffer(buf1), record_result(r1));
  b.async_read_some(asio::buffer(buf2), record_result(r2));
  settle(ctx);
  CHECK(r2.ec == asio::error::already_started);
  CHECK_FALSE(r1.done);
  b.cancel();
  finish(ctx);
  CHECK(r1.ec == asio::error::operation_aborted);
}

TEST_CASE("a cancelled read completes with operation_aborted and loses no byte") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  asio::cancellation_signal signal;
  char buf[16];
  io_result r;
  b.async_read_some(asio::buffer(buf),
                    asio::bind_cancellation_slot(signal.slot(), record_result(r)));
  settle(ctx);
  CHECK(b.stats().read_waiting);
  signal.emit(asio::cancellation_type::terminal);
  CHECK_FALSE(r.done);  // posted, not run inside emit()
  settle(ctx);
  CHECK(r.ec == asio::error::operation_aborted);
  CHECK(r.n == 0);
  CHECK_FALSE(b.stats().read_waiting);

  io_result w, r2;
  a.async_write_some(asio::buffer("kept", 4), record_result(w));
  settle(ctx);
  // A late signal, after its operation is gone, does nothing.
  signal.emit(asio::cancellation_type::terminal);
  b.async_read_some(asio::buffer(buf),
                    asio::bind_cancellation_slot(signal.slot(), record_result(r2)));
  finish(ctx);
  CHECK_FALSE(r2.ec);
  CHECK(std::string(buf, r2.n) == "kept");
  // Signalling after completion neither crashes nor disturbs anything.
  signal.emit(asio::cancellation_type::terminal);
  finish(ctx);
}

TEST_CASE("a cancelled write moves no byte") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx, {.capacity = 3});
  asio::cancellation_signal signal;
  io_result w1, w2, w3;
  a.async_write_some(asio::buffer("abc", 3), record_result(w1));
  settle(ctx);
  a.async_write_some(asio::buffer("def", 3),
                     asio::bind_cancellation_slot(signal.slot(), record_result(w2)));
  settle(ctx);
  CHECK(a.stats().write_waiting);
  signal.emit(asio::cancellation_type::partial);
  settle(ctx);
  CHECK(w2.ec == asio::error::operation_aborted);
  CHECK(w2.n == 0);
  CHECK(a.stats().bytes_written == 3);

  a.async_write_some(asio::buffer("xyz", 3), record_result(w3));
  std::string in(6, '\0');
  io_result r;
  asio::async_read(b, asio::buffer(in), record_result(r));
  finish(ctx);
  CHECK(in == "abcxyz");
}

TEST_CASE("a read racing a timer with || loses nothing when the timer wins") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  run_coroutine(ctx, [&]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    char buf[16];
    asio::steady_timer timer(ctx, std::chrono::milliseconds(1));
    auto result = co_await (b.async_read_some(asio::buffer(buf), asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    CHECK(result.index() == 1);  // nothing was written: the timer won
    CHECK_FALSE(b.stats().read_waiting);

    co_await asio::async_write(a, asio::buffer("after", 5), asio::use_awaitable);
    timer.expires_after(std::chrono::hours(1));
    result = co_await (b.async_read_some(asio::buffer(buf), asio::use_awaitable) ||
                       timer.async_wait(asio::use_awaitable));
    REQUIRE(result.index() == 0);
    CHECK(std::string(buf, std::get<0>(result)) == "after");
  }());
}

TEST_CASE("four threads pump data both ways through one pair") {
  asio::io_context ctx(4);
  auto [a, b] = make_test_stream_pair(ctx, {.capacity = 4096, .max_read_chunk = 1500});
  const std::string ab = pattern(1 << 21, 11), ba = pattern(1 << 21, 12);
  std::string got_ab(ab.size(), '\0'), got_ba(ba.size(), '\0');
  std::atomic<int> finished{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto pump_out = [](test_stream& s, const std::string& data,
                     std::uint32_t seed) -> asio::awaitable<void> {
    std::minstd_rand gen(seed);
    std::size_t sent = 0;
    while (sent < data.size()) {
      std::size_t len = std::min<std::size_t>(data.size() - sent, 1 + gen() % 9000);
      sent +=
          co_await s.async_write_some(asio::buffer(data.data() + sent, len), asio::use_awaitable);
    }
  };
  auto pump_in = [](test_stream& s, std::string& into) -> asio::awaitable<void> {
    std::size_t got = 0;
    while (got < into.size()) {
      got += co_await s.async_read_some(asio::buffer(into.data() + got, into.size() - got),
                                        asio::use_awaitable);
    }
  };
  auto on_done = [&](std::exception_ptr e) {
    if (e) {
      std::lock_guard lock(error_mutex);
      error = e;
    }
    ++finished;
  };
  // Each coroutine may resume on any of the threads; a's read and a's
  // write run concurrently, as with a socket.
  asio::co_spawn(ctx, pump_out(a, ab, 1), on_done);
  asio::co_spawn(ctx, pump_in(b, got_ab), on_done);
  asio::co_spawn(ctx, pump_out(b, ba, 2), on_done);
  asio::co_spawn(ctx, pump_in(a, got_ba), on_done);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ctx.run(); });
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  CHECK(finished == 4);
  CHECK(got_ab == ab);
  CHECK(got_ba == ba);
  CHECK(a.stats().bytes_written == ab.size());
  CHECK(b.stats().bytes_read == ab.size());
}

TEST_CASE("destroying the io_context frees suspended operations and their coroutines") {
  // A coroutine owning both streams waits in a read that never completes;
  // the context's shutdown must destroy it (ASan reports a leak otherwise).
  auto weak = std::make_shared<int>(0);
  std::weak_ptr<int> alive = weak;
  {
    asio::io_context ctx;
    asio::co_spawn(
        ctx,
        [](std::shared_ptr<int> token, asio::any_io_executor ex) -> asio::awaitable<void> {
          auto [a, b] = make_test_stream_pair(ex);
          char buf[4];
          co_await b.async_read_some(asio::buffer(buf), asio::use_awaitable);
          (void)token;
        }(std::move(weak), ctx.get_executor()),
        asio::detached);
    ctx.run_for(std::chrono::milliseconds(1));
    CHECK_FALSE(alive.expired());
  }
  CHECK(alive.expired());
}

TEST_CASE("streams may outlive their io_context") {
  std::optional<asio::io_context> ctx(std::in_place);
  auto [a, b] = make_test_stream_pair(*ctx);
  char buf[4];
  io_result r;
  b.async_read_some(asio::buffer(buf), record_result(r));
  ctx->poll();
  ctx.reset();  // drops the suspended read without calling it
  CHECK_FALSE(r.done);
  CHECK(b.stats().read_waiting == false);
  a.close();
  b.close();
}

TEST_CASE("a moved stream keeps its connection") {
  asio::io_context ctx;
  auto [a, b] = make_test_stream_pair(ctx);
  test_stream c(std::move(a));
  io_result w, r;
  char buf[4];
  c.async_write_some(asio::buffer("m", 1), record_result(w));
  b.async_read_some(asio::buffer(buf), record_result(r));
  finish(ctx);
  CHECK(r.n == 1);
  CHECK(buf[0] == 'm');
  CHECK(c.is_open());
  CHECK_FALSE(a.is_open());  // NOLINT: moved-from on purpose
}

#if WEBSOCKETS_WITH_OPENSSL
TEST_CASE("asio::ssl::stream can wrap a test_stream") {
  asio::io_context ctx;
  asio::ssl::context tls_context(asio::ssl::context::tls_client);
  auto [a, b] = make_test_stream_pair(ctx);
  asio::ssl::stream<test_stream> tls(std::move(a), tls_context);
  CHECK(&tls.lowest_layer() == &tls.next_layer());
  // The client's hello goes through the pair: b reads a TLS record header.
  tls.async_handshake(asio::ssl::stream_base::client, [](std::error_code) {});
  std::string header(5, '\0');
  io_result r;
  asio::async_read(b, asio::buffer(header), record_result(r));
  settle(ctx);
  REQUIRE(r.n == 5);
  CHECK(header[0] == 0x16);  // handshake record
  b.close();
  finish(ctx);
}
#endif
