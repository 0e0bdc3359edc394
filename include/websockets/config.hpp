// Checks that Asio was configured with co_await support, before any of our
// code names asio::awaitable. Included by the headers every other header
// using asio::awaitable goes through (http_io.hpp, options.hpp,
// websocket.hpp).
//
// Asio 1.22 enables co_await for clang only when <experimental/coroutine>
// exists, which libstdc++ doesn't have: with clang and libstdc++ it has to
// be told. The CMake target websockets::websockets defines both macros
// with clang; a build by hand must define them before including Asio.
// Without this check the first use of asio::awaitable gives a wall of
// template errors instead.
#pragma once

#include <asio/detail/config.hpp>

#if !defined(ASIO_HAS_CO_AWAIT) || !defined(ASIO_HAS_STD_COROUTINE)
#error \
    "websockets: Asio has no co_await support with this compiler and library. Define ASIO_HAS_CO_AWAIT and ASIO_HAS_STD_COROUTINE (-DASIO_HAS_CO_AWAIT -DASIO_HAS_STD_COROUTINE) before including Asio, as the CMake target websockets::websockets does with clang."
// A missing include is fatal: the compiler stops here, after the message.
#include <websockets-stops-here-see-the-error-above>
#endif
