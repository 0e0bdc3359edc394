// client URI: an interactive WebSocket client, like `python -m websockets URI`.
//
// Each line typed (or piped in) goes out as a text message; each message
// that arrives is printed on stdout: text as it is, binary as hex (the
// first 64 bytes, then a summary). Everything else (connected, closed,
// errors) goes to stderr, so stdout holds only what the server sent.
// At end of input (Ctrl-D, or the end of a pipe) or on Ctrl-C the client
// closes the connection with 1000 and exits once the server has answered;
// a second Ctrl-C exits at once. As with Python's client, replies still on
// their way when the input ends are lost: a server sends nothing after the
// close frame. Exit status: 0 after a normal close, 1 when the connection
// failed or closed with an error code, 2 for a bad command line.
//
//   $ ./client ws://127.0.0.1:8765/
//   connected to ws://127.0.0.1:8765/
//   hello
//   hello
#include <fcntl.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <websockets/websockets.hpp>

namespace {

using websockets::client_connection;

// Reads stdin line by line without blocking the other coroutines: through
// the reactor for a terminal or a pipe; directly for a regular file or
// /dev/null, which epoll can't watch and which never make a read wait.
class line_reader {
 public:
  explicit line_reader(const asio::any_io_executor& ex) : stdin_(ex) {
    saved_flags_ = ::fcntl(STDIN_FILENO, F_GETFL);
    const int fd = ::dup(STDIN_FILENO);
    std::error_code ec;
    if (fd >= 0) stdin_.assign(fd, ec);
    if (ec) ::close(fd);
  }
  line_reader(const line_reader&) = delete;
  line_reader& operator=(const line_reader&) = delete;

  // Asio makes the descriptor non-blocking, and the terminal shares that
  // flag with the shell: give it back as it was.
  ~line_reader() {
    if (saved_flags_ >= 0) ::fcntl(STDIN_FILENO, F_SETFL, saved_flags_);
  }

  // The next line without its end of line; std::nullopt at the end of the
  // input or once stop() was called.
  asio::awaitable<std::optional<std::string>> next_line() {
    for (;;) {
      if (stopped_) co_return std::nullopt;
      if (const auto end = pending_.find('\n'); end != std::string::npos) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        co_return line;
      }
      if (at_end_) {
        if (pending_.empty()) co_return std::nullopt;
        co_return std::exchange(pending_, {});  // a last line without '\n'
      }
      char chunk[4096];
      std::size_t n = 0;
      if (stdin_.is_open()) {
        std::error_code ec;
        n = co_await stdin_.async_read_some(asio::buffer(chunk),
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec) at_end_ = true;  // end of file, an error, or stop()
      } else {
        const ssize_t r = ::read(STDIN_FILENO, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) at_end_ = true;
        n = r > 0 ? static_cast<std::size_t>(r) : 0;
      }
      pending_.append(chunk, n);
    }
  }

  // Ends the input: next_line() returns std::nullopt from now on.
  void stop() {
    stopped_ = true;
    std::error_code ec;
    stdin_.cancel(ec);
  }

 private:
  asio::posix::stream_descriptor stdin_;
  int saved_flags_ = -1;
  std::string pending_;
  bool at_end_ = false;
  bool stopped_ = false;
};

void write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);  // one message at a time, even into a pipe
}

// Text as it is; binary as "[binary, N bytes] hex" (at most 64 bytes shown).
void print_message(const websockets::message& m) {
  if (m.is_text()) {
    std::fwrite(m.text().data(), 1, m.size(), stdout);
    write_out("\n");
    return;
  }
  static constexpr char digits[] = "0123456789abcdef";
  static constexpr std::size_t shown = 64;
  std::string line = "[binary, " + std::to_string(m.size()) + " bytes]";
  if (!m.empty()) line += ' ';
  for (std::size_t i = 0; i < m.size() && i < shown; ++i) {
    const auto b = static_cast<unsigned char>(m.bytes()[i]);
    line += digits[b >> 4];
    line += digits[b & 15];
  }
  if (m.size() > shown) line += "...";
  line += '\n';
  write_out(line);
}

// Prints messages until the connection closes, then ends the input, so
// that a server closing first doesn't leave the client waiting for a line.
asio::awaitable<void> print_messages(client_connection& ws, line_reader& input) {
  try {
    while (auto m = co_await ws.next()) print_message(*m);
  } catch (const websockets::connection_closed&) {
    // How it closed is reported once everything is done.
  }
  input.stop();
}

// Sends each line as a text message (as binary if it isn't UTF-8, which a
// text message must be), then closes with 1000.
asio::awaitable<void> send_lines(client_connection& ws, line_reader& input) {
  while (auto line = co_await input.next_line()) {
    if (!ws.is_open()) break;
    try {
      if (websockets::is_valid_utf8(*line)) {
        co_await ws.send(*line);
      } else {
        std::fputs("(not UTF-8: sent as a binary message)\n", stderr);
        co_await ws.send(std::as_bytes(std::span(line->data(), line->size())));
      }
    } catch (const websockets::connection_closed&) {
      break;
    }
  }
  co_await ws.close(1000);
}

// Connects, then runs both directions until the connection is closed.
// Returns the exit status.
asio::awaitable<int> run_client(std::string uri, line_reader& input, bool& connected) {
  auto ws = co_await websockets::connect(uri);
  connected = true;
  std::fprintf(stderr, "connected to %s\n", uri.c_str());

  using namespace asio::experimental::awaitable_operators;
  co_await (print_messages(ws, input) && send_lines(ws, input));

  const auto code = ws.close_code().value_or(1006);
  const auto reason = ws.close_reason().value_or("");
  std::fprintf(stderr, "connection closed: %u%s%s\n", unsigned{code}, reason.empty() ? "" : " ",
               reason.c_str());
  co_return code == 1000 || code == 1001 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '-') {
    std::fputs("usage: client ws://HOST[:PORT]/PATH (or wss://)\n", stderr);
    return 2;
  }
  asio::io_context io(1);
  line_reader input(io.get_executor());
  bool connected = false;
  int status = 1;

  // Ctrl-C while connecting gives up; once connected, it ends the input as
  // Ctrl-D does, and a second one gives up on the closing handshake.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    if (!connected) return io.stop();
    input.stop();
    signals.async_wait([&](std::error_code ec2, int) {
      if (!ec2) io.stop();
    });
  });

  asio::co_spawn(io, run_client(argv[1], input, connected), [&](std::exception_ptr e, int result) {
    signals.cancel();
    status = result;
    if (!e) return;
    status = 1;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      std::fprintf(stderr, "client: %s\n", failure.what());
    }
  });
  io.run();
  return status;
}
