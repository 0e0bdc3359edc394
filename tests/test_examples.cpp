// The example programs, run as their users run them: echo_server, client,
// chat_server and autobahn_client, each a child process on 127.0.0.1,
// talked to through sockets, stdin and stdout.
#include <signal.h>

#include <fstream>
#include <map>
#include <regex>

#include "interop_harness.hpp"
#include "support/raw_peer.hpp"

using namespace interop;
using websockets::testing::make_payload;

namespace {

// A server example started as `program 127.0.0.1 0`, and the port it chose
// (from its first line, "listening on 127.0.0.1:PORT").
struct running_example {
  std::unique_ptr<child_process> process;
  std::uint16_t port = 0;

  std::string uri(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(port) + std::string(path);
  }

  // Stops it as Ctrl-C would (servers don't stop at end of stdin).
  websockets::testing::exit_status stop() const {
    process->signal(SIGINT);
    return process->wait_exit();
  }
};

running_example start_server_example(const std::string& program) {
  running_example e;
  e.process = std::make_unique<child_process>(program, std::vector<std::string>{"127.0.0.1", "0"});
  static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
  const auto m = e.process->expect_line(listening, 15s, "the listening line");
  e.port = static_cast<std::uint16_t>(std::stoul(m[1]));
  return e;
}

// Waits until `p` has written `text` to stderr; false after `timeout`.
bool wait_for_stderr(child_process& p, std::string_view text,
                     std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.stderr_text().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The next line of `p`'s stdout, which must be there.
std::string next_line(child_process& p, std::chrono::milliseconds timeout = 15s) {
  auto line = p.read_line(timeout);
  if (!line) throw std::runtime_error(p.failure("stdout ended"));
  return *line;
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// A port on 127.0.0.1 where nothing listens (it was free a moment ago).
std::uint16_t unused_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Answers one HTTP request on 127.0.0.1 with `response`, from a thread.
class one_shot_http_server {
 public:
  explicit one_shot_http_server(std::string response)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, response = std::move(response)] {
      std::error_code ec;
      auto socket = acceptor_.accept(ec);
      if (ec) return;
      std::string request;
      asio::read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n", ec);
      asio::write(socket, asio::buffer(response), ec);
      socket.shutdown(asio::socket_base::shutdown_both, ec);
    });
  }
  ~one_shot_http_server() {
    std::error_code ec;
    acceptor_.close(ec);  // unblocks accept() if nobody came
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

// ---- echo_server ---------------------------------------------------------------

TEST_CASE("echo_server echoes text, binary, large and compressed messages", "[examples]") {
  auto server = start_server_example(ECHO_SERVER_PATH);

  std::optional<std::string> extensions;
  std::vector<bool> same;
  run_client([&]() -> asio::awaitable<void> {
    const auto options = client_options_for_tests();
    auto ws = co_await websockets::connect(server.uri(), options);
    extensions = extensions_header(ws);
    const std::string text = "h\xC3\xA9llo, w\xC3\xB6rld";
    const std::string binary("\x00\x01\xfe\xff", 4);
    const std::string large_text = make_payload(5 << 20, 1, true);
    // Over 16 MiB: the server's max_size is 64 MiB, not the default 1 MiB.
    const std::string large_binary = make_payload(20 << 20, 2, false);
    co_await ws.send(text);
    auto reply = co_await ws.recv();
    same.push_back(reply.is_text() && reply.text() == text);
    co_await ws.send(bytes_of(binary));
    reply = co_await ws.recv();
    same.push_back(reply.is_binary() && reply.data() == binary);
    co_await ws.send(std::string_view());
    reply = co_await ws.recv();
    same.push_back(reply.is_text() && reply.empty());
    co_await ws.send(large_text);
    reply = co_await ws.recv();
    same.push_back(reply.is_text() && reply.text() == large_text);
    co_await ws.send(bytes_of(large_binary));
    reply = co_await ws.recv();
    same.push_back(reply.is_binary() && reply.data() == large_binary);
    co_await ws.close();
  });
  CHECK(same == std::vector<bool>(5, true));
  CHECK(extensions == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");

  // The peer's tap shows the frames really were compressed, both ways.
  auto client = start_peer_client(peer_kind::python, server.uri("/compressed"));
  next_event(*client, "open");
  for (std::uint32_t seed = 1; seed <= 2; ++seed) {
    const auto echo = command(*client, echo_command("text", 10000, seed));
    CHECK(echo.boolean("ok"));
    CHECK(echo.boolean("sent_rsv1"));
    CHECK(echo.boolean("rsv1"));
  }
  CHECK(finish_client(*client).integer("code") == 1000);

  server.process->signal(SIGTERM);
  const auto status = server.process->wait_exit();
  CHECK(status.success());
  // Nothing printed per message (stdout ends after the first line), and
  // nothing to complain about.
  CHECK_FALSE(server.process->read_line());
  CHECK(server.process->stderr_text().empty());
}

TEST_CASE("echo_server closes open connections with 1001 on SIGINT and exits 0", "[examples]") {
  auto server = start_server_example(ECHO_SERVER_PATH);
  std::optional<std::uint16_t> code;
  bool ended = false;
  run_client([&]() -> asio::awaitable<void> {
    const auto options = client_options_for_tests();
    auto ws = co_await websockets::connect(server.uri(), options);
    co_await ws.send("before the signal");
    (void)co_await ws.recv();
    server.process->signal(SIGINT);
    ended = !(co_await ws.next());
    code = ws.close_code();
  });
  CHECK(ended);
  CHECK(code == 1001);
  CHECK(server.process->wait_exit().success());
}

TEST_CASE("echo_server: a bad command line gets the usage and status 2", "[examples]") {
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"127.0.0.1"},
                           std::vector<std::string>{"127.0.0.1", "http"},
                           std::vector<std::string>{"127.0.0.1", "70000"}}) {
    child_process p(ECHO_SERVER_PATH, args, {.echo_stderr = false});
    CHECK(p.wait_exit().code == 2);
    CHECK(wait_for_stderr(p, "usage: echo_server HOST PORT"));
  }
  // A port it can't bind: status 1 and the reason.
  auto first = start_server_example(ECHO_SERVER_PATH);
  child_process second(ECHO_SERVER_PATH, {"127.0.0.1", std::to_string(first.port)},
                       {.echo_stderr = false});
  CHECK(second.wait_exit().code == 1);
  CHECK(wait_for_stderr(second, "can't listen on 127.0.0.1:" + std::to_string(first.port)));
  CHECK(first.stop().success());
}

// ---- client --------------------------------------------------------------------

TEST_CASE("client sends the lines of stdin and prints what comes back", "[examples]") {
  auto server = start_server_example(ECHO_SERVER_PATH);
  child_process client(CLIENT_PATH, {server.uri()});
  REQUIRE(wait_for_stderr(client, "connected to " + server.uri()));

  client.write_line("hello");
  CHECK(next_line(client) == "hello");
  client.write_line("h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC");
  CHECK(next_line(client) == "h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC");
  client.write("crlf line\r\n");
  CHECK(next_line(client) == "crlf line");
  client.write_line("");
  CHECK(next_line(client) == "");
  // Not UTF-8: sent as binary, which comes back and is shown as hex.
  client.write_line("bad\xff");
  CHECK(next_line(client) == "[binary, 4 bytes] 626164ff");
  // A long one: its first 64 bytes, then "...".
  client.write_line("\x80" + std::string(99, 'x'));
  std::string shown = "80";
  for (int i = 1; i < 64; ++i) shown += "78";
  CHECK(next_line(client) == "[binary, 100 bytes] " + shown + "...");

  SECTION("end of input closes with 1000") {
    client.close_stdin();
    CHECK(client.wait_exit().success());
    CHECK(wait_for_stderr(client, "connection closed: 1000"));
  }
  SECTION("Ctrl-C closes with 1000") {
    client.signal(SIGINT);
    CHECK(client.wait_exit().success());
    CHECK(wait_for_stderr(client, "connection closed: 1000"));
  }
  SECTION("a server that goes away ends the client, stdin open or not") {
    server.process->signal(SIGTERM);
    CHECK(client.wait_exit().success());
    CHECK(wait_for_stderr(client, "connection closed: 1001"));
    CHECK(server.process->wait_exit().success());
  }
  CHECK(client.unread_lines().empty());
  CHECK(server.stop().success());
}

TEST_CASE("client reports what went wrong when it can't connect", "[examples]") {
  struct failure {
    std::string uri;
    std::string message;
  };
  one_shot_http_server refusing(
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  const auto closed_port = unused_port();
  const failure failures[] = {
      {"http://127.0.0.1/", "isn't a valid URI"},
      {"ws://127.0.0.1:" + std::to_string(closed_port) + "/",
       "can't connect to 127.0.0.1:" + std::to_string(closed_port)},
      {"ws://127.0.0.1:" + std::to_string(refusing.port()) + "/", "HTTP 403"},
  };
  for (const auto& f : failures) {
    INFO(f.uri);
    child_process client(CLIENT_PATH, {f.uri}, {.echo_stderr = false});
    CHECK(client.wait_exit().code == 1);
    CHECK(wait_for_stderr(client, f.message));
    const auto err = client.stderr_text();
    INFO(err);
    CHECK(err.rfind("client: ", 0) == 0);
  }
  child_process usage(CLIENT_PATH, {}, {.echo_stderr = false});
  CHECK(usage.wait_exit().code == 2);
  CHECK(wait_for_stderr(usage, "usage: client"));
}

// ---- chat_server -------------------------------------------------------------

TEST_CASE("chat_server serves its page on GET / and 404 elsewhere", "[examples]") {
  auto server = start_server_example(CHAT_SERVER_PATH);
  std::string page, missing;
  run_client([&]() -> asio::awaitable<void> {
    const asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), server.port);
    page = co_await websockets::test::raw_exchange(
        at, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n");
    missing = co_await websockets::test::raw_exchange(
        at, "GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  });
  CHECK(page.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(page.find("\r\nContent-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  const auto body_at = page.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  const auto body = page.substr(body_at + 4);
  CHECK(page.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") !=
        std::string::npos);
  CHECK(body.rfind("<!doctype html>", 0) == 0);
  CHECK(body.find("<title>websockets chat</title>") != std::string::npos);
  CHECK(body.find("new WebSocket(url)") != std::string::npos);
  CHECK(missing.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(server.stop().success());
}

TEST_CASE("chat_server broadcasts each message to everyone connected", "[examples]") {
  auto server = start_server_example(CHAT_SERVER_PATH);
  std::vector<std::string> a_got, b_got, c_got;
  std::optional<std::uint16_t> c_code, b_code;
  run_client([&]() -> asio::awaitable<void> {
    const auto options = client_options_for_tests();
    auto recv_text = [](websockets::client_connection& ws) -> asio::awaitable<std::string> {
      auto m = co_await ws.recv();
      co_return std::string(m.text());
    };
    auto a = co_await websockets::connect(server.uri(), options);
    a_got.push_back(co_await recv_text(a));
    auto b = co_await websockets::connect(server.uri(), options);
    b_got.push_back(co_await recv_text(b));
    a_got.push_back(co_await recv_text(a));
    auto c = co_await websockets::connect(server.uri(), options);
    c_got.push_back(co_await recv_text(c));
    a_got.push_back(co_await recv_text(a));
    b_got.push_back(co_await recv_text(b));

    co_await a.send("hello, everyone");
    for (auto* ws : {&a, &b, &c}) {
      auto& got = ws == &a ? a_got : ws == &b ? b_got : c_got;
      got.push_back(co_await recv_text(*ws));
    }
    co_await b.send("/name Bob \"the builder\"");
    for (auto* ws : {&a, &b, &c}) {
      auto& got = ws == &a ? a_got : ws == &b ? b_got : c_got;
      got.push_back(co_await recv_text(*ws));
    }
    co_await c.send("quotes \" backslash \\ newline \n tab \t end");
    for (auto* ws : {&a, &b, &c}) {
      auto& got = ws == &a ? a_got : ws == &b ? b_got : c_got;
      got.push_back(co_await recv_text(*ws));
    }
    co_await c.send("/name guest-1");  // taken
    c_got.push_back(co_await recv_text(c));
    // Binary isn't chat: that client is closed, the others see it leave.
    co_await c.send(bytes_of("\x01\x02"));
    try {
      while (co_await c.next()) {
      }
    } catch (const websockets::connection_closed&) {
    }
    c_code = c.close_code();
    a_got.push_back(co_await recv_text(a));
    co_await a.close();
    b_got.push_back(co_await recv_text(b));
    b_got.push_back(co_await recv_text(b));
    // The server stops: the last one is told it goes away.
    server.process->signal(SIGTERM);
    const bool ended = !(co_await b.next());
    CHECK(ended);
    b_code = b.close_code();
  });

  CHECK(
      a_got ==
      std::vector<std::string>{
          R"({"type":"welcome","name":"guest-1","users":["guest-1"]})",
          R"({"type":"join","name":"guest-2"})",
          R"({"type":"join","name":"guest-3"})",
          R"({"type":"message","from":"guest-1","text":"hello, everyone"})",
          R"({"type":"rename","from":"guest-2","name":"Bob \"the builder\""})",
          R"({"type":"message","from":"guest-3","text":"quotes \" backslash \\ newline \n tab \t end"})",
          R"({"type":"leave","name":"guest-3"})",
      });
  CHECK(
      b_got ==
      std::vector<std::string>{
          R"({"type":"welcome","name":"guest-2","users":["guest-1","guest-2"]})",
          R"({"type":"join","name":"guest-3"})",
          R"({"type":"message","from":"guest-1","text":"hello, everyone"})",
          R"({"type":"rename","from":"guest-2","name":"Bob \"the builder\""})",
          R"({"type":"message","from":"guest-3","text":"quotes \" backslash \\ newline \n tab \t end"})",
          R"({"type":"leave","name":"guest-3"})",
          R"({"type":"leave","name":"guest-1"})",
      });
  CHECK(
      c_got ==
      std::vector<std::string>{
          R"({"type":"welcome","name":"guest-3","users":["guest-1","guest-2","guest-3"]})",
          R"({"type":"message","from":"guest-1","text":"hello, everyone"})",
          R"({"type":"rename","from":"guest-2","name":"Bob \"the builder\""})",
          R"({"type":"message","from":"guest-3","text":"quotes \" backslash \\ newline \n tab \t end"})",
          R"({"type":"error","text":"guest-1 is taken"})",
      });
  CHECK(c_code == 1003);
  CHECK(b_code == 1001);
  CHECK(server.process->wait_exit().success());
}

// A client that stops reading can't hold up the others, nor make the server
// buffer without bound: once max_backlog (256) events wait for it, it is
// closed with 1008.
TEST_CASE("chat_server drops a client that can't keep up", "[examples]") {
  auto server = start_server_example(CHAT_SERVER_PATH);
  // Enough to fill every buffer on the way to the idle client (the kernel's:
  // the server's send buffer at its largest, the client's receive buffer,
  // capped below; the library's) and then the 256 events.
  auto sysctl_value = [](const char* path, int index) {
    std::ifstream in(path);
    long values[3] = {};
    in >> values[0] >> values[1] >> values[2];
    return values[index] > 0 ? static_cast<std::size_t>(values[index]) : std::size_t{8} << 20;
  };
  const std::size_t receive_buffer = 64 * 1024;
  const std::size_t buffers =
      sysctl_value("/proc/sys/net/ipv4/tcp_wmem", 2) +
      2 * std::max(receive_buffer, sysctl_value("/proc/sys/net/ipv4/tcp_rmem", 1)) + (2 << 20);
  const std::size_t message_size = 16000;
  const std::size_t count = 256 + buffers / message_size + 100;
  INFO(count << " messages of " << message_size << " bytes");

  std::size_t fast_got = 0, slow_got = 0;
  std::string fast_error;
  std::optional<std::uint16_t> slow_code;
  run_client(
      [&]() -> asio::awaitable<void> {
        auto options = client_options_for_tests();
        options.compression = websockets::compression::none;  // bytes on the wire = bytes sent
        options.max_queue = 4;
        auto slow = co_await websockets::connect(server.uri(), options);
        // A fixed receive buffer: the kernel's autotuning could grow it to
        // tens of megabytes.
        slow.next_layer().tcp()->set_option(
            asio::socket_base::receive_buffer_size(static_cast<int>(receive_buffer)));
        auto fast = co_await websockets::connect(server.uri(), options);
        const std::string line = make_payload(message_size, 3, true);
        // The fast client sends each line and reads it back, in step (a
        // client that sends faster than it reads falls behind too), while
        // the slow one reads nothing.
        try {
          for (std::size_t i = 0; i < count; ++i) {
            co_await fast.send(line);
            while ((co_await fast.recv()).size() <= message_size) {
              // the welcome, not a line
            }
            ++fast_got;
          }
        } catch (const std::exception& e) {
          fast_error = e.what();
        }
        // Now the slow one reads what was kept for it, then the close.
        try {
          while (co_await slow.next()) ++slow_got;
        } catch (const websockets::connection_closed&) {
        }
        slow_code = slow.close_code();
        co_await fast.close();
      },
      180s);
  CHECK(fast_error == "");
  CHECK(fast_got == count);
  // 1008 when the close frame reached it; 1006 if the fast client took so
  // long that the server gave up waiting for the close (close_timeout).
  CAPTURE(slow_code);
  CHECK((slow_code == 1008 || slow_code == 1006));
  CHECK(slow_got < count);
  server.process->signal(SIGTERM);
  CHECK(server.process->wait_exit().success());
}

// ---- autobahn_client ---------------------------------------------------------

namespace {

// A stand-in for the Autobahn|Testsuite fuzzing server, on Python's
// websockets: the same three endpoints, with three cases of its own. It
// prints "PORT <n>", then one JSON line per endpoint served.
constexpr const char* fake_fuzzing_server = R"py(
import asyncio, json, os, threading, urllib.parse
import websockets
from websockets.frames import Opcode

CASES = 3

def emit(**fields):
    print(json.dumps(fields), flush=True)

async def run_case(ws, case):
    if case == 1:  # text and binary come back with their types
        await ws.send("Hello, w\u00f6rld")
        await ws.send(bytes(range(256)))
        return [await ws.recv(), await ws.recv()] == ["Hello, w\u00f6rld", bytes(range(256))]
    if case == 2:  # a fragmented message, a large compressed one, a ping
        big = b"autobahn " * 200000
        await ws.send(["frag", "mented ", "text"])
        await ws.send(big)
        pong = await ws.ping(b"case 2")
        echoes = [await ws.recv(), await ws.recv()]
        await asyncio.wait_for(pong, 10)
        return echoes == ["fragmented text", big]
    # case 3: invalid UTF-8 in a text message; the client must fail with 1007
    await ws.write_frame(True, Opcode.TEXT, b"\xff\xfe")
    await asyncio.wait_for(ws.wait_closed(), 10)
    return ws.close_code == 1007

async def handler(ws):
    url = urllib.parse.urlsplit(ws.path)
    query = urllib.parse.parse_qs(url.query)
    agent = query.get("agent", [None])[0]
    if url.path == "/getCaseCount":
        await ws.send(str(CASES))
        emit(event="count")
    elif url.path == "/runCase":
        case = int(query["case"][0])
        try:
            ok = await run_case(ws, case)
        except Exception as exc:
            ok = repr(exc)
        await ws.close()
        emit(event="case", case=case, agent=agent, ok=ok, code=ws.close_code)
    elif url.path == "/updateReports":
        emit(event="report", agent=agent)
    else:
        emit(event="unknown", path=ws.path)

async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    def watch_stdin():
        while os.read(0, 4096):
            pass
        loop.call_soon_threadsafe(stop.set_result, None)
    threading.Thread(target=watch_stdin, daemon=True).start()
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        await stop

asyncio.run(main())
)py";

}  // namespace

TEST_CASE("autobahn_client runs every case of a fuzzing server, then the reports", "[examples]") {
  child_process fuzzing(websockets::testing::python3(), {"-u", "-c", fake_fuzzing_server});
  const auto port = fuzzing.wait_for_port();
  const std::string agent = "websockets-cpp test/1 \xC3\xBC&=";
  child_process client(AUTOBAHN_CLIENT_PATH,
                       {"ws://127.0.0.1:" + std::to_string(port) + "/", agent});
  CHECK(client.wait_exit(60s).success());
  CHECK(next_line(client) == "3 cases");
  CHECK(next_line(client) == "case 1/3");
  CHECK(next_line(client) == "case 2/3");
  CHECK(next_line(client) == "case 3/3");
  CHECK(next_line(client) == "reports updated for " + agent);

  // One line per connection; connections may end in any order.
  std::map<std::string, std::vector<json_object>> events;
  for (int i = 0; i < 5; ++i) {
    auto e = next_json(fuzzing);
    events[e.string("event")].push_back(std::move(e));
  }
  CHECK(events["count"].size() == 1);
  REQUIRE(events["case"].size() == 3);
  for (int n = 1; n <= 3; ++n) {
    const auto& c = events["case"][static_cast<std::size_t>(n - 1)];
    INFO(c.text());
    CHECK(c.integer("case") == n);
    CHECK(c.string("agent") == agent);
    CHECK(c.type("ok") == json_object::kind::boolean);
    CHECK(c.boolean("ok"));
    CHECK(c.integer("code") == (n == 3 ? 1007 : 1000));
  }
  REQUIRE(events["report"].size() == 1);
  CHECK(events["report"][0].string("agent") == agent);
}
