// A server's listening sockets: the TCP acceptors of every address it
// binds, or the acceptor of its Unix socket, with the endpoints they are
// bound to. Set up before the server starts; closed when it closes.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/local/stream_protocol.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "websockets/impl/endpoint.hpp"

namespace websockets::detail {

class server_acceptors {
 public:
  void add(asio::ip::tcp::acceptor acceptor) {
    endpoints_.push_back(acceptor.local_endpoint());
    tcp_.push_back(std::move(acceptor));
  }

  // The acceptor of the Unix socket at `path`; the socket file's identity is
  // kept so that close() removes only the file this server made.
  void set_local(asio::local::stream_protocol::acceptor acceptor, std::string path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      local_device_ = st.st_dev;
      local_inode_ = st.st_ino;
    }
    local_path_ = std::move(path);
    local_.emplace(std::move(acceptor));
  }

  std::vector<asio::ip::tcp::acceptor>& tcp() noexcept { return tcp_; }
  asio::local::stream_protocol::acceptor* local() noexcept { return local_ ? &*local_ : nullptr; }
  const std::string& local_path() const noexcept { return local_path_; }
  const std::vector<asio::ip::tcp::endpoint>& endpoints() const noexcept { return endpoints_; }

  void close() {
    std::error_code ec;
    for (auto& a : tcp_) a.close(ec);
    if (local_) {
      local_->close(ec);
      // Remove the socket file, unless another server has replaced it.
      struct stat st {};
      if (::stat(local_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
          st.st_dev == local_device_ && st.st_ino == local_inode_)
        ::unlink(local_path_.c_str());
    }
  }

 private:
  std::vector<asio::ip::tcp::acceptor> tcp_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  std::optional<asio::local::stream_protocol::acceptor> local_;
  std::string local_path_;
  dev_t local_device_ = 0;
  ino_t local_inode_ = 0;
};

// Opens, binds and listens on one TCP acceptor.
inline asio::ip::tcp::acceptor listen_on(const asio::any_io_executor& io,
                                         const asio::ip::tcp::endpoint& endpoint,
                                         std::error_code& ec) {
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return acceptor;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // Each address family gets its own socket, so "::" doesn't take IPv4 too.
  if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  ec.clear();
  acceptor.bind(endpoint, ec);
  if (ec) return acceptor;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return acceptor;
}

// Binds every address `host` resolves to, all on the same port: with port
// 0, on the one the system picks for the first.
inline void bind_all(server_acceptors& acceptors, const asio::any_io_executor& io,
                     const std::vector<asio::ip::tcp::endpoint>& addresses, std::string_view host,
                     std::uint16_t port) {
  for (int attempt = 0;; ++attempt) {
    std::vector<asio::ip::tcp::acceptor> bound;
    std::uint16_t chosen = port;
    std::error_code last;
    bool retry = false;
    for (const auto& address : addresses) {
      const asio::ip::tcp::endpoint endpoint(address.address(), chosen);
      std::error_code ec;
      auto acceptor = listen_on(io, endpoint, ec);
      if (!ec) {
        if (chosen == 0) chosen = acceptor.local_endpoint().port();
        bound.push_back(std::move(acceptor));
        continue;
      }
      // The port the system gave the first address is taken on another.
      if (port == 0 && ec == asio::error::address_in_use && attempt < 8) {
        retry = true;
        break;
      }
      // An address family the host doesn't have, among several addresses.
      if (addresses.size() > 1 && (ec == asio::error::address_family_not_supported ||
                                   ec == std::errc::address_not_available)) {
        last = ec;
        continue;
      }
      throw std::system_error(ec, "can't listen on " + describe_endpoint(endpoint));
    }
    if (retry) continue;
    if (bound.empty())
      throw std::system_error(last ? last : make_error_code(asio::error::host_not_found),
                              "can't listen on " + std::string(host) + ":" + std::to_string(port));
    for (auto& a : bound) acceptors.add(std::move(a));
    return;
  }
}

// Listens on the Unix socket at `path`, replacing a stale socket file there.
inline void bind_unix(server_acceptors& acceptors, const asio::any_io_executor& io,
                      std::string path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  asio::local::stream_protocol::acceptor acceptor(io);
  std::error_code ec;
  acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "can't listen on unix socket " + path);
  acceptors.set_local(std::move(acceptor), std::move(path));
}

}  // namespace websockets::detail
