// The interop scenarios, run against each peer by test_interop_python.cpp
// and test_interop_node.cpp: our server with the peer's client, our client
// with the peer's server, and permessage-deflate negotiated every way the
// peer can offer or accept it, in both roles.
#pragma once

#include "interop_harness.hpp"

namespace interop {

// ---- Our server, the peer's client ------------------------------------------

// Text and binary messages of every size in message_sizes (and one of
// huge_size without compression), echoed by our server.
inline void our_server_echoes_every_size(peer_kind p, bool compressed) {
  our_server server;
  std::vector<std::string> args{"--max-size", "0"};
  if (!compressed) args.insert(args.end(), {"--compression", "none"});
  auto client = start_peer_client(p, server.uri("/sizes"), args);
  const auto open = next_event(*client, "open");
  if (compressed) {
    CHECK(open.optional_string("extensions") ==
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
  } else {
    CHECK(open.is_null("extensions"));
  }

  std::vector<std::pair<websockets::opcode, std::size_t>> sent;
  std::uint32_t seed = 1;
  for (const auto type : {websockets::opcode::text, websockets::opcode::binary}) {
    for (const auto size : message_sizes) {
      const bool text = type == websockets::opcode::text;
      INFO((text ? "text, " : "binary, ") << size << " bytes");
      const auto echo = command(*client, echo_command(text ? "text" : "binary", size, seed++));
      CHECK(echo.boolean("ok"));
      CHECK(echo.integer("size") == static_cast<std::int64_t>(size));
      sent.emplace_back(type, size);
    }
  }
  if (!compressed) {
    const auto echo = command(*client, echo_command("binary", huge_size, seed++), 120s);
    CHECK(echo.boolean("ok"));
    sent.emplace_back(websockets::opcode::binary, huge_size);
  }

  const auto exit = finish_client(*client);
  if (!compressed) {
    CHECK(exit.integer("rsv1_frames_in") == 0);
    CHECK(exit.integer("rsv1_frames_out") == 0);
  }
  const auto record = server.next_closed();
  CHECK(record.error.empty());
  CHECK(record.close_code == 1000);
  REQUIRE(record.messages.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CHECK(record.messages[i].type == sent[i].first);
    CHECK(record.messages[i].size == sent[i].second);
  }
}

// Fragmented messages from the peer, a fragmented message from us, pings
// both ways, and a close started by either side, with code and reason.
inline void our_server_fragments_pings_and_closes(peer_kind p) {
  our_server server;
  {
    auto client = start_peer_client(p, server.uri("/peer-closes"));
    next_event(*client, "open");
    auto reply = command(*client, echo_command("text", 100000, 1, 7));
    CHECK(reply.boolean("ok"));
    CHECK(reply.boolean("sent_rsv1"));
    reply = command(*client, echo_command("binary", 70000, 2, 3));
    CHECK(reply.boolean("ok"));

    CHECK(command(*client, R"({"op":"send","data":"!fragments 5 50000 9"})").boolean("ok"));
    reply = command(*client, R"({"op":"recv"})");
    CHECK(reply.string("type") == "text");
    CHECK(reply.integer("size") == 50000);
    CHECK(reply.integer("crc32") ==
          websockets::testing::crc32_of(websockets::testing::make_payload(50000, 9, true)));
    CHECK(reply.boolean("rsv1"));  // compressed, RSV1 on the first of the 5 frames

    CHECK(command(*client, R"({"op":"ping","data":"from the peer"})").boolean("ok"));
    CHECK(command(*client, R"({"op":"send","data":"!ping from our server"})").boolean("ok"));
    reply = command(*client, R"({"op":"recv"})");
    CHECK(reply.string("data") == "pong from our server");  // our ping got its pong

    reply = command(*client, R"({"op":"close","code":4001,"reason":"the peer says bye"})");
    CHECK(reply.boolean("ok"));
    CHECK(reply.integer("code") == 4001);  // our server echoed the close frame
    CHECK(reply.string("reason") == "the peer says bye");
    const auto exit = finish_client(*client);
    // Ours: 2 echoes, 5 fragments, a ping, a pong, "pong ...", the close.
    CHECK(exit.integer("frames_in") == 11);

    const auto record = server.next_closed();
    CHECK(record.path == "/peer-closes");
    CHECK(record.error.empty());
    CHECK(record.close_code == 4001);
    CHECK(record.close_reason == "the peer says bye");
    REQUIRE(record.messages.size() == 4);
    CHECK(record.messages[0].size == 100000);
    CHECK(record.messages[1].type == websockets::opcode::binary);
    CHECK(record.messages[1].size == 70000);
  }
  {
    auto client = start_peer_client(p, server.uri("/server-closes"));
    next_event(*client, "open");
    CHECK(command(*client, R"({"op":"send","data":"!close 4002 our server says bye"})")
              .boolean("ok"));
    const auto closed = command(*client, R"({"op":"wait_closed"})");
    CHECK(closed.boolean("ok"));
    CHECK(closed.integer("code") == 4002);
    CHECK(closed.string("reason") == "our server says bye");
    finish_client(*client);
    const auto record = server.next_closed();
    CHECK(record.path == "/server-closes");
    CHECK(record.close_code == 4002);  // the peer echoed ours
    CHECK(record.close_reason == "our server says bye");
  }
}

// ---- Our client, the peer's server ------------------------------------------

inline std::string uri_of(child_process& server, std::string_view path) {
  return "ws://127.0.0.1:" + std::to_string(server.wait_for_port()) + std::string(path);
}

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Our client sends text and binary messages of every size (and one of
// huge_size without compression) and checks each echo, byte for byte.
inline void our_client_echoes_every_size(peer_kind p, bool compressed) {
  std::vector<std::string> args{"--max-size", "0"};
  if (!compressed) args.insert(args.end(), {"--compression", "none"});
  auto server = start_peer_server(p, args);
  const auto uri = uri_of(*server, "/sizes");

  struct sent_message {
    bool text;
    std::size_t size;
    std::uint32_t crc32;
  };
  std::vector<sent_message> sent;
  std::optional<std::string> extensions;
  std::optional<std::uint16_t> close_code;
  run_client([&]() -> asio::awaitable<void> {
    auto options = client_options_for_tests();
    if (!compressed) options.compression = websockets::compression::none;
    auto ws = co_await websockets::connect(uri, options);
    extensions = extensions_header(ws);
    std::uint32_t seed = 1;
    auto exchange = [&](bool text, std::size_t size) -> asio::awaitable<void> {
      const std::string payload = websockets::testing::make_payload(size, seed++, text);
      if (text) {
        co_await ws.send(payload);
      } else {
        co_await ws.send(bytes_of(payload));
      }
      const auto reply = co_await ws.recv();
      INFO((text ? "text, " : "binary, ") << size << " bytes");
      CHECK(reply.is_text() == text);
      CHECK(reply.size() == size);
      CHECK(reply.data() == payload);
      sent.push_back({text, size, websockets::testing::crc32_of(payload)});
    };
    for (const bool text : {true, false}) {
      for (const auto size : message_sizes) co_await exchange(text, size);
    }
    if (!compressed) co_await exchange(false, huge_size);
    co_await ws.close();
    close_code = ws.close_code();
  });

  if (compressed) {
    CHECK(extensions);
  } else {
    CHECK_FALSE(extensions);
  }
  CHECK(close_code == 1000);
  const auto open = next_event(*server, "open");
  CHECK(open.string("path") == "/sizes");
  CHECK(open.optional_string("extensions") == extensions);
  for (const auto& m : sent) {
    const auto got = next_event(*server, "message");
    INFO(got.text());
    CHECK(got.string("type") == (m.text ? "text" : "binary"));
    CHECK(got.integer("size") == static_cast<std::int64_t>(m.size));
    CHECK(got.integer("crc32") == m.crc32);
    if (!compressed) CHECK_FALSE(got.boolean("rsv1"));
  }
  const auto closed = next_event(*server, "close");
  CHECK(closed.integer("code") == 1000);
}

// A fragmented message and a ping from our client, a close with a code and
// reason from each side.
inline void our_client_fragments_pings_and_closes(peer_kind p) {
  auto server = start_peer_server(p);
  const auto uri = uri_of(*server, "/client-closes");

  std::string text_echo, binary_echo;
  std::optional<std::uint16_t> code, second_code;
  std::optional<std::string> reason;
  bool pong = false;
  const std::string binary_parts[] = {std::string(3000, 'a'), std::string("\x00\x01\x02", 3),
                                      std::string(5000, 'z')};
  run_client([&]() -> asio::awaitable<void> {
    const auto options = client_options_for_tests();
    auto ws = co_await websockets::connect(uri, options);
    const std::vector<std::string> parts = {"frag", "mented ", "text ", std::string(4000, 'x')};
    co_await ws.send_fragments(parts);
    text_echo = std::string((co_await ws.recv()).text());
    std::vector<std::span<const std::byte>> binary;
    for (const auto& part : binary_parts) binary.push_back(bytes_of(part));
    co_await ws.send_fragments(binary);
    binary_echo = (co_await ws.recv()).data();

    auto waiter = co_await ws.ping("from our client");
    co_await waiter.wait();
    pong = true;

    co_await ws.close(4003, "our client says bye");
    code = ws.close_code();
    reason = ws.close_reason();

    // The peer's server closes its connections with 1001 when it stops.
    auto second = co_await websockets::connect(uri, options);
    server->close_stdin();
    const auto m = co_await second.next();
    CHECK_FALSE(m);
    second_code = second.close_code();
  });

  CHECK(text_echo == "fragmented text " + std::string(4000, 'x'));
  CHECK(binary_echo == binary_parts[0] + binary_parts[1] + binary_parts[2]);
  CHECK(pong);
  CHECK(code == 4003);  // the peer echoed our close frame
  CHECK(reason == "our client says bye");
  CHECK(second_code == 1001);

  next_event(*server, "open");
  auto got = next_event(*server, "message");
  CHECK(got.string("type") == "text");
  CHECK(got.integer("size") == 4016);
  CHECK(got.boolean("rsv1"));  // our fragments went compressed
  got = next_event(*server, "message");
  CHECK(got.string("type") == "binary");
  CHECK(got.integer("size") == 8003);
  const auto closed = next_event(*server, "close");
  CHECK(closed.integer("code") == 4003);
  CHECK(closed.string("reason") == "our client says bye");
  // Ours: 4 + 3 fragments, the ping, the close.
  CHECK(closed.integer("frames_in") == 9);
  CHECK(closed.integer("rsv1_frames_in") == 2);  // the first frame of each message
  CHECK(next_event(*server, "close").integer("code") == 1001);
  CHECK(server->wait_exit().success());
}

// ---- permessage-deflate ------------------------------------------------------

// The peer's client offers `peer_args`; our server, configured with `ours`,
// answers `header` and runs with `deflate`.
struct peer_offer_case {
  std::string name;
  std::vector<std::string> peer_args;
  websockets::server_deflate_options ours;
  std::string header;
  expected_deflate deflate;
};

// Our server's options that accept what a client offers as it is.
inline websockets::server_deflate_options accepting_server() {
  websockets::server_deflate_options o;
  o.server_max_window_bits = std::nullopt;
  o.client_max_window_bits = std::nullopt;
  return o;
}

inline void peer_client_offers(peer_kind p, const std::vector<peer_offer_case>& cases) {
  for (const auto& c : cases) {
    INFO(name_of(p) << " client, " << c.name);
    auto options = server_options_for_tests();
    options.extensions = {std::make_shared<websockets::server_permessage_deflate>(c.ours)};
    our_server server(options);
    auto client = start_peer_client(p, server.uri("/deflate"), c.peer_args);
    const auto open = next_event(*client, "open");
    INFO(open.text());
    CHECK(open.optional_string("extensions") == c.header);
    for (int i = 0; i < deflate_rounds; ++i) {
      const auto echo = command(*client, echo_command("text", deflate_message_size, 100 + i));
      CHECK(echo.boolean("ok"));
      CHECK(echo.boolean("sent_rsv1"));  // the peer compressed its message
      CHECK(echo.boolean("rsv1"));       // and our server its echo
    }
    const auto exit = finish_client(*client);
    CHECK(exit.integer("rsv1_frames_in") == deflate_rounds);
    CHECK(exit.integer("rsv1_frames_out") == deflate_rounds);
    const auto record = server.next_closed();
    CHECK(record.error.empty());
    CHECK(record.close_code == 1000);
    CHECK(record.extensions == c.header);
    check_deflate(record.deflate, c.deflate);
  }
}

// Our client offers `ours`; the peer's server answers `header`, and our
// client runs with `deflate`.
struct our_offer_case {
  std::string name;
  websockets::client_deflate_options ours;
  std::string header;
  expected_deflate deflate;
};

inline std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Runs every case against one server of the peer's, started with
// `server_args`.
inline void our_client_offers(peer_kind p, const std::vector<std::string>& server_args,
                              const std::vector<our_offer_case>& cases) {
  INFO(name_of(p) << " server started with \"" << joined(server_args) << '"');
  auto server = start_peer_server(p, server_args);
  const auto uri = uri_of(*server, "/deflate");
  for (const auto& c : cases) {
    INFO("our client offering " << c.name);
    std::optional<std::string> header;
    std::optional<websockets::deflate_settings> settings;
    std::vector<bool> same;
    run_client([&]() -> asio::awaitable<void> {
      auto options = client_options_for_tests();
      options.extensions = {std::make_shared<websockets::client_permessage_deflate>(c.ours)};
      auto ws = co_await websockets::connect(uri, options);
      header = extensions_header(ws);
      settings = deflate_of(ws);
      for (int i = 0; i < deflate_rounds; ++i) {
        const auto payload = websockets::testing::make_payload(deflate_message_size, 100 + i, true);
        co_await ws.send(payload);
        const auto reply = co_await ws.recv();
        same.push_back(reply.is_text() && reply.text() == payload);
      }
      co_await ws.close();
    });
    CHECK(header == c.header);
    check_deflate(settings, c.deflate);
    CHECK(same == std::vector<bool>(deflate_rounds, true));
    const auto open = next_event(*server, "open");
    CHECK(open.optional_string("extensions") == c.header);
    for (int i = 0; i < deflate_rounds; ++i) CHECK(next_event(*server, "message").boolean("rsv1"));
    const auto closed = next_event(*server, "close");
    CHECK(closed.integer("code") == 1000);
    CHECK(closed.integer("rsv1_frames_in") == deflate_rounds);   // ours, compressed
    CHECK(closed.integer("rsv1_frames_out") == deflate_rounds);  // the peer's echoes
  }
}

}  // namespace interop
