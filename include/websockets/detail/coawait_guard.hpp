// The g++ < 13 guard of the public entry points (serve, unix_serve, run,
// connect, unix_connect, and whatever takes options or a handler later).
//
// g++ 12 destroys an aggregate temporary built inside a co_await expression
// twice (a braced options struct, a default argument of aggregate type, a
// lambda whose by-value captures aren't trivially destructible): the heap
// is corrupted at run time, with no warning. So on that compiler only, an
// entry point rejects at compile time the arguments that can be such a
// temporary, with a message saying what to write instead:
//   - options that aren't an lvalue (a braced list, a temporary, and
//     std::move(options) too: an xvalue can't be told from a prvalue);
//   - a handler that isn't an lvalue, unless it is trivially destructible
//     (a captureless lambda, a function pointer, std::ref(handler)).
// Named options and handlers, the overloads without options, and lambdas
// capturing by reference keep compiling. Other compilers reject nothing.
//
// Asio-free, so that every entry point can include it. Usage, in an entry
// point taking `Handler&& handler` and, in its rvalue overload,
// `Options&& options` (Options defaulted to the options type, so that a
// braced list binds to it):
//   static_assert(detail::coawait_handler_ok<Handler>, WEBSOCKETS_COAWAIT_HANDLER_MESSAGE);
//   static_assert(detail::coawait_rvalue_options_ok<Options>, WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE);
#pragma once

#include <type_traits>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#define WEBSOCKETS_COAWAIT_GUARD 1
#else
#define WEBSOCKETS_COAWAIT_GUARD 0
#endif

// The messages, one place for every entry point; they name the variable to
// declare because that is the fix.
#define WEBSOCKETS_COAWAIT_OPTIONS_MESSAGE                                                    \
  "websockets: g++ < 13 destroys options built inside co_await twice (heap corruption). "     \
  "Declare the options in a variable first, e.g. `websockets::server_options options{...};` " \
  "(or client_options), and pass the variable itself: not a braced list, not a temporary, "   \
  "not std::move(options)."
#define WEBSOCKETS_COAWAIT_HANDLER_MESSAGE                                                    \
  "websockets: g++ < 13 destroys a lambda's by-value captures twice when it is built inside " \
  "co_await (heap corruption). Declare the handler in a variable first, e.g. "                \
  "`auto handler = [...](...) -> asio::awaitable<void> {...};`, and pass the variable "       \
  "(or std::ref(handler) for a move-only one, which must then outlive the server)."

namespace websockets::detail {

inline constexpr bool coawait_guard = WEBSOCKETS_COAWAIT_GUARD != 0;

// Whether options passed as an rvalue are accepted. A template, so that the
// static_assert fires only in the overload actually called.
template <class Options>
inline constexpr bool coawait_rvalue_options_ok = !coawait_guard;

// Whether a handler passed as `Handler&&` (Handler as deduced) is accepted:
// an lvalue is bound by reference, never a temporary in the co_await
// expression; destroying a trivially destructible one twice is harmless.
template <class Handler>
inline constexpr bool coawait_handler_ok =
    !coawait_guard || std::is_lvalue_reference_v<Handler> ||
    std::is_trivially_destructible_v<std::remove_cvref_t<Handler>>;

}  // namespace websockets::detail
