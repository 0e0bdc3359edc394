// Hardening: a serve() server on 127.0.0.1 against peers that attack it or
// break the rules (slowloris, ping floods, absurd frame lengths, a zip bomb,
// half-closed and reset sockets, garbage), checked on the bytes the peer
// gets back and on the server's memory, never on the clock alone.
//
// With g++ 12, options and capturing lambdas are built in variables before
// each co_await (see options.hpp), and no co_await goes inside a Catch
// macro. Checks that may fail before the connection is shut down use CHECK,
// so that a failure still shuts everything down.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/hostile_peer.hpp"
#include "support/process_memory.hpp"
#include "support/raw_peer.hpp"
#include "support/server_thread.hpp"
#include "support/ws_pairs.hpp"
#include "websockets/websockets.hpp"

using namespace websockets;
using namespace websockets::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using websockets::testing::peak_growth;
using websockets::testing::raise_open_file_limit;

namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// The resident memory a zip bomb may cost the server: the compressed frame,
// max_size (16 MiB) of output as it grows, zlib's state. Measured: 36 MiB.
// AddressSanitizer keeps freed blocks in quarantine and pads every block,
// so RSS says little there; the plain build is the one that proves it.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t bomb_rss_bound = 192 * MiB;
#else
constexpr std::size_t bomb_rss_bound = 48 * MiB;
#endif

server_options quiet_server(log_capture& log) {
  server_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  o.logger = log.logger();
  return o;
}

client_options quiet_client() {
  client_options o;
  o.ping_interval = std::nullopt;
  o.close_timeout = 2s;
  return o;
}

asio::awaitable<void> echo(server_connection& ws) {
  while (auto m = co_await ws.next()) co_await ws.send(*m);
}

// What a server handler saw: the messages, and how the connection ended.
struct handler_report {
  int started = 0;
  int finished = 0;
  std::vector<std::size_t> sizes;
  std::string last;                            // the last message's payload
  std::optional<std::uint16_t> received_code;  // connection_closed::code()
  std::optional<std::uint16_t> sent_code;      // connection_closed::sent_code()
  server_connection* live = nullptr;           // while the handler runs

  // A handler that keeps what it receives (echoing it when `echo_back`)
  // until the connection closes.
  auto handler(bool echo_back = false) {
    return [this, echo_back](server_connection& ws) -> asio::awaitable<void> {
      ++started;
      live = &ws;
      struct on_exit {
        handler_report* r;
        ~on_exit() {
          r->live = nullptr;
          ++r->finished;
        }
      } guard{this};
      try {
        while (auto m = co_await ws.next()) {
          sizes.push_back(m->size());
          if (m->size() <= 4 * KiB) last.assign(m->text());
          if (echo_back) co_await ws.send(*m);
        }
        received_code = ws.close_code();
      } catch (const connection_closed& e) {
        received_code = e.code();
        sent_code = e.sent_code();
      }
    };
  }
};

// Writes `head`, then `body` bytes of zeros (the frame's payload under a
// zero masking key) from one 64 KiB buffer, while reading the server's
// answer; stops writing once the server's close frame or the end of the
// connection arrives. Returns what the reader saw.
asio::awaitable<observed_close> attack(hostile_client& peer, std::string head, std::uint64_t body) {
  auto closed = std::make_shared<bool>(false);
  auto writer = [](hostile_client& p, std::string h, std::uint64_t n,
                   std::shared_ptr<bool> stop) -> asio::awaitable<void> {
    if (co_await p.write(h)) co_return;
    static const std::string zeros(64 * KiB, '\0');
    while (n > 0 && !*stop) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, zeros.size()));
      if (co_await p.write(std::string_view(zeros.data(), chunk))) co_return;
      n -= chunk;
    }
  };
  auto reader = [](hostile_client& p,
                   std::shared_ptr<bool> stop) -> asio::awaitable<observed_close> {
    auto seen = co_await p.read_until_closed();
    *stop = true;
    co_return seen;
  };
  auto w = writer(peer, std::move(head), body, closed);
  auto r = reader(peer, closed);
  co_return co_await (std::move(w) && std::move(r));
}

// Masking with a zero key leaves bytes as they are; this is the header of a
// frame whose payload attack() streams.
std::string bulk_head(opcode op, std::uint64_t declared, bool fin = true, bool rsv1 = false) {
  return client_frame_head(first_byte(op, fin, rsv1), declared, zero_mask_key);
}

// Raw DEFLATE (RFC 7692) of `inflated_mib` MiB of zeros, without the
// 00 00 ff ff tail: one 1 MiB block, compressed once and repeated, since
// each ends on a byte boundary after a sync flush. DEFLATE can't beat about
// 1032:1, so 1 GiB needs about 1 MiB on the wire.
std::string zip_bomb(std::size_t inflated_mib) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -9, 8, Z_RLE) == Z_OK);
  std::string zeros(MiB, '\0');
  std::string block(64 * KiB, '\0');
  z.next_in = reinterpret_cast<Bytef*>(zeros.data());
  z.avail_in = static_cast<uInt>(zeros.size());
  z.next_out = reinterpret_cast<Bytef*>(block.data());
  z.avail_out = static_cast<uInt>(block.size());
  REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
  REQUIRE(z.avail_in == 0);
  block.resize(block.size() - z.avail_out);
  deflateEnd(&z);
  REQUIRE(block.substr(block.size() - 4) == std::string("\0\0\xff\xff", 4));
  std::string out;
  out.reserve(block.size() * inflated_mib);
  for (std::size_t i = 0; i < inflated_mib; ++i) out += block;
  out.resize(out.size() - 4);
  return out;
}

}  // namespace

// ---- Slowloris --------------------------------------------------------------

namespace {

struct trickler {
  bool connected = false;
  bool dropped = false;
  std::size_t sent = 0;      // bytes of the request head sent
  std::size_t received = 0;  // bytes the server sent back
  duration lasted{};         // from connect to the server hanging up
};

// Connects and sends an upgrade request one byte per second, watching for
// the server to hang up; sends nothing at all when `silent`.
asio::awaitable<void> trickle(asio::ip::tcp::endpoint endpoint, trickler* t, bool silent) {
  const auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(ex);
  std::error_code ec;
  co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    t->dropped = true;
    co_return;
  }
  t->connected = true;
  const auto connected = std::chrono::steady_clock::now();
  const std::string head = upgrade_request();
  asio::steady_timer tick(ex);
  char sink[512];
  for (std::size_t i = 0;; ++i) {
    if (!silent && i < head.size()) {
      co_await asio::async_write(socket, asio::buffer(&head[i], 1),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      ++t->sent;
    }
    tick.expires_after(1s);
    std::error_code read_ec;
    auto woke =
        co_await (socket.async_read_some(asio::buffer(sink),
                                         asio::redirect_error(asio::use_awaitable, read_ec)) ||
                  tick.async_wait(asio::use_awaitable));
    if (woke.index() == 0) {
      t->received += std::get<0>(woke);
      if (read_ec) break;  // the server hung up
    }
  }
  t->lasted = std::chrono::steady_clock::now() - connected;
  t->dropped = true;
}

}  // namespace

TEST_CASE(
    "slowloris: 1,000 connections trickling a request head are dropped at open_timeout, and a "
    "normal client still connects in under 100 ms meanwhile",
    "[hardening]") {
  constexpr int trickling = 1000, silent = 100, probes = 12;
  constexpr auto open_timeout = 2s;
  // Each attacker costs a socket here and one in the server.
  REQUIRE(raise_open_file_limit(4 * (trickling + silent)) >= 2 * (trickling + silent) + 256);

  log_capture log;
  auto options = quiet_server(log);
  options.open_timeout = open_timeout;
  server_thread srv(echo, options);

  std::vector<trickler> attackers(trickling + silent);
  std::vector<duration> probe_times;
  run_async(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        for (int i = 0; i < trickling + silent; ++i) {
          asio::co_spawn(ex, trickle(srv.endpoint(), &attackers[i], i >= trickling),
                         asio::detached);
          if (i % 100 == 99) co_await sleep_for(5ms);  // stay within the listen backlog
        }
        auto all = [&](auto what) { return std::all_of(attackers.begin(), attackers.end(), what); };
        while (!all([](const trickler& t) { return t.connected || t.dropped; }))
          co_await sleep_for(10ms);

        // Probes from now until past the moment the attackers are dropped.
        const auto copts = quiet_client();
        const std::string uri = srv.uri();
        for (int i = 0; i < probes; ++i) {
          const auto start = std::chrono::steady_clock::now();
          auto ws = co_await connect(uri, copts);
          probe_times.push_back(std::chrono::steady_clock::now() - start);
          co_await ws.send("probe");
          auto reply = co_await ws.recv();
          CHECK(reply.text() == "probe");
          co_await ws.close();
          co_await sleep_for(200ms);
        }
        while (!all([](const trickler& t) { return t.dropped; })) co_await sleep_for(50ms);
      },
      60s);
  srv.stop();
  CHECK(srv.closed_cleanly());

  int connected = 0;
  duration shortest = duration::max(), longest{};
  std::size_t most_sent = 0, received = 0;
  for (const auto& t : attackers) {
    connected += t.connected;
    shortest = std::min(shortest, t.lasted);
    longest = std::max(longest, t.lasted);
    most_sent = std::max(most_sent, t.sent);
    received += t.received;
  }
  std::sort(probe_times.begin(), probe_times.end());
  const auto ms = [](duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0;
  };
  INFO("attackers lasted " << ms(shortest) << " to " << ms(longest) << " ms; probes took "
                           << ms(probe_times.front()) << " to " << ms(probe_times.back())
                           << " ms, median " << ms(probe_times[probes / 2]) << " ms");
  REQUIRE(connected == trickling + silent);
  // Dropped at open_timeout: not before (the client's clock starts a little
  // after the server's), and not long after.
  CHECK(shortest >= open_timeout - 500ms);
  CHECK(longest <= open_timeout + 3s);
  CHECK(most_sent <= 4);  // about one byte per second until the timeout
  CHECK(received == 0);   // hung up without a word
  CHECK(log.count(log_level::info) >= static_cast<std::size_t>(trickling + silent));
  REQUIRE(probe_times.size() == probes);
  CHECK(probe_times[probes / 2] < 100ms);
}

// ---- Ping flood ---------------------------------------------------------------

TEST_CASE(
    "a peer that floods pings and never reads can't make the server buffer pongs without bound",
    "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler();
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);

    // A small receive buffer: the pongs back up at once.
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0), 4096);
    const int status = co_await peer.handshake();
    REQUIRE(status == 101);

    std::string batch;  // 512 pings of 125 bytes: 67,072 bytes
    for (int i = 0; i < 512; ++i) append_client_frame(batch, opcode::ping, std::string(125, 'p'));
    constexpr int batches = 1000;  // 64 MiB of pings, 62 MiB of pongs if all were kept

    peak_growth memory;
    std::size_t most_buffered = 0;
    int written = 0;
    bool stalled = false, refused = false;
    for (; written < batches; ++written) {
      std::error_code ec;
      auto done = co_await (asio::async_write(peer.socket(), asio::buffer(batch),
                                              asio::redirect_error(asio::use_awaitable, ec)) ||
                            sleep_for(2s));
      if (done.index() == 1) {
        stalled = true;  // the server stopped reading: TCP pushes back
        break;
      }
      if (ec) {
        refused = true;  // the server closed the connection
        break;
      }
      if (report.live) most_buffered = std::max(most_buffered, report.live->write_buffered());
    }
    co_await sleep_for(100ms);  // let the server parse what it has read
    if (report.live) most_buffered = std::max(most_buffered, report.live->write_buffered());
    const std::size_t grown = memory.growth();
    INFO("wrote " << written << " batches of 512 pings (" << written * batch.size() / MiB
                  << " MiB); "
                  << (stalled   ? "the server stopped reading"
                      : refused ? "the server closed"
                                : "the server read it all")
                  << "; most bytes waiting in the server's send buffer: " << most_buffered
                  << "; peak RSS growth " << grown / KiB << " KiB");
    // Pongs are dropped, reading pauses, or the connection is closed; the
    // server's output never holds more than a write_limit and one read's
    // worth of pongs.
    CHECK(most_buffered <= options.write_limit + 2 * options.read_limit);
    CHECK(grown < 32 * MiB);

    peer.close();
    srv.close();
    co_await srv.wait_closed();
    CHECK(report.finished == 1);
  });
}

TEST_CASE("a peer that never reads blocks the handler's send() at write_limit", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    server_connection* live = nullptr;
    int sent = 0;
    bool ended = false;
    auto handler = [&](server_connection& ws) -> asio::awaitable<void> {
      live = &ws;
      const std::string chunk(64 * KiB, 'x');
      try {
        for (; sent < 1000; ++sent) co_await ws.send(chunk);  // 64 MiB if nothing held it back
      } catch (const connection_closed&) {
      }
      live = nullptr;
      ended = true;
    };
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0), 4096);
    const int status = co_await peer.handshake();
    REQUIRE(status == 101);

    peak_growth memory;
    std::size_t most_buffered = 0;
    for (int i = 0; i < 50 && live; ++i) {
      most_buffered = std::max(most_buffered, live->write_buffered());
      co_await sleep_for(10ms);
    }
    INFO("sent " << sent << " messages of 64 KiB; most bytes buffered " << most_buffered);
    CHECK(sent < 1000);
    CHECK_FALSE(ended);
    // One message borrowed from the sender and up to write_limit more.
    CHECK(most_buffered <= options.write_limit + 64 * KiB + 14);
    CHECK(memory.growth() < 16 * MiB);

    peer.close();  // the stuck send() fails, the handler ends
    srv.close();
    co_await srv.wait_closed();
    CHECK(ended);
  });
}

// ---- Absurd lengths and sizes -------------------------------------------------

namespace {

struct size_attack {
  std::optional<std::uint16_t> code;  // the close code the peer got
  bool tcp_closed = false;
  std::optional<std::uint16_t> server_sent;  // the code the handler's exception reports
  std::size_t messages = 0;                  // messages the handler got
  std::size_t peak_growth = 0;
};

// Serves with `max_size`, opens a raw connection (offering `extensions`),
// runs attack() with `head` and `body` zero bytes, and reports.
asio::awaitable<size_attack> run_size_attack(std::optional<std::size_t> max_size, std::string head,
                                             std::uint64_t body, std::string offer = {}) {
  log_capture log;
  auto options = quiet_server(log);
  options.max_size = max_size;
  handler_report report;
  auto handler = report.handler();
  auto srv = co_await serve(handler, "127.0.0.1", 0, options);
  auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
  const int status = co_await peer.handshake(offer);
  REQUIRE(status == 101);
  if (!offer.empty()) REQUIRE(peer.response_head().find("permessage-deflate") != std::string::npos);

  size_attack out;
  peak_growth memory;
  const auto seen = co_await attack(peer, std::move(head), body);
  out.peak_growth = memory.growth();
  out.code = seen.code;
  out.tcp_closed = seen.tcp_closed;
  peer.close();
  srv.close();
  co_await srv.wait_closed();
  out.server_sent = report.sent_code;
  out.messages = report.sizes.size();
  co_return out;
}

}  // namespace

TEST_CASE("a frame declaring 2^63 bytes is a protocol error: 1002", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    const auto r = co_await run_size_attack(16 * MiB, bulk_head(opcode::binary, 1ull << 63), MiB);
    CHECK(r.code == 1002);
    CHECK(r.server_sent == 1002);
    CHECK(r.tcp_closed);
    CHECK(r.messages == 0);
    CHECK(r.peak_growth < 8 * MiB);
  });
}

TEST_CASE("a frame declaring 2^63 - 1 bytes is too big: 1009", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    const auto r =
        co_await run_size_attack(16 * MiB, bulk_head(opcode::binary, (1ull << 63) - 1), MiB);
    CHECK(r.code == 1009);
    CHECK(r.server_sent == 1009);
    CHECK(r.tcp_closed);
    CHECK(r.peak_growth < 8 * MiB);
  });
}

TEST_CASE("without max_size, a frame declaring 2^63 - 1 bytes costs only what arrives",
          "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.max_size = std::nullopt;
    handler_report report;
    auto handler = report.handler();
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
    const int status = co_await peer.handshake();
    REQUIRE(status == 101);
    peak_growth memory;
    auto ec = co_await peer.write(bulk_head(opcode::binary, (1ull << 63) - 1));
    const std::string chunk(64 * KiB, '\0');
    for (int i = 0; i < 64 && !ec; ++i) ec = co_await peer.write(chunk);  // 4 MiB
    co_await sleep_for(100ms);
    const std::size_t grown = memory.growth();
    INFO("peak RSS growth after 4 MiB of a 2^63 - 1 byte frame: " << grown / KiB << " KiB");
    CHECK_FALSE(ec);
    CHECK(report.sizes.empty());
    CHECK(grown < 32 * MiB);  // what arrived, its reallocations; not 2^63 bytes
    peer.close();
    srv.close();
    co_await srv.wait_closed();
    CHECK(report.received_code == 1006);
  });
}

TEST_CASE("max_size 16 MiB: 16 MiB passes, 16 MiB + 1 gets 1009 in one frame or in fragments",
          "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    {
      // Declared at once: refused on the header, before any payload.
      const auto r =
          co_await run_size_attack(16 * MiB, bulk_head(opcode::binary, 16 * MiB + 1), 16 * MiB + 1);
      CHECK(r.code == 1009);
      CHECK(r.server_sent == 1009);
      CHECK(r.tcp_closed);
      CHECK(r.messages == 0);
      CHECK(r.peak_growth < 8 * MiB);
    }
    {
      // Sixteen 1 MiB fragments, then one byte: refused on the last header.
      log_capture log;
      auto options = quiet_server(log);
      options.max_size = 16 * MiB;
      handler_report report;
      auto handler = report.handler();
      auto srv = co_await serve(handler, "127.0.0.1", 0, options);
      auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
      const int status = co_await peer.handshake();
      REQUIRE(status == 101);
      peak_growth memory;
      const std::string chunk(MiB, '\0');
      std::error_code ec;
      for (int i = 0; i < 16 && !ec; ++i) {
        ec = co_await peer.write(bulk_head(i == 0 ? opcode::binary : opcode::cont, MiB, false));
        if (!ec) ec = co_await peer.write(chunk);
      }
      CHECK_FALSE(ec);
      const auto seen = co_await attack(peer, bulk_head(opcode::cont, 1), 1);
      const std::size_t grown = memory.growth();
      INFO("peak RSS growth while buffering 16 MiB of fragments: " << grown / MiB << " MiB");
      CHECK(seen.code == 1009);
      CHECK(seen.tcp_closed);
      CHECK(grown < 64 * MiB);
      peer.close();
      srv.close();
      co_await srv.wait_closed();
      CHECK(report.sent_code == 1009);
      CHECK(report.sizes.empty());
    }
    {
      // Exactly max_size is a message.
      log_capture log;
      auto options = quiet_server(log);
      options.max_size = 16 * MiB;
      handler_report report;
      auto handler = report.handler();
      auto srv = co_await serve(handler, "127.0.0.1", 0, options);
      auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
      const int status = co_await peer.handshake();
      REQUIRE(status == 101);
      auto ec = co_await peer.write(bulk_head(opcode::binary, 16 * MiB));
      const std::string chunk(MiB, '\0');
      for (int i = 0; i < 16 && !ec; ++i) ec = co_await peer.write(chunk);
      if (!ec) ec = co_await peer.write(client_frame(opcode::close, serialize_close(1000, "")));
      CHECK_FALSE(ec);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.code == 1000);
      peer.close();
      srv.close();
      co_await srv.wait_closed();
      REQUIRE(report.sizes.size() == 1);
      CHECK(report.sizes[0] == 16 * MiB);
    }
  });
}

namespace {

// Sends `frames` (a compressed message that inflates past max_size) to a
// server with max_size 16 MiB and checks that it fails the connection with
// 1009 at a bounded cost in memory.
void check_zip_bomb_refused(const std::string& frames) {
  run_async([&frames](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    auto options = quiet_server(log);
    options.max_size = 16 * MiB;
    handler_report report;
    auto handler = report.handler();
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
    const int status = co_await peer.handshake(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    REQUIRE(status == 101);
    REQUIRE(peer.response_head().find("permessage-deflate") != std::string::npos);
    peak_growth memory;
    auto ec = co_await peer.write(frames);
    const auto seen = co_await peer.read_until_closed();
    const std::size_t grown = memory.growth();
    INFO("peak RSS growth: " << grown / MiB << " MiB");
    CHECK_FALSE(ec);
    CHECK(seen.code == 1009);
    CHECK(seen.tcp_closed);
    CHECK(grown < bomb_rss_bound);  // not what the bomb inflates to
    peer.close();
    srv.close();
    co_await srv.wait_closed();
    CHECK(report.sent_code == 1009);
    CHECK(report.sizes.empty());
  });
}

}  // namespace

TEST_CASE("a zip bomb (1 MiB inflating to 1 GiB) gets 1009 and costs about max_size",
          "[hardening]") {
  const std::string bomb = zip_bomb(1024);
  INFO("the bomb: " << bomb.size() << " bytes inflating to 1 GiB");
  // As one compressed frame (RSV1), masked like any client frame.
  std::string frame;
  append_client_frame(frame, opcode::binary, bomb, true, true);
  check_zip_bomb_refused(frame);
}

TEST_CASE("a zip bomb spread over fragments gets 1009 too", "[hardening]") {
  const std::string bomb = zip_bomb(64);  // 64 MiB inflated, in 64 fragments
  std::string frames;
  const std::size_t piece = (bomb.size() + 63) / 64;
  for (std::size_t at = 0, i = 0; at < bomb.size(); at += piece, ++i) {
    const bool last = at + piece >= bomb.size();
    append_client_frame(frames, i == 0 ? opcode::binary : opcode::cont,
                        std::string_view(bomb).substr(at, piece), last, i == 0);
  }
  check_zip_bomb_refused(frames);
}

// ---- Broken peers ---------------------------------------------------------------

TEST_CASE("a peer that half-closes: its message still arrives, the server closes with 1006",
          "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler();
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    {
      // A message, then FIN without a close frame.
      auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
      const int status = co_await peer.handshake();
      REQUIRE(status == 101);
      auto ec = co_await peer.write(client_frame(opcode::text, "last words"));
      CHECK_FALSE(ec);
      peer.socket().shutdown(asio::socket_base::shutdown_send, ec);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.tcp_closed);
      CHECK(seen.code != 1000);  // no normal close from a peer that just left
    }
    while (report.finished < 1) co_await sleep_for(5ms);
    CHECK(report.last == "last words");
    CHECK(report.received_code == 1006);
    {
      // A close frame, then FIN: the closing handshake completes.
      auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
      const int status = co_await peer.handshake();
      REQUIRE(status == 101);
      std::error_code ec =
          co_await peer.write(client_frame(opcode::close, serialize_close(1000, "bye")));
      CHECK_FALSE(ec);
      peer.socket().shutdown(asio::socket_base::shutdown_send, ec);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.code == 1000);
      CHECK(seen.reason == "bye");
      CHECK(seen.tcp_closed);
    }
    while (report.finished < 2) co_await sleep_for(5ms);
    CHECK(report.received_code == 1000);
    srv.close();
    co_await srv.wait_closed();
    CHECK(log.count(log_level::error) == 0);
  });
}

TEST_CASE("bytes after the HTTP head: frames are served, garbage gets 1002", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler(true);
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);
    {
      // Frames in the same write as the request: they are the first messages.
      std::string frames = client_frame(opcode::text, "early") + client_frame(opcode::text, "bird");
      auto peer = co_await hostile_client::connect(ep);
      const int status = co_await peer.handshake({}, frames);
      REQUIRE(status == 101);
      for (std::string_view expected : {"early", "bird"}) {
        auto echoed = co_await peer.read_frame();
        REQUIRE(echoed);
        CHECK(echoed->data == expected);
      }
      auto ec = co_await peer.write(client_frame(opcode::close, serialize_close(1000, "")));
      CHECK_FALSE(ec);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.code == 1000);
    }
    {
      // An unmasked frame, then bytes that aren't frames at all.
      std::string garbage = "\x81\x05hello";
      for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131) & 0xFF);
      auto peer = co_await hostile_client::connect(ep);
      const int status = co_await peer.handshake({}, garbage);
      REQUIRE(status == 101);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.data_frames == 0);
      CHECK(seen.code == 1002);
      CHECK(seen.tcp_closed);
    }
    {
      // A reserved opcode right after the head.
      auto peer = co_await hostile_client::connect(ep);
      const int status = co_await peer.handshake({}, client_frame(static_cast<opcode>(3), "?"));
      REQUIRE(status == 101);
      const auto seen = co_await peer.read_until_closed();
      CHECK(seen.code == 1002);
    }
    {
      // Binary noise instead of a request: an HTTP error or a hang-up, and the
      // server goes on.
      std::string noise;
      for (int i = 0; i < 64 * 1024; ++i) noise += static_cast<char>((i * 7919 + 13) & 0xFF);
      const auto answer = co_await raw_exchange(ep, noise);
      const auto response = parse_response(answer);
      CHECK((response.status_code == 0 || response.status_code == 400));
    }
    const auto copts = quiet_client();
    const std::string uri = "ws://127.0.0.1:" + std::to_string(ep.port()) + "/";
    auto ws = co_await connect(uri, copts);
    co_await ws.send("still serving");
    auto reply = co_await ws.recv();
    CHECK(reply.text() == "still serving");
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
    CHECK(log.count(log_level::error) == 0);
  });
}

TEST_CASE("a request head that never ends is refused at the head limit", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    auto srv = co_await serve(echo, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
    peak_growth memory;
    auto writer = [](hostile_client& p) -> asio::awaitable<std::size_t> {
      std::size_t sent = 0;
      if (co_await p.write("GET / HTTP/1.1\r\nHost: localhost\r\nX-Endless: ")) co_return sent;
      const std::string more(16 * KiB, 'a');
      while (sent < 64 * MiB) {
        if (co_await p.write(more)) break;
        sent += more.size();
      }
      co_return sent;
    };
    auto reader = [](hostile_client& p) -> asio::awaitable<std::string> {
      std::string got;
      char buffer[4096];
      for (;;) {
        std::error_code ec;
        const std::size_t n = co_await p.socket().async_read_some(
            asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
        got.append(buffer, n);
        if (ec) break;
      }
      co_return got;
    };
    auto w = writer(peer);
    auto r = reader(peer);
    auto [sent, answer] = co_await (std::move(w) && std::move(r));
    const std::size_t grown = memory.growth();
    INFO("sent " << sent / KiB << " KiB of head before the server hung up; peak RSS growth "
                 << grown / KiB << " KiB");
    const int status = parse_response(answer).status_code;
    CHECK((status == 400 || status == 431 || status == 0));
    CHECK(sent < 64 * MiB);  // the server hung up long before
    CHECK(grown < 16 * MiB);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("a message in 1,000,000 tiny fragments arrives whole", "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler(true);
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
    const int status = co_await peer.handshake();
    REQUIRE(status == 101);

    // 1,000,000 frames, one byte and empty in turn: a 500,000-byte message.
    constexpr int frames = 1'000'000;
    auto writer = [](hostile_client& p) -> asio::awaitable<void> {
      std::string batch;
      for (int i = 0; i < frames; ++i) {
        const char byte = static_cast<char>('a' + (i / 2) % 26);
        append_client_frame(batch, i == 0 ? opcode::text : opcode::cont,
                            i % 2 == 0 ? std::string_view(&byte, 1) : std::string_view(),
                            i == frames - 1);
        if (batch.size() >= 64 * KiB || i == frames - 1) {
          if (co_await p.write(batch)) co_return;
          batch.clear();
        }
      }
    };
    auto reader = [](hostile_client& p) -> asio::awaitable<std::optional<frame>> {
      co_return co_await p.read_frame();
    };
    auto w = writer(peer);
    auto r = reader(peer);
    auto echoed = co_await (std::move(w) && std::move(r));
    REQUIRE(echoed);
    CHECK(echoed->op == opcode::text);
    CHECK(echoed->fin);
    REQUIRE(echoed->data.size() == frames / 2);
    bool intact = true;
    for (std::size_t i = 0; i < echoed->data.size(); ++i)
      intact = intact && echoed->data[i] == static_cast<char>('a' + i % 26);
    CHECK(intact);
    auto ec = co_await peer.write(client_frame(opcode::close, serialize_close(1000, "")));
    CHECK_FALSE(ec);
    const auto seen = co_await peer.read_until_closed();
    CHECK(seen.code == 1000);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("pings between every fragment: each answered in order, the message intact",
          "[hardening]") {
  run_async([](asio::any_io_executor) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler(true);
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    auto peer = co_await hostile_client::connect(srv.endpoints().at(0));
    const int status = co_await peer.handshake();
    REQUIRE(status == 101);

    // Fragment, ping, unsolicited pong, fragment, ping... all in one stream.
    constexpr int fragments = 5000;
    auto writer = [](hostile_client& p) -> asio::awaitable<void> {
      std::string batch;
      for (int i = 0; i < fragments; ++i) {
        const std::string n = std::to_string(i);
        append_client_frame(batch, i == 0 ? opcode::binary : opcode::cont, n + ",",
                            i == fragments - 1);
        append_client_frame(batch, opcode::ping, n);
        append_client_frame(batch, opcode::pong, "unsolicited");
        if (batch.size() >= 16 * KiB) {
          if (co_await p.write(batch)) co_return;
          batch.clear();
        }
      }
      co_await p.write(batch);
    };
    auto reader =
        [](hostile_client& p) -> asio::awaitable<std::pair<std::vector<std::string>, std::string>> {
      std::vector<std::string> pongs;
      while (auto f = co_await p.read_frame()) {
        if (f->op == opcode::pong) pongs.push_back(f->data);
        if (f->op == opcode::binary) co_return std::pair{std::move(pongs), std::move(f->data)};
        if (f->op == opcode::close) break;
      }
      co_return std::pair{std::move(pongs), std::string()};
    };
    auto w = writer(peer);
    auto r = reader(peer);
    auto got = co_await (std::move(w) && std::move(r));
    auto& [pongs, message] = got;
    std::string expected;
    for (int i = 0; i < fragments; ++i) expected += std::to_string(i) + ",";
    CHECK(message == expected);
    REQUIRE(pongs.size() == fragments);  // every pong before the echo
    bool in_order = true;
    for (int i = 0; i < fragments; ++i) in_order = in_order && pongs[i] == std::to_string(i);
    CHECK(in_order);
    auto ec = co_await peer.write(client_frame(opcode::close, serialize_close(1000, "")));
    CHECK_FALSE(ec);
    const auto seen = co_await peer.read_until_closed();
    CHECK(seen.code == 1000);
    srv.close();
    co_await srv.wait_closed();
  });
}

TEST_CASE("peers that reset mid-handshake or mid-message leave the server serving", "[hardening]") {
  run_async([](asio::any_io_executor ex) -> asio::awaitable<void> {
    log_capture log;
    const auto options = quiet_server(log);
    handler_report report;
    auto handler = report.handler(true);
    auto srv = co_await serve(handler, "127.0.0.1", 0, options);
    const auto ep = srv.endpoints().at(0);
    constexpr int each = 100;
    auto reset = [](asio::ip::tcp::socket& s) {
      std::error_code ec;
      s.set_option(asio::socket_base::linger(true, 0), ec);  // close() sends RST
      s.close(ec);
    };
    const std::string request = upgrade_request();
    for (int i = 0; i < each; ++i) {
      // Half a request head, then RST.
      asio::ip::tcp::socket s(ex);
      co_await s.async_connect(ep, asio::use_awaitable);
      co_await asio::async_write(s, asio::buffer(request.data(), request.size() / 2),
                                 asio::use_awaitable);
      reset(s);
    }
    for (int i = 0; i < each; ++i) {
      // The handshake, half of a 1 MiB frame, then RST.
      auto peer = co_await hostile_client::connect(ep);
      const int status = co_await peer.handshake();
      REQUIRE(status == 101);
      std::string part = bulk_head(opcode::binary, MiB);
      part.append(512 * KiB, '\0');
      auto ec = co_await peer.write(part);
      CHECK_FALSE(ec);
      reset(peer.socket());
    }
    while (report.finished < each) co_await sleep_for(5ms);
    CHECK(report.sizes.empty());
    const auto copts = quiet_client();
    const std::string uri = "ws://127.0.0.1:" + std::to_string(ep.port()) + "/";
    auto ws = co_await connect(uri, copts);
    co_await ws.send("after the storm");
    auto reply = co_await ws.recv();
    CHECK(reply.text() == "after the storm");
    co_await ws.close();
    srv.close();
    co_await srv.wait_closed();
    CHECK(report.started == each + 1);
    CHECK(log.count(log_level::error) == 0);
  });
}

TEST_CASE("a coroutine that sends in a loop lets the rest of its thread run", "[hardening]") {
  // The server reads as fast as the client writes, so the socket never
  // pushes back: only send() itself can give the thread to other work.
  log_capture log;
  auto options = quiet_server(log);
  options.compression = compression::none;
  auto handler = [](server_connection& ws) -> asio::awaitable<void> {
    while (co_await ws.next()) {
    }
  };
  server_thread srv(handler, options);
  constexpr long messages = 100'000;  // 100 bytes each: 10 MB
  long sends = 0, other_work_ran_at = -1;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto copts = quiet_client();
    copts.compression = compression::none;
    const std::string uri = srv.uri();
    auto ws = co_await connect(uri, copts);
    // Work queued on the same thread: another connection's read, a timer.
    asio::post(ex, [&] { other_work_ran_at = sends; });
    const std::string body(100, 'x');
    for (; sends < messages; ++sends) co_await ws.send(body);
    co_await ws.close();
  });
  srv.stop();
  INFO("other work on the sender's thread ran after " << other_work_ran_at << " of " << messages
                                                      << " sends (-1: only after the loop)");
  // A loop of send() gives the thread away at least once per MiB sent.
  CHECK(other_work_ran_at >= 0);
  CHECK(other_work_ran_at < 10'000);
}
