// Raw peers for the server and client tests: a TCP client that sends bytes
// and keeps everything the server answers, a one-shot TCP server that
// answers a request with given bytes, and a logger that records lines.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/http.hpp"
#include "websockets/options.hpp"

namespace websockets::test {

// A handshake request for `path` with the usual headers; `skip` names a
// header to leave out, `extra` is appended as it is ("Name: value\r\n"...).
inline std::string upgrade_request(std::string_view path = "/", std::string_view skip = {},
                                   std::string_view extra = {}) {
  std::string out = "GET " + std::string(path) + " HTTP/1.1\r\n";
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"Host", "localhost"},           {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
  };
  for (auto [name, value] : fields) {
    if (name == skip) continue;
    out += std::string(name) + ": " + std::string(value) + "\r\n";
  }
  out += extra;
  out += "\r\n";
  return out;
}

// Connects to `endpoint`, writes `request` (then half-closes with
// `half_close`), and returns all the bytes the server sends until it closes
// the connection (or resets it).
inline asio::awaitable<std::string> raw_exchange(asio::ip::tcp::endpoint endpoint,
                                                 std::string request, bool half_close = false) {
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(endpoint, asio::use_awaitable);
  std::error_code ec;
  if (!request.empty())
    co_await asio::async_write(socket, asio::buffer(request),
                               asio::redirect_error(asio::use_awaitable, ec));
  if (half_close) socket.shutdown(asio::socket_base::shutdown_send, ec);
  std::string received;
  char buffer[4096];
  for (;;) {
    std::size_t n = co_await socket.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    received.append(buffer, n);
    if (ec) break;
  }
  co_return received;
}

// The response in `bytes`, parsed with its body; status 0 when there is
// none.
inline http_response parse_response(std::string_view bytes) {
  http_response_parser parser;
  std::size_t used = 0;
  try {
    used = parser.feed(bytes);
    if (!parser.head_complete()) return {.status_code = 0};
    parser.feed_body(bytes.substr(used));
    parser.finish();
  } catch (const invalid_message&) {
    if (!parser.head_complete()) return {.status_code = 0};
  }
  return parser.message();
}

// Accepts one connection on `acceptor`, reads the request's head, writes
// what `answer(request)` returns, and returns the request as received.
// Closes right away with `close_after`, else once the peer does.
inline asio::awaitable<std::string> answer_once(
    asio::ip::tcp::acceptor& acceptor, std::function<std::string(const std::string&)> answer_for,
    bool close_after = true) {
  auto socket = co_await acceptor.async_accept(asio::use_awaitable);
  std::string request;
  std::error_code ec;
  co_await asio::async_read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n",
                                  asio::redirect_error(asio::use_awaitable, ec));
  std::string answer = answer_for ? answer_for(request) : std::string();
  if (!answer.empty())
    co_await asio::async_write(socket, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
  if (!close_after) {
    char sink[256];
    while (!ec)
      co_await socket.async_read_some(asio::buffer(sink),
                                      asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return request;
}

// Records the server's log lines.
class log_capture {
 public:
  logger_function logger() {
    return [this](log_level level, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(level, std::string(line));
    };
  }

  // The first line at `level` that contains every one of `parts`.
  std::optional<std::string> find(log_level level, std::initializer_list<std::string_view> parts) {
    std::lock_guard lock(mutex_);
    for (auto& [l, line] : lines_) {
      if (l != level) continue;
      bool all = true;
      for (auto p : parts) all = all && line.find(p) != std::string::npos;
      if (all) return line;
    }
    return std::nullopt;
  }

  std::size_t count(log_level level) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& entry : lines_) n += entry.first == level;
    return n;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<log_level, std::string>> lines_;
};

inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace websockets::test
