// autobahn_client URL AGENT: runs every case of an Autobahn|Testsuite
// fuzzing server against this library's client.
//
// The fuzzing server speaks a small protocol over WebSocket connections:
//   URL/getCaseCount                      sends the number of cases, as text
//   URL/runCase?case=N&agent=AGENT        runs case N: the client echoes every
//                                         message, text or binary, until the
//                                         server closes the connection
//   URL/updateReports?agent=AGENT         writes the reports for AGENT
//
//   wstest -m fuzzingserver             (the Testsuite, on port 9001; then:)
//   ./autobahn_client ws://127.0.0.1:9001 websockets-cpp
//
// Many cases end with an error on purpose (invalid UTF-8, bad frames): the
// library closes those connections with the right code, and the client goes
// on with the next case. Exit status: 0 once the reports are updated, 1 when
// the fuzzing server can't be reached, 2 for a bad command line.
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <charconv>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <websockets/websockets.hpp>

namespace {

// `s` percent-encoded for a query string (RFC 3986 unreserved characters
// are kept as they are).
std::string query_escape(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[b >> 4];
      out += digits[b & 15];
    }
  }
  return out;
}

// The test cases send messages up to 16 MiB and expect no pings of ours.
websockets::client_options fuzzing_options() {
  websockets::client_options options;
  options.ping_interval = std::nullopt;
  options.max_size = std::size_t{64} << 20;
  return options;
}

// Echoes every message until the server closes the connection, however it
// closes it.
asio::awaitable<void> echo_case(std::string uri) {
  const auto options = fuzzing_options();
  auto ws = co_await websockets::connect(uri, options);
  try {
    while (auto message = co_await ws.next()) co_await ws.send(*message);
  } catch (const websockets::connection_closed&) {
    // An error the case provoked; the fuzzing server judges it.
  }
}

asio::awaitable<int> run_all(std::string base, std::string agent) {
  const auto options = fuzzing_options();
  const std::string who = "agent=" + query_escape(agent);

  int count = 0;
  {
    auto ws = co_await websockets::connect(base + "/getCaseCount", options);
    const auto reply = co_await ws.recv();
    const auto text = reply.text();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error != std::errc() || end != text.data() + text.size() || count < 0)
      throw std::runtime_error("getCaseCount answered \"" + std::string(text) +
                               "\", not a number of cases");
    co_await ws.close();
  }
  std::printf("%d cases\n", count);
  std::fflush(stdout);

  for (int n = 1; n <= count; ++n) {
    std::printf("case %d/%d\n", n, count);
    std::fflush(stdout);
    try {
      co_await echo_case(base + "/runCase?case=" + std::to_string(n) + "&" + who);
    } catch (const std::exception& e) {
      // A refused or failed handshake is one of the things a case may test.
      std::fprintf(stderr, "case %d: %s\n", n, e.what());
    }
  }

  auto ws = co_await websockets::connect(base + "/updateReports?" + who, options);
  co_await ws.wait_closed();
  std::printf("reports updated for %s\n", agent.c_str());
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fputs("usage: autobahn_client URL AGENT   (e.g. ws://127.0.0.1:9001 websockets-cpp)\n",
               stderr);
    return 2;
  }
  std::string base = argv[1];
  while (!base.empty() && base.back() == '/') base.pop_back();

  asio::io_context io(1);
  int status = 1;
  asio::co_spawn(io, run_all(base, argv[2]), [&](std::exception_ptr e, int result) {
    status = result;
    if (!e) return;
    status = 1;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      std::fprintf(stderr, "autobahn_client: %s\n", failure.what());
    }
  });
  io.run();
  return status;
}
