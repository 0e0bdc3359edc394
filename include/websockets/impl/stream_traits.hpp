// What the connection needs from a stream beyond reading and writing:
// closing it, half-closing it, its endpoints, and, for sockets, waiting
// until it is readable without holding a buffer. Each works on Asio sockets,
// on streams layered over one (asio::ssl::stream), and on any stream that
// offers the same member functions (websockets::test_stream, any_stream).
#pragma once

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/socket_base.hpp>
#include <system_error>
#include <utility>
#include <vector>

namespace websockets::detail {

template <class S>
concept has_shutdown = requires(S& s, std::error_code& ec) {
  s.shutdown(asio::socket_base::shutdown_send, ec);
};

template <class S>
concept has_close = requires(S& s, std::error_code& ec) {
  s.close(ec);
};

template <class S>
concept has_lowest_layer = requires(S& s) {
  s.lowest_layer();
};

template <class S>
concept has_local_endpoint = requires(S& s, std::error_code& ec) {
  s.local_endpoint(ec);
};

// Sockets can report readability, so an idle connection needs no buffer.
template <class S>
concept has_wait_read = requires(S& s, std::error_code& ec) {
  s.non_blocking(true, ec);
  s.async_wait(asio::socket_base::wait_read, [](std::error_code) {});
};

// Sockets can also be written without an asynchronous operation.
template <class S>
concept has_write_some = requires(S& s, std::error_code& ec) {
  s.write_some(std::vector<asio::const_buffer>{}, ec);
};

// Whether waiting for readability works on this stream now: a stream that
// wraps several kinds (any_stream) says so with can_wait_read().
template <class Stream>
bool can_wait_read(Stream& s) {
  if constexpr (requires { s.can_wait_read(); }) {
    return s.can_wait_read();
  } else {
    return has_wait_read<Stream>;
  }
}

// Sends FIN (or the stream's equivalent): the peer reads EOF, and may still
// send until it closes its end.
template <class Stream>
void shutdown_send(Stream& s) {
  std::error_code ec;
  if constexpr (has_shutdown<Stream>) {
    s.shutdown(asio::socket_base::shutdown_send, ec);
  } else if constexpr (has_lowest_layer<Stream>) {
    s.lowest_layer().shutdown(asio::socket_base::shutdown_send, ec);
  }
}

// Closes the stream; pending operations complete with operation_aborted.
template <class Stream>
void close_stream(Stream& s) {
  std::error_code ec;
  if constexpr (has_close<Stream>) {
    s.close(ec);
  } else if constexpr (has_lowest_layer<Stream>) {
    s.lowest_layer().close(ec);
  }
}

// The innermost layer that has endpoints, or nullptr-like failure: returns
// a default-constructed endpoint type when the stream has none.
template <class Stream>
auto local_endpoint(Stream& s) {
  std::error_code ec;
  if constexpr (has_local_endpoint<Stream>) {
    return s.local_endpoint(ec);
  } else if constexpr (has_lowest_layer<Stream>) {
    return s.lowest_layer().local_endpoint(ec);
  } else {
    return 0;
  }
}

template <class Stream>
auto remote_endpoint(Stream& s) {
  std::error_code ec;
  if constexpr (has_local_endpoint<Stream>) {
    return s.remote_endpoint(ec);
  } else if constexpr (has_lowest_layer<Stream>) {
    return s.lowest_layer().remote_endpoint(ec);
  } else {
    return 0;
  }
}

}  // namespace websockets::detail
