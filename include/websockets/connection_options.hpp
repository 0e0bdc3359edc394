// The settings of one connection once it is open: keepalive, timeouts and
// limits (the reference's WebSocketCommonProtocol arguments). server_options
// and client_options carry the same fields, flat, so that designated
// initializers work on them.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace websockets {

using duration = std::chrono::steady_clock::duration;

// The defaults of the connection's settings, written once: the fields of
// connection_options, server_options and client_options all start from
// these (options.hpp checks that the three structs agree).
namespace connection_defaults {
inline constexpr std::optional<duration> ping_interval = std::chrono::seconds(20);
inline constexpr std::optional<duration> ping_timeout = std::chrono::seconds(20);
inline constexpr std::optional<duration> close_timeout = std::chrono::seconds(10);
inline constexpr std::optional<std::size_t> max_size = std::size_t{1} << 20;
inline constexpr std::size_t max_queue = 32;
inline constexpr std::size_t read_limit = 64 * 1024;
inline constexpr std::size_t write_limit = 64 * 1024;
}  // namespace connection_defaults

struct connection_options {
  // A ping every ping_interval keeps the connection alive through proxies
  // and detects a dead peer; std::nullopt disables keepalive pings.
  std::optional<duration> ping_interval = connection_defaults::ping_interval;
  // When the pong to a keepalive ping doesn't arrive within ping_timeout,
  // the connection is closed with 1011; std::nullopt: never time out.
  std::optional<duration> ping_timeout = connection_defaults::ping_timeout;
  // How long each step of the closing handshake may take. close() returns
  // within 4 × close_timeout on a server and 5 × on a client. It also bounds
  // how long a peer's protocol violation waits for the application to take
  // the messages that came before it.
  std::optional<duration> close_timeout = connection_defaults::close_timeout;
  // The largest message accepted, in bytes; a bigger one closes the
  // connection with 1009. std::nullopt: no limit.
  std::optional<std::size_t> max_size = connection_defaults::max_size;
  // How many received messages may wait for recv(); when that many wait,
  // the connection stops reading and TCP pushes back on the sender.
  // 0: no limit.
  std::size_t max_queue = connection_defaults::max_queue;
  // High-water mark of the receive buffer, in bytes: no more than this is
  // read ahead of the parser.
  std::size_t read_limit = connection_defaults::read_limit;
  // High-water mark of the send buffer: once this many bytes wait to be
  // written, send() waits until they drain to a quarter of it.
  std::size_t write_limit = connection_defaults::write_limit;
};

}  // namespace websockets
