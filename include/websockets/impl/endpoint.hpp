// How the server's log lines and the client's error messages name the
// other end: "example.com:443", "127.0.0.1:8765", "[::1]:8765".
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace websockets::detail {

// `host`, in brackets when it is an IPv6 address, then the port.
inline std::string host_and_port(std::string_view host, std::uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

inline std::string describe_endpoint(const asio::ip::tcp::endpoint& ep) {
  return host_and_port(ep.address().to_string(), ep.port());
}

}  // namespace websockets::detail
