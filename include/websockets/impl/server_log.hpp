// The server's log lines for a connection that failed: how loud, and what
// they say, with the peer's address and (for a handler) the path.
#pragma once

#include <exception>
#include <string>
#include <system_error>

#include "websockets/exceptions.hpp"
#include "websockets/options.hpp"

namespace websockets::detail {

struct log_line {
  log_level level;
  std::string text;
  // For a handshake: the client got an HTTP refusal (so the server lingers
  // before closing, letting the client read it).
  bool refused = false;
};

// Why the opening handshake with `peer` failed.
inline log_line describe_handshake_failure(const std::string& peer, bool timed_out,
                                           const std::exception_ptr& failure) {
  if (timed_out) return {log_level::info, "opening handshake with " + peer + " timed out"};
  try {
    std::rethrow_exception(failure);
  } catch (const cancel_handshake&) {
    return {log_level::debug, peer + " closed the connection before sending a request"};
  } catch (const abort_handshake& e) {
    return {log_level::debug, "answered " + peer + " with HTTP " + std::to_string(e.status()),
            true};
  } catch (const invalid_handshake& e) {
    return {log_level::info, "refused connection from " + peer + ": " + e.what(), true};
  } catch (const std::system_error& e) {
    return {log_level::info, "connection from " + peer + " failed: " + e.what()};
  } catch (const std::exception& e) {
    return {log_level::error, "opening handshake with " + peer + " failed: " + e.what(), true};
  } catch (...) {
    return {log_level::error, "opening handshake with " + peer + " failed", true};
  }
}

// Why the handler of `peer`'s connection to `path` ended with an exception.
inline log_line describe_handler_failure(const std::string& peer, const std::string& path,
                                         const std::exception_ptr& failure) {
  const std::string where = "connection handler for " + peer + " " + path;
  try {
    std::rethrow_exception(failure);
  } catch (const connection_closed& e) {
    return {log_level::info, where + " ended: " + e.what()};
  } catch (const std::exception& e) {
    return {log_level::error, where + " failed: " + e.what()};
  } catch (...) {
    return {log_level::error, where + " failed with an unknown exception"};
  }
}

}  // namespace websockets::detail
