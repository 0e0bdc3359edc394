// any_stream: one stream type for plain TCP, TLS over TCP and Unix sockets,
// chosen at run time, so that server_connection and client_connection are
// one type whatever the URI or the listening socket.
//
// It is an Asio AsyncReadStream and AsyncWriteStream with any completion
// token, and it offers what basic_websocket looks for in a socket: close,
// half-close, endpoints, and for TCP and Unix sockets the wait-for-readable
// path that lets an idle connection hold no read buffer.
//
// Closing TLS cleanly: shutdown(shutdown_send) sends TLS's close_notify
// before TCP's FIN, and close() answers a close_notify received from the
// peer. Both write the alert without blocking and without waiting for the
// peer's alert, so they never delay the closing handshake; if the socket
// can't take the few bytes at once, the alert is skipped.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <cstddef>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#ifdef WEBSOCKETS_WITH_OPENSSL
#include <asio/ssl/stream.hpp>
#endif

namespace websockets {

class any_stream {
 public:
  using executor_type = asio::any_io_executor;
  using tcp_socket = asio::ip::tcp::socket;
  using local_socket = asio::local::stream_protocol::socket;
#ifdef WEBSOCKETS_WITH_OPENSSL
  using tls_stream = asio::ssl::stream<tcp_socket>;
#endif
  // Endpoints are TCP endpoints; a Unix socket reports default ones.
  using endpoint_type = asio::ip::tcp::endpoint;

  // Which transport is inside.
  enum class kind { tcp, tls, local };

 private:
#ifdef WEBSOCKETS_WITH_OPENSSL
  using tls_box = std::unique_ptr<tls_stream>;
#endif

  // Calls `f` with the stream inside: a socket, or the TLS stream.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(
        [&](auto& s) -> decltype(auto) {
#ifdef WEBSOCKETS_WITH_OPENSSL
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, tls_box>)
            return f(*s);
          else
#endif
            return f(s);
        },
        stream_);
  }

 public:
  explicit any_stream(tcp_socket socket) : stream_(std::move(socket)) {}
  explicit any_stream(local_socket socket) : stream_(std::move(socket)) {}
#ifdef WEBSOCKETS_WITH_OPENSSL
  // Takes a TLS stream, before or after its handshake. It is kept on the
  // heap, so that plain connections don't carry its size.
  explicit any_stream(tls_stream stream)
      : stream_(std::make_unique<tls_stream>(std::move(stream))) {}
#endif

  any_stream(any_stream&&) noexcept = default;
  any_stream& operator=(any_stream&&) noexcept = default;

  executor_type get_executor() noexcept {
    return visit([](auto& s) -> executor_type { return s.get_executor(); });
  }

  kind type() const noexcept {
    if (std::holds_alternative<tcp_socket>(stream_)) return kind::tcp;
    if (std::holds_alternative<local_socket>(stream_)) return kind::local;
    return kind::tls;
  }
  bool is_tls() const noexcept {
    return type() == kind::tls;
  }

  // The TCP socket of a TCP or TLS stream; nullptr for a Unix socket.
  tcp_socket* tcp() noexcept {
    if (auto* s = std::get_if<tcp_socket>(&stream_)) return s;
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (auto* t = tls()) return &t->next_layer();
#endif
    return nullptr;
  }
  // The Unix socket, or nullptr.
  local_socket* local() noexcept {
    return std::get_if<local_socket>(&stream_);
  }
#ifdef WEBSOCKETS_WITH_OPENSSL
  // The TLS stream, or nullptr.
  tls_stream* tls() noexcept {
    auto* box = std::get_if<tls_box>(&stream_);
    return box ? box->get() : nullptr;
  }
#endif

  // ---- Reading and writing ----------------------------------------------

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          this->visit([&](auto& s) { s.async_read_some(b, std::move(handler)); });
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          this->visit([&](auto& s) { s.async_write_some(b, std::move(handler)); });
        },
        token, buffers);
  }

  // ---- Reading and writing without an operation (TCP and Unix) ----------

  // Whether async_wait(wait_read) + read_some work: not over TLS, where
  // readable bytes on the socket aren't application data.
  bool can_wait_read() const noexcept {
    return !is_tls();
  }

  // Waits until the socket is readable; over TLS, fails with
  // operation_not_supported.
  template <class Token>
  auto async_wait(asio::socket_base::wait_type what, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this, what](auto handler) {
          if (auto* s = plain_tcp()) return s->async_wait(what, std::move(handler));
          if (auto* s = local()) return s->async_wait(what, std::move(handler));
          auto ex = asio::get_associated_executor(handler, get_executor());
          asio::post(ex, [h = std::move(handler)]() mutable {
            std::move(h)(std::error_code(asio::error::operation_not_supported));
          });
        },
        token);
  }

  void non_blocking(bool mode, std::error_code& ec) {
    if (auto* s = plain_tcp()) return void(s->non_blocking(mode, ec));
    if (auto* s = local()) return void(s->non_blocking(mode, ec));
    ec = asio::error::operation_not_supported;
  }

  // Reads what is there now (TCP and Unix); over TLS, fails with
  // operation_not_supported.
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, std::error_code& ec) {
    if (auto* s = plain_tcp()) return s->read_some(buffers, ec);
    if (auto* s = local()) return s->read_some(buffers, ec);
    ec = asio::error::operation_not_supported;
    return 0;
  }

  // Writes what the socket takes now (TCP and Unix); over TLS, fails with
  // operation_not_supported.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, std::error_code& ec) {
    if (auto* s = plain_tcp()) return s->write_some(buffers, ec);
    if (auto* s = local()) return s->write_some(buffers, ec);
    ec = asio::error::operation_not_supported;
    return 0;
  }

  // ---- Closing ----------------------------------------------------------
  // These accept a moved-from any_stream, which is closed.

  bool is_open() const noexcept {
    if (const auto* s = lowest()) return s->is_open();
    if (const auto* s = std::get_if<local_socket>(&stream_)) return s->is_open();
    return false;
  }

  // Half-closes: shutdown_send sends FIN (after close_notify over TLS), so
  // the peer reads end of stream and may still send.
  void shutdown(asio::socket_base::shutdown_type what, std::error_code& ec) {
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (auto* t = tls(); t && what != asio::socket_base::shutdown_receive) send_close_notify(*t);
#endif
    if (auto* s = tcp()) return void(s->shutdown(what, ec));
    if (auto* s = local()) return void(s->shutdown(what, ec));
    ec = asio::error::bad_descriptor;
  }

  // Closes the socket; pending operations complete with operation_aborted.
  void close(std::error_code& ec) {
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (auto* t = tls()) answer_close_notify(*t);
#endif
    if (auto* s = tcp()) return void(s->close(ec));
    if (auto* s = local()) return void(s->close(ec));
  }
  void close() {
    std::error_code ec;
    close(ec);
  }

  // ---- Endpoints --------------------------------------------------------

  endpoint_type local_endpoint(std::error_code& ec) const {
    if (const auto* s = lowest()) return s->local_endpoint(ec);
    ec = asio::error::operation_not_supported;
    return {};
  }
  endpoint_type remote_endpoint(std::error_code& ec) const {
    if (const auto* s = lowest()) return s->remote_endpoint(ec);
    ec = asio::error::operation_not_supported;
    return {};
  }

 private:
  // A plain TCP socket (not under TLS), or nullptr.
  tcp_socket* plain_tcp() noexcept {
    return std::get_if<tcp_socket>(&stream_);
  }

  // The TCP socket of a TCP or TLS stream, or nullptr.
  const tcp_socket* lowest() const noexcept {
    if (const auto* s = std::get_if<tcp_socket>(&stream_)) return s;
#ifdef WEBSOCKETS_WITH_OPENSSL
    if (const auto* box = std::get_if<tls_box>(&stream_); box && *box) return &(*box)->next_layer();
#endif
    return nullptr;
  }

#ifdef WEBSOCKETS_WITH_OPENSSL
  // Writes close_notify now if the socket takes it without blocking. The
  // peer's alert isn't awaited: marking it as received makes OpenSSL's
  // shutdown complete after the write, and any later read report the end
  // of the stream, which is all a closing connection still reads for.
  static void send_close_notify(tls_stream& t) {
    SSL* ssl = t.native_handle();
    if (!t.next_layer().is_open() || !SSL_is_init_finished(ssl)) return;
    if (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) return;
    SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
    std::error_code ec;
    t.next_layer().non_blocking(true, ec);  // never block the caller's thread
    if (!ec) t.shutdown(ec);
  }

  // The peer sent close_notify and this side hasn't: answer it.
  static void answer_close_notify(tls_stream& t) {
    SSL* ssl = t.native_handle();
    if (!t.next_layer().is_open() || !SSL_is_init_finished(ssl)) return;
    const int state = SSL_get_shutdown(ssl);
    if ((state & SSL_RECEIVED_SHUTDOWN) && !(state & SSL_SENT_SHUTDOWN)) send_close_notify(t);
  }

  std::variant<tcp_socket, local_socket, tls_box> stream_;
#else
  std::variant<tcp_socket, local_socket> stream_;
#endif
};

}  // namespace websockets
