// Plain TCP on 127.0.0.1 for the driver: non-blocking sockets driven by
// poll() with a deadline on every wait, writes that keep reading while they
// wait (so a peer echoing a large message can't deadlock the driver), and
// writes chopped into pieces of any size down to one byte per send().
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace websockets::conformance {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How a read or a write ended.
enum class io_status {
  ok,       // data moved
  eof,      // the peer closed its side in order (FIN)
  reset,    // the connection was reset or broken (RST, EPIPE)
  timeout,  // the deadline passed first
};

inline const char* to_string(io_status s) {
  switch (s) {
    case io_status::ok:
      return "ok";
    case io_status::eof:
      return "end of stream";
    case io_status::reset:
      return "connection reset";
    case io_status::timeout:
      return "timeout";
  }
  return "?";
}

// One connected socket.
class tcp_connection {
 public:
  tcp_connection() = default;
  explicit tcp_connection(int fd) : fd_(fd) { prepare(fd_); }
  tcp_connection(tcp_connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  tcp_connection& operator=(tcp_connection&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~tcp_connection() { close(); }

  // Connects to 127.0.0.1:`port`; throws std::system_error on failure.
  static tcp_connection connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      ::close(fd);
      throw std::system_error(e, std::generic_category(),
                              "connect to 127.0.0.1:" + std::to_string(port));
    }
    return tcp_connection(fd);
  }

  bool is_open() const noexcept { return fd_ >= 0; }

  // Writes all of `data`, in pieces of `chop` bytes each sent by its own
  // send() (0: as few calls as the kernel takes). While the socket can't
  // take more, whatever arrives is appended to `received`.
  io_status write(std::string_view data, std::string& received, clock::time_point deadline,
                  std::size_t chop = 0) {
    bool peer_done = false;  // nothing more to read: wait for room only
    while (!data.empty()) {
      const std::size_t piece = chop ? std::min(chop, data.size()) : data.size();
      const ssize_t n = ::send(fd_, data.data(), piece, MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return io_status::reset;
      // Full: wait for room, reading meanwhile.
      pollfd p{fd_, static_cast<short>(peer_done ? POLLOUT : POLLOUT | POLLIN), 0};
      const int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) return io_status::timeout;
      if (rc < 0 && errno != EINTR) return io_status::reset;
      if (!peer_done && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
        const io_status s = read_available(received);
        if (s == io_status::reset) return s;
        // A half-closed peer may still read: go on until send() fails.
        peer_done = s == io_status::eof;
      }
    }
    return io_status::ok;
  }

  // Waits until data arrives (appended to `received`), the peer closes, or
  // the deadline passes.
  io_status read(std::string& received, clock::time_point deadline) {
    for (;;) {
      const io_status s = read_available(received);
      if (s != io_status::timeout) return s;
      pollfd p{fd_, POLLIN, 0};
      const int ms = remaining_ms(deadline);
      const int rc = ::poll(&p, 1, ms);
      if (rc == 0) return io_status::timeout;
      if (rc < 0 && errno != EINTR) return io_status::reset;
    }
  }

  // Sends FIN: the peer reads the end of the stream, and may still write.
  void shutdown_write() noexcept {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  }

  void close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  static void prepare(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    // Chopped writes must leave as separate segments.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  static int remaining_ms(clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
  }

  // Appends what is readable now: ok if anything came, timeout if nothing
  // was there, eof or reset if the stream ended (after any data).
  io_status read_available(std::string& received) {
    bool any = false;
    for (;;) {
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received.append(buf, static_cast<std::size_t>(n));
        any = true;
        continue;
      }
      if (n == 0) return any ? io_status::ok : io_status::eof;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return any ? io_status::ok : io_status::timeout;
      return any ? io_status::ok : io_status::reset;
    }
  }

  int fd_ = -1;
};

// A listening socket on 127.0.0.1 with a port the kernel picks.
class tcp_listener {
 public:
  tcp_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      const int e = errno;
      ::close(fd_);
      throw std::system_error(e, std::generic_category(), "listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
  }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener() { ::close(fd_); }

  std::uint16_t port() const noexcept { return port_; }

  // The next connection; throws std::runtime_error if none comes in time.
  tcp_connection accept(clock::time_point deadline) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
      const int rc = ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 60'000)));
      if (rc == 0) throw std::runtime_error("no connection to accept in time");
      if (rc < 0 && errno == EINTR) continue;
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) return tcp_connection(fd);
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
        throw std::system_error(errno, std::generic_category(), "accept");
    }
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace websockets::conformance
