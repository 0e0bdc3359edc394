// Heap bytes per open idle connection on our server, measured in process:
// the server runs serve() on one thread; the main thread opens N plain TCP
// connections, does the opening handshake on each with blocking sockets,
// and reads the allocator's in-use bytes (mallinfo2) before and after.
// Kernel socket buffers aren't counted: they are not heap.
//
//   bench_memory_idle [--connections N] [--deflate] [--echo]
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "websockets/websockets.hpp"

namespace {

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) throw std::runtime_error("write failed");
    done += static_cast<std::size_t>(n);
  }
}

std::string read_until(int fd, std::string_view end) {
  std::string got;
  char buf[4096];
  while (got.find(end) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("read failed");
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

int open_connection(std::uint16_t port, bool deflate) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string request =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (deflate)
    request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  request += "\r\n";
  write_all(fd, request);
  std::string response = read_until(fd, "\r\n\r\n");
  if (response.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("handshake refused");
  return fd;
}

// One masked 1 KiB binary message, uncompressed, and its echo (which may
// come back compressed, so its length is read from its header).
void echo_once(int fd) {
  std::string payload(1024, 'x');
  std::string frame("\x82\xfe\x04\x00\x00\x00\x00\x00", 8);  // zero mask
  write_all(fd, frame + payload);
  std::string got;
  char buf[4096];
  while (true) {
    websockets::frame_header h;
    const std::size_t header = websockets::parse_frame_header(std::as_bytes(std::span(got)), h);
    if (header != 0 && got.size() >= header + h.length) return;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("echo failed");
    got.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int connections = 2000;
  bool deflate = false, echo = false, leak = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--connections" && i + 1 < argc)
      connections = std::stoi(argv[++i]);
    else if (a == "--deflate")
      deflate = true;
    else if (a == "--echo")
      echo = true;
    else if (a == "--exit-without-cleanup")
      leak = true;  // for heaptrack: live = "leaked"
    else {
      std::fprintf(stderr, "usage: %s [--connections N] [--deflate] [--echo]\n", argv[0]);
      return 2;
    }
  }
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (static_cast<rlim_t>(connections) * 2 + 64 > lim.rlim_cur) {
    connections = static_cast<int>((lim.rlim_cur - 64) / 2);
    std::fprintf(stderr, "limited to %d connections by RLIMIT_NOFILE\n", connections);
  }

  asio::io_context io(1);
  std::promise<std::uint16_t> port_promise;
  std::atomic<int> open{0};
  websockets::server_options options;
  options.ping_interval = std::nullopt;
  if (!deflate) options.compression = websockets::compression::none;
  std::optional<websockets::server> srv;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        srv.emplace(co_await websockets::serve(
            [&](websockets::server_connection& ws) -> asio::awaitable<void> {
              ++open;
              while (auto m = co_await ws.next()) co_await ws.send(*m);
              --open;
            },
            "127.0.0.1", 0, options));
        port_promise.set_value(srv->endpoints().front().port());
      },
      asio::detached);
  std::thread server_thread([&] { io.run(); });
  const std::uint16_t port = port_promise.get_future().get();

  // Warm up allocator caches and lazily created services with a few
  // connections, then measure from a steady base.
  std::vector<int> fds;
  for (int i = 0; i < 16; ++i) fds.push_back(open_connection(port, deflate));
  if (echo)
    for (int fd : fds) echo_once(fd);
  while (open.load() < 16) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::size_t before = heap_in_use();
  for (int i = 0; i < connections; ++i) fds.push_back(open_connection(port, deflate));
  while (open.load() < connections + 16) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::size_t after_open = heap_in_use();
  std::size_t after_echo = after_open;
  if (echo) {
    for (std::size_t i = 16; i < fds.size(); ++i) echo_once(fds[i]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    after_echo = heap_in_use();
  }
  std::printf("connections %d, compression %s: heap per idle connection %.0f B open", connections,
              deflate ? "deflate" : "none", static_cast<double>(after_open - before) / connections);
  if (echo)
    std::printf(", %.0f B after one 1 KiB echo each",
                static_cast<double>(after_echo - before) / connections);
  std::printf("\n");

  if (leak) std::quick_exit(0);
  for (int fd : fds) ::close(fd);
  asio::post(io, [&] { srv->close(); });
  io.stop();
  server_thread.join();
  return 0;
}
