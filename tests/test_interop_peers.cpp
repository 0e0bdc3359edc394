// The interop peers of tests/interop against each other (Python websockets
// 10.4 and Node's ws, each as client and server), so that a failure in an
// interop test of the library is known to be the library's.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/json_line.hpp"
#include "support/payload.hpp"
#include "support/peers.hpp"

using namespace websockets::testing;

namespace {

enum class peer { python, node };

const char* name_of(peer p) {
  return p == peer::python ? "python" : "node";
}

std::unique_ptr<child_process> start_server(peer p, std::vector<std::string> args = {}) {
  return p == peer::python ? start_python_peer("py_echo_server.py", std::move(args))
                           : start_node_peer("node_echo_server.js", std::move(args));
}

std::unique_ptr<child_process> start_client(peer p, std::uint16_t port,
                                            std::vector<std::string> args = {},
                                            const std::string& path = "/interop") {
  args.insert(args.begin(), "ws://127.0.0.1:" + std::to_string(port) + path);
  return p == peer::python ? start_python_peer("py_client.py", std::move(args))
                           : start_node_peer("node_client.js", std::move(args));
}

// The next JSON line of `p`.
json_object next_json(child_process& p) {
  auto line = p.read_line();
  if (!line) throw std::runtime_error(p.failure("stdout ended"));
  return json_object::parse(*line);
}

// The next line whose "event" is `event`, skipping others.
json_object next_event(child_process& p, const std::string& event) {
  for (;;) {
    auto o = next_json(p);
    if (o.contains("event") && o.type("event") == json_object::kind::string &&
        o.string("event") == event)
      return o;
  }
}

// Sends one command to a client peer and returns its answer.
json_object command(child_process& client, const std::string& json) {
  client.write_line(json);
  auto o = next_json(client);
  INFO(o.text());
  REQUIRE(o.contains("op"));
  return o;
}

}  // namespace

TEST_CASE("interop peers: each client against each server, with compression", "[interop]") {
  auto [client_peer, server_peer] = GENERATE(table<peer, peer>({{peer::python, peer::node},
                                                                {peer::node, peer::python},
                                                                {peer::python, peer::python},
                                                                {peer::node, peer::node}}));
  INFO(name_of(client_peer) << " client, " << name_of(server_peer) << " server");
  auto server = start_server(server_peer);
  auto client = start_client(client_peer, server->wait_for_port());

  auto open = next_event(*client, "open");
  INFO(open.text());
  REQUIRE(open.optional_string("extensions"));
  CHECK(open.string("extensions").rfind("permessage-deflate", 0) == 0);
  auto server_open = next_event(*server, "open");
  CHECK(server_open.string("path") == "/interop");
  CHECK(server_open.optional_string("extensions") == open.optional_string("extensions"));

  auto text = command(*client, R"({"op":"echo","type":"text","size":3000,"seed":1})");
  CHECK(text.boolean("ok"));
  CHECK(text.boolean("rsv1"));       // the server compressed its reply
  CHECK(text.boolean("sent_rsv1"));  // and the client its message

  auto binary =
      command(*client, R"({"op":"echo","type":"binary","size":200000,"seed":2,"fragments":4})");
  CHECK(binary.boolean("ok"));
  CHECK(binary.boolean("rsv1"));

  auto sent = command(*client, R"({"op":"send","data":"h\u00e9llo \u20ac \ud83d\ude00"})");
  CHECK(sent.boolean("ok"));
  auto got = command(*client, R"({"op":"recv"})");
  CHECK(got.string("type") == "text");
  CHECK(got.string("data") == "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(got.integer("crc32") == crc32_of("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));

  CHECK(command(*client, R"({"op":"send","hex":"00ff10"})").boolean("ok"));
  got = command(*client, R"({"op":"recv"})");
  CHECK(got.string("type") == "binary");
  CHECK(got.string("hex") == "00ff10");

  CHECK(command(*client, R"({"op":"ping","data":"are you there"})").boolean("ok"));

  auto closed = command(*client, R"({"op":"close","code":4001,"reason":"bye"})");
  CHECK(closed.boolean("ok"));
  CHECK(closed.integer("code") == 4001);  // the server echoes the close code
  CHECK(closed.string("reason") == "bye");

  // The server saw the same messages, compressed.
  auto m1 = next_event(*server, "message");
  CHECK(m1.string("type") == "text");
  CHECK(m1.integer("size") == 3000);
  CHECK(m1.boolean("rsv1"));
  auto m2 = next_event(*server, "message");
  CHECK(m2.string("type") == "binary");
  CHECK(m2.integer("size") == 200000);
  auto server_close = next_event(*server, "close");
  CHECK(server_close.integer("code") == 4001);
  CHECK(server_close.integer("messages") == 4);
  CHECK(server_close.integer("rsv1_frames_in") == 4);     // first frames only
  CHECK(server_close.integer("frames_in") >= 4 + 3 + 2);  // + continuations, ping, close

  client->close_stdin();
  CHECK(next_event(*client, "exit").integer("code") == 4001);
  CHECK(client->wait_exit().success());
  server->close_stdin();
  CHECK(next_event(*server, "exit").string("reason") == "stdin closed");
  CHECK(server->wait_exit().success());
}

TEST_CASE("interop peers: --compression none sends nothing compressed", "[interop]") {
  auto [client_peer, server_peer] =
      GENERATE(table<peer, peer>({{peer::python, peer::node}, {peer::node, peer::python}}));
  INFO(name_of(client_peer) << " client, " << name_of(server_peer) << " server");

  SECTION("the server refuses compression") {
    auto server = start_server(server_peer, {"--compression", "none"});
    auto client = start_client(client_peer, server->wait_for_port());
    auto open = next_event(*client, "open");
    CHECK(open.is_null("extensions"));
    auto echo = command(*client, R"({"op":"echo","type":"text","size":5000,"seed":3})");
    CHECK(echo.boolean("ok"));
    CHECK_FALSE(echo.boolean("rsv1"));
    CHECK_FALSE(echo.boolean("sent_rsv1"));
    CHECK_FALSE(next_event(*server, "message").boolean("rsv1"));
  }
  SECTION("the client does not offer it") {
    auto server = start_server(server_peer);
    auto client = start_client(client_peer, server->wait_for_port(), {"--compression", "none"});
    CHECK(next_event(*client, "open").is_null("extensions"));
    CHECK(next_event(*server, "open").is_null("offer"));
    auto echo = command(*client, R"({"op":"echo","type":"binary","size":5000,"seed":4})");
    CHECK(echo.boolean("ok"));
    CHECK_FALSE(echo.boolean("rsv1"));
  }
}

TEST_CASE("interop peers: deflate parameters reach the handshake", "[interop]") {
  auto [client_peer, server_peer] =
      GENERATE(table<peer, peer>({{peer::python, peer::node}, {peer::node, peer::python}}));
  INFO(name_of(client_peer) << " client, " << name_of(server_peer) << " server");
  auto server =
      start_server(server_peer, {"--server-no-context-takeover", "--client-no-context-takeover",
                                 "--server-max-window-bits", "10"});
  auto client =
      start_client(client_peer, server->wait_for_port(), {"--client-max-window-bits", "9"});
  auto offer = next_event(*server, "open");
  INFO(offer.text());
  CHECK(offer.string("offer").find("client_max_window_bits=9") != std::string::npos);
  auto open = next_event(*client, "open");
  const std::string& ext = open.string("extensions");
  INFO(ext);
  CHECK(ext.find("server_no_context_takeover") != std::string::npos);
  CHECK(ext.find("client_no_context_takeover") != std::string::npos);
  CHECK(ext.find("server_max_window_bits=10") != std::string::npos);
  // Several messages, so that context takeover (or its absence) matters.
  for (int seed = 1; seed <= 3; ++seed) {
    auto echo = command(
        *client, R"({"op":"echo","type":"text","size":20000,"seed":)" + std::to_string(seed) + "}");
    CHECK(echo.boolean("ok"));
    CHECK(echo.boolean("rsv1"));
  }
}

TEST_CASE("interop peers: subprotocol selection and the size limit", "[interop]") {
  auto [client_peer, server_peer] =
      GENERATE(table<peer, peer>({{peer::python, peer::node}, {peer::node, peer::python}}));
  INFO(name_of(client_peer) << " client, " << name_of(server_peer) << " server");
  // No tie in the priorities (superchat 0 + 1, chat 1 + 2): Python's websockets 10.4 breaks
  // ties by set order, which changes with string hash randomization.
  auto server =
      start_server(server_peer, {"--subprotocols", "other,superchat,chat", "--max-size", "1000"});
  auto client = start_client(client_peer, server->wait_for_port(),
                             {"--subprotocols", "superchat,chat", "--compression", "none"});
  CHECK(next_event(*client, "open").optional_string("subprotocol") == "superchat");
  CHECK(command(*client, R"({"op":"echo","type":"binary","size":1000,"seed":5})").boolean("ok"));
  auto too_big = command(*client, R"({"op":"echo","type":"binary","size":1001,"seed":6})");
  CHECK_FALSE(too_big.boolean("ok"));
  CHECK(too_big.integer("code") == 1009);  // message too big
}

TEST_CASE("interop peers: the Node peers' payloads are the C++ make_payload bytes", "[interop]") {
  auto server = start_server(peer::python);
  auto client = start_client(peer::node, server->wait_for_port());
  next_event(*client, "open");
  auto sent = command(*client, R"({"op":"send","type":"binary","size":4096,"seed":77})");
  CHECK(sent.integer("crc32") == crc32_of(make_payload(4096, 77)));
  sent = command(*client, R"({"op":"send","type":"text","size":999,"seed":78})");
  CHECK(sent.integer("crc32") == crc32_of(make_payload(999, 78, true)));
}

TEST_CASE("interop peers: servers stop on SIGTERM, closing connections with 1001", "[interop]") {
  auto server_peer = GENERATE(peer::python, peer::node);
  INFO(name_of(server_peer) << " server");
  auto server = start_server(server_peer);
  auto client = start_client(peer::python, server->wait_for_port());
  next_event(*client, "open");
  next_event(*server, "open");
  ::kill(server->pid(), SIGTERM);
  CHECK(next_event(*server, "close").integer("code") == 1001);
  CHECK(next_event(*server, "exit").string("reason") == "SIGTERM");
  CHECK(server->wait_exit().success());
  auto closed = command(*client, R"({"op":"wait_closed"})");
  CHECK(closed.integer("code") == 1001);
}
