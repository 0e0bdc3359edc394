// The connection engine's rules that need no socket: the receive queue
// (bound, one waiter, cancelled receives giving their message back, the
// paused reader) and the send gate (fragmented messages, write_limit, the
// fairness yield).
#include <catch2/catch.hpp>

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "websockets/impl/receive_queue.hpp"
#include "websockets/impl/send_gate.hpp"

using namespace websockets;
using websockets::detail::pending_op;
using websockets::detail::receive_queue;
using websockets::detail::send_gate;

namespace {

message text(std::string s) {
  return message(opcode::text, std::move(s));
}

// A pending operation that records how it completed.
struct recorder {
  std::vector<std::string> events;
  pending_op op(asio::io_context& io, std::string name) {
    return pending_op(
        [this, name](std::error_code ec) {
          events.push_back(ec ? name + ":" + ec.message() : name);
        },
        io.get_executor());
  }
};

}  // namespace

TEST_CASE("receive_queue: messages come out in order, and max_queue bounds them",
          "[connection_parts]") {
  receive_queue q(3);
  CHECK(q.empty());
  q.push(text("a"));
  q.push(text("b"));
  CHECK_FALSE(q.full());
  q.push(text("c"));
  CHECK(q.full());
  CHECK(q.size() == 3);
  CHECK(q.take().text() == "a");
  CHECK_FALSE(q.full());
  CHECK(q.take().text() == "b");
  CHECK(q.take().text() == "c");
  CHECK(q.empty());

  receive_queue unbounded(0);
  for (int i = 0; i < 1000; ++i) unbounded.push(text(std::to_string(i)));
  CHECK_FALSE(unbounded.full());
  CHECK(unbounded.take().text() == "0");
}

TEST_CASE("receive_queue: a paused reader resumes once, at the first message taken",
          "[connection_parts]") {
  receive_queue q(1);
  q.push(text("a"));
  q.push(text("b"));  // after a close, the reader may go past the bound
  q.pause_reader();
  CHECK(q.take().text() == "a");
  CHECK(q.resume_reader());
  CHECK(q.take().text() == "b");
  CHECK_FALSE(q.resume_reader());
}

TEST_CASE("receive_queue: a message put back is the next one taken", "[connection_parts]") {
  receive_queue q(4);
  q.push(text("1"));
  q.push(text("2"));
  auto m = q.take();
  CHECK(m.text() == "1");
  q.put_back(std::move(m));
  CHECK(q.size() == 2);
  CHECK(q.take().text() == "1");
  CHECK(q.take().text() == "2");
}

TEST_CASE("receive_queue: one recv() at a time", "[connection_parts]") {
  receive_queue q(4);
  q.begin_receive(nullptr);
  CHECK_THROWS_AS(q.begin_receive(nullptr), std::logic_error);
  q.end_receive();
  CHECK_NOTHROW(q.begin_receive(nullptr));
}

TEST_CASE("receive_queue: wake() resumes the waiter, a remote cancellation only its own",
          "[connection_parts]") {
  asio::io_context io(1);
  recorder r;
  receive_queue q(4);

  q.waiter().op = r.op(io, "first");
  CHECK(q.has_waiter());
  q.wake();
  CHECK_FALSE(q.has_waiter());
  io.run();
  REQUIRE(r.events == std::vector<std::string>{"first"});

  std::atomic<bool> mine{false}, other{false};
  q.begin_receive(&mine);
  q.waiter().op = r.op(io, "second");
  q.cancel_remote(&other);  // a late cancellation of an earlier recv()
  CHECK(q.has_waiter());
  q.cancel_remote(&mine);
  CHECK_FALSE(q.has_waiter());
  io.restart();
  io.run();
  const std::string aborted = "second:" + std::error_code(asio::error::operation_aborted).message();
  CHECK(r.events == std::vector<std::string>{"first", aborted});

  q.waiter().op = r.op(io, "dropped");
  auto released = q.release_waiter();
  CHECK(released);
  CHECK_FALSE(q.has_waiter());
  released.reset();  // dropped unresumed
  io.restart();
  io.run();
  CHECK(r.events.size() == 2);
}

TEST_CASE("send_gate: write_limit makes a sender wait for the low-water mark",
          "[connection_parts]") {
  send_gate g(1000);
  CHECK(g.write_limit() == 1000);
  // Up to the limit waiting to be written: go on.
  CHECK(g.wait_target(1000, 0, false) == 0);
  CHECK(g.wait_target(5000, 4000, false) == 0);
  // Past it: wait until only a quarter of the limit is left.
  CHECK(g.wait_target(1001, 0, false) == 1001 - 250);
  CHECK(g.wait_target(9000, 100, false) == 9000 - 250);
  // A borrowed payload: wait until it is all written, whatever the limit.
  CHECK(g.wait_target(10, 0, true) == 10);

  send_gate zero(0);  // every byte waiting is over the limit
  CHECK(zero.wait_target(1, 0, false) == 1);
  CHECK(zero.wait_target(0, 0, false) == 0);
}

TEST_CASE("send_gate: senders wake when their bytes are out, or all at once",
          "[connection_parts]") {
  asio::io_context io(1);
  recorder r;
  send_gate g(100);
  CHECK_FALSE(g.has_send_waiters());
  g.wait_until_sent(300, r.op(io, "300"));
  g.wait_until_sent(100, r.op(io, "100"));
  g.wait_until_sent(200, r.op(io, "200"));
  auto ready = g.ready_senders(199, false);
  REQUIRE(ready.size() == 1);
  for (auto& op : ready) op.complete();
  io.run();
  CHECK(r.events == std::vector<std::string>{"100"});
  auto rest = g.ready_senders(0, true);
  CHECK(rest.size() == 2);
  CHECK_FALSE(g.has_send_waiters());
  for (auto& op : rest) op.complete();
  io.restart();
  io.run();
  CHECK(r.events == std::vector<std::string>{"100", "300", "200"});
}

TEST_CASE("send_gate: a fragmented message holds back other messages until it ends",
          "[connection_parts]") {
  asio::io_context io(1);
  recorder r;
  send_gate g(100);
  CHECK_FALSE(g.fragmenting());
  g.begin_fragments();
  CHECK(g.fragmenting());
  g.wait_for_fragments(r.op(io, "a"));
  g.wait_for_fragments(r.op(io, "b"));
  auto waiters = g.end_fragments();
  CHECK_FALSE(g.fragmenting());
  REQUIRE(waiters.size() == 2);
  for (auto& op : waiters) op.complete();
  io.run();
  CHECK(r.events == std::vector<std::string>{"a", "b"});
  CHECK(g.end_fragments().empty());
}

TEST_CASE("send_gate: a sender that never waits yields every 256 sends", "[connection_parts]") {
  send_gate g(100);
  int yields = 0;
  for (int i = 0; i < 1024; ++i) yields += g.sent_without_waiting();
  CHECK(yields == 1024 / static_cast<int>(send_gate::sends_between_yields));
  for (int i = 0; i < 255; ++i) CHECK_FALSE(g.sent_without_waiting());
  g.suspending();  // it waited: the count starts again
  for (int i = 0; i < 255; ++i) CHECK_FALSE(g.sent_without_waiting());
  CHECK(g.sent_without_waiting());
}
