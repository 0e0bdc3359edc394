// Which executor a connection, a handshake or a server's tasks run on: a
// strand when several threads run the io_context, the io_context's own
// executor when one thread runs everything (then no strand is needed).
// The server and the client both choose with these.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <type_traits>

namespace websockets::detail {

// Whether only one thread runs `ex`'s execution context: an io_context
// made with a concurrency hint of 1 (asio::io_context ctx{1}) promises so,
// and then a connection needs no strand.
inline bool single_threaded(asio::io_context& io) {
  const int hint = asio::use_service<asio::detail::scheduler>(io).concurrency_hint();
  return hint == 1 || !ASIO_CONCURRENCY_HINT_IS_LOCKING(SCHEDULER, hint);
}

template <class Executor>
bool single_threaded(const Executor& ex) {
  if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
    if (auto* io = ex.template target<asio::io_context::executor_type>())
      return single_threaded(io->context());
    return false;
  } else if constexpr (requires { static_cast<asio::io_context&>(ex.context()); }) {
    return single_threaded(static_cast<asio::io_context&>(ex.context()));
  } else {
    return false;
  }
}

// An executor whose handlers never run at once: a new strand on `io`, or
// `io` itself when one thread runs it.
inline asio::any_io_executor serial_executor(const asio::any_io_executor& io) {
  if (single_threaded(io)) return io;
  return asio::make_strand(io);
}

// The executor under `ex` when `ex` is a strand, so that what is started
// from a coroutine on a strand (a server's connections) doesn't all share
// that one strand.
inline asio::any_io_executor base_executor(const asio::any_io_executor& ex) {
  if (auto* s = ex.target<asio::strand<asio::io_context::executor_type>>())
    return s->get_inner_executor();
  if (auto* s = ex.target<asio::strand<asio::any_io_executor>>())
    return base_executor(s->get_inner_executor());
  return ex;
}

}  // namespace websockets::detail
